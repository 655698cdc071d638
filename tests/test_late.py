"""Late penalties: rule texts, counting started days/hours, grace, maximum, time zones and the course config."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from autograder.reporting import late

PARIS = ZoneInfo("Europe/Paris")
DUE = "2026-12-01T23:59:00+01:00"


def policy(rule, due=DUE, tz=None):
    return late.Policy.from_rule(due, rule, tz)


def at(due=DUE, **delta):
    return datetime.fromisoformat(due) + timedelta(**delta)


# --------------------------------------------------------------------------- rule texts


def spec(per_day, max_days=None, grace_minutes=0.0, after_max="zero", unit="day"):
    return dict(per_day=per_day, max_days=max_days, grace_minutes=grace_minutes, after_max=after_max, unit=unit)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-10% per day, max 3 days", spec(0.1, 3)),
        ("10 % per day", spec(0.1)),
        ("5% per hour, max 24 hours", spec(0.05, 24, unit="hour")),
        ("-10%/day max 3 days grace 15 min", spec(0.1, 3, 15.0)),
        ("10% per day, max 3 days, after max: cap", spec(0.1, 3, after_max="cap")),
        ("Grace 1 h; 20% a day; MAX 2", spec(0.2, 2, 60.0)),
        ("none", spec(0.0)),
    ],
)
def test_rules_read(text, expected):
    assert late.parse_rule(text) == expected


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "the rule is empty"),
        ("10%", "the rate needs a unit"),
        ("10% per week", "the rate needs a unit"),
        ("ten percent a day", "no rate such as '10% per day'"),
        ("10% per day max 3 hours", "the maximum is in hours but the rate is per day"),
        ("10% per day, max 2.5 days", "the maximum must be a whole number of days"),
        ("150% per day", "at most 100% per day"),
        ("10% per day, after max: nothing", "'after max' must be zero or cap, not 'nothing'"),
        ("10% per day, 5% per day", "the rate is given 2 times"),
        ("10% per day, max 3 days, bonus", "cannot read 'bonus'"),
    ],
)
def test_bad_rules_say_what_is_wrong_and_show_an_example(text, problem):
    with pytest.raises(late.LateRuleError) as error:
        late.parse_rule(text)
    message = str(error.value)
    assert problem in message
    assert f"late rule {text!r}" in message
    assert "write e.g. '-10% per day, max 3 days" in message and "'none'" in message
    # the example in every message is itself accepted
    example = message.split("write e.g. ")[1].split(" (or")[0].strip("'")
    assert late.parse_rule(example)["max_days"] == 3


# --------------------------------------------------------------------------- counting


def test_on_time_and_exactly_at_the_due_date():
    p = policy("-10% per day, max 3 days")
    assert p.assess(at(hours=-2)) == late.Assessment(0.0, 0.0, "on time")
    assert p.assess(at()) == late.Assessment(0.0, 0.0, "on time")


def test_within_grace_is_free_but_recorded():
    p = policy("-10%/day max 3 days grace 15 min")
    a = p.assess(at(minutes=15))
    assert (a.late_minutes, a.penalty) == (15.0, 0.0)
    assert "within the 15-minute grace period" in a.note


def test_one_minute_after_grace_is_one_day_late():
    p = policy("-10%/day max 3 days grace 15 min")
    a = p.assess(at(minutes=16))
    assert a.late_minutes == 16.0 and a.penalty == pytest.approx(0.1)
    assert "(1 day late): -10%" in a.note
    assert policy("-10% per day").assess(at(seconds=1)).penalty == pytest.approx(0.1)


def test_days_are_counted_from_the_due_date_not_from_the_end_of_grace():
    p = policy("-10%/day grace 15 min")
    assert p.assess(at(days=1, minutes=5)).penalty == pytest.approx(0.2)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_exactly_n_days_is_n_days_and_a_minute_more_is_n_plus_one(n):
    p = policy("-10% per day, max 5 days")
    assert p.assess(at(days=n)).penalty == pytest.approx(0.1 * n)
    assert p.assess(at(days=n, minutes=1)).penalty == pytest.approx(0.1 * (n + 1))
    assert p.assess(at(days=n)).late_minutes == 1440 * n


def test_beyond_the_maximum_zero_is_the_default():
    p = policy("-10% per day, max 3 days")
    assert p.assess(at(days=3)).penalty == pytest.approx(0.3)
    a = p.assess(at(days=3, minutes=1))
    assert a.penalty == 1.0 and "beyond the 3-day maximum: scored 0" in a.note


def test_beyond_the_maximum_cap_keeps_the_maximum_penalty():
    p = policy("-10% per day, max 3 days, after max: cap")
    a = p.assess(at(days=10))
    assert a.penalty == pytest.approx(0.3) and "penalty capped at 30%" in a.note


def test_without_a_maximum_the_penalty_stops_at_100_percent():
    p = policy("25% per day")
    assert p.assess(at(days=3)).penalty == pytest.approx(0.75)
    assert p.assess(at(days=9)).penalty == 1.0


def test_per_hour_rules_count_started_hours():
    p = policy("5% per hour, max 24 hours")
    assert p.assess(at(minutes=1)).penalty == pytest.approx(0.05)
    assert p.assess(at(hours=2)).penalty == pytest.approx(0.10)
    assert p.assess(at(hours=2, seconds=1)).penalty == pytest.approx(0.15)
    assert p.assess(at(hours=20)).penalty == 1.0  # 20 x 5 %
    assert p.assess(at(hours=25)).penalty == 1.0  # beyond 24 hours: zero
    assert "(3 hours late)" in p.assess(at(hours=3)).note


def test_rule_none_records_lateness_only():
    a = policy("none").assess(at(days=4))
    assert a.penalty == 0.0 and a.late_minutes == 4 * 1440 and "no late penalty" in a.note


def test_no_submission_time_means_no_penalty():
    assert policy("-10% per day").assess(None) == late.Assessment(0.0, 0.0, "no submission time: no late penalty")


def test_an_extended_due_date_counts_from_the_students_own_date():
    p = policy("-10% per day, max 3 days", tz="Europe/Paris")
    own = p.extended_to(at(days=2))
    assert (own.per_day, own.max_days, own.timezone) == (p.per_day, p.max_days, p.timezone)
    assert own.assess(at(days=2)).penalty == 0 and p.assess(at(days=2)).penalty == pytest.approx(0.2)
    a = own.assess(at(days=2, hours=1))
    assert a.penalty == pytest.approx(0.1) and a.note == "submitted 1 h after your extended due date (1 day late): -10%"
    assert p.clock(own.due) == "2026-12-03 23:59 CET"


# --------------------------------------------------------------------------- time zones


def test_due_in_plus_one_and_submission_in_utc():
    p = policy("-10% per day, max 3 days")  # due 23:59 at +01:00 = 22:59 UTC
    assert p.assess(datetime(2026, 12, 1, 22, 59, tzinfo=timezone.utc)).penalty == 0.0
    a = p.assess(datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc))
    assert a.late_minutes == 31.0 and a.penalty == pytest.approx(0.1)
    assert p.assess("2026-12-02T22:59:00Z").penalty == pytest.approx(0.1)
    assert p.assess("2026-12-02T23:00:00Z").penalty == pytest.approx(0.2)


def test_naive_times_are_in_the_configured_timezone():
    p = policy("-10% per day", due="2026-12-01T23:59", tz="America/New_York")
    assert p.due.utcoffset() == timedelta(hours=-5)
    assert p.assess("2026-12-01T23:59").penalty == 0.0
    assert p.assess(datetime(2026, 12, 2, 0, 30)).late_minutes == 31.0


def test_dst_change_does_not_add_or_remove_a_day():
    # Paris leaves summer time on 2026-10-25: that Sunday is 25 hours long.
    p = policy("-10% per day, max 3 days", due="2026-10-24T23:59", tz="Europe/Paris")
    a = p.assess("2026-10-25T23:59")
    assert a.late_minutes == 25 * 60  # real elapsed time
    assert a.penalty == pytest.approx(0.1) and "(1 day late)" in a.note
    assert p.assess("2026-10-26T00:00").penalty == pytest.approx(0.2)
    assert p.assess(datetime(2026, 10, 25, 22, 59, tzinfo=timezone.utc)).penalty == pytest.approx(0.1)
    # and enters it on 2026-03-29, a 23-hour day
    spring = policy("-10% per day", due="2026-03-28T23:59", tz="Europe/Paris")
    b = spring.assess(datetime(2026, 3, 29, 23, 59, tzinfo=PARIS))
    assert b.late_minutes == 23 * 60 and b.penalty == pytest.approx(0.1)
    assert spring.assess("2026-03-30T00:00").penalty == pytest.approx(0.2)


def test_hours_are_elapsed_hours_across_dst():
    p = policy("5% per hour", due="2026-10-25T01:30", tz="Europe/Paris")  # 01:30 CEST
    a = p.assess("2026-10-25T02:30+01:00")  # 02:30 CET, two real hours later
    assert a.late_minutes == 120.0 and a.penalty == pytest.approx(0.10)


# --------------------------------------------------------------------------- apply


def test_apply_takes_the_penalty_off_the_total_never_below_zero():
    assert late.apply(8, late.Assessment(30.0, 0.25, "")) == pytest.approx(6.0)
    assert late.apply(8, late.Assessment(0.0, 0.0, "on time")) == 8
    assert late.apply(8, late.Assessment(9e9, 1.0, "")) == 0.0
    assert late.apply(-1, late.Assessment(60.0, 0.1, "")) == 0.0
    assert late.apply(7.5, None) == 7.5


# --------------------------------------------------------------------------- config


def write(tmp_path, text):
    path = tmp_path / "course.ini"
    path.write_text(text)
    return path


def test_the_shipped_course_config_sets_no_due_date():
    assert late.DEFAULT_CONFIG.is_file()
    assert late.load_config() is None
    text = late.DEFAULT_CONFIG.read_text()
    assert "[late]" in text and "\ndue =\n" in text


def test_config_with_a_due_date(tmp_path):
    path = write(
        tmp_path,
        "# course\n[late]\ndue = 2026-12-01T23:59\nrule = -10% per day, max 3 days grace 15 min\ntimezone = Europe/Paris\n",
    )
    p = late.load_config(path)
    assert p.due == datetime(2026, 12, 1, 23, 59, tzinfo=PARIS)
    assert (p.per_day, p.max_days, p.grace_minutes, p.after_max) == (0.1, 3, 15.0, "zero")
    assert p.assess("2026-12-02T00:10").penalty == 0.0
    assert p.assess("2026-12-02T00:15").penalty == pytest.approx(0.1)


def test_config_after_max_key(tmp_path):
    p = late.load_config(write(tmp_path, f"[late]\ndue = {DUE}\nrule = 10% per day, max 2 days\nafter_max = cap\n"))
    assert p.after_max == "cap" and p.assess(at(days=5)).penalty == pytest.approx(0.2)


@pytest.mark.parametrize(
    "text",
    ["", "[other]\nx = 1\n", "[late]\n", "[late]\ndue =\nrule = 10% per day\n"],
)
def test_config_without_a_due_date_is_no_policy(tmp_path, text):
    assert late.load_config(write(tmp_path, text)) is None


@pytest.mark.parametrize(
    "body, message",
    [
        (f"due = {DUE}\n", "due is set but rule is empty"),
        (f"due = {DUE}\nrule = 10% per fortnight\n", "[late] rule: late rule '10% per fortnight': the rate needs a unit"),
        ("due = tomorrow\nrule = 10% per day\n", "[late] due: 'tomorrow' is not an ISO 8601 time"),
        (f"due = {DUE}\nrule = 10% per day\ntimezone = Mars/Olympus\n", "[late] timezone: unknown time zone 'Mars/Olympus'"),
        (f"due = {DUE}\nrule = 10% per day\nafter_max = maybe\n", "after_max: must be zero or cap"),
        (f"due = {DUE}\nrule = 10% per day, after max: zero\nafter_max = cap\n", "contradicts"),
        (f"due = {DUE}\nrule = 10% per day\ndeadline = x\n", "unknown key(s) deadline"),
    ],
)
def test_bad_config_names_the_key(tmp_path, body, message):
    path = write(tmp_path, "[late]\n" + body)
    with pytest.raises(late.LateConfigError) as error:
        late.load_config(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(late.LateConfigError, match="cannot read it"):
        late.load_config(tmp_path / "nope.ini")
