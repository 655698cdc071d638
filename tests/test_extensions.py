"""Extensions and the audit trail (issue 21, item 5): ``extensions.csv`` moves one student's due date, the late
rule counts from it, and every adjustment (extension, override, Formgrader score) is shown with its reason and
date in that student's feedback."""

import datetime as dt
import html as htmllib
import re

import pytest

from autograder.assignment import exercises
from autograder.grading.student_row import StudentRow
from autograder.records import ExerciseVerdict, PartVerdict
from autograder.reporting import extensions, feedback, grades_csv, late
from autograder.reporting.final_scores import finalize

DUE = dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)
FULL = sum(exercises.POINTS.values())


def _policy():
    return late.Policy.from_rule(DUE, "-10% per day, max 3 days", "UTC")


def _row(sid="ada", late_by=dt.timedelta(days=1, hours=1)):
    """Full marks on every exercise, handed in ``late_by`` after the course's due date."""
    verdicts = {e: ExerciseVerdict(p, p, [PartVerdict("values", p, p, True, "")]) for e, p in exercises.POINTS.items()}
    return StudentRow(sid, verdicts, submitted_at=(DUE + late_by).isoformat())


def _extensions(tmp_path, lines, header="student_id,due,extra_days,reason"):
    path = tmp_path / "extensions.csv"
    path.write_text(header + "\n" + "".join(f"{line}\n" for line in lines))
    return path


def _seen(page):
    """What a reader sees of a page: tags dropped, entities undone, spaces joined."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _csv_line(row):
    """The row's grades.csv line, by column."""
    required, bonus = exercises.REQUIRED, exercises.BONUS
    return dict(zip(grades_csv.header(required, bonus), grades_csv.cells(row, required, bonus)))


def test_an_extension_removes_the_late_penalty_and_the_feedback_says_so(tmp_path):
    path = _extensions(tmp_path, ["ada,2026-12-04T23:59:00+00:00,,illness (doctor's note)"])
    granted = extensions.load_extensions(path, _policy())
    without = finalize(_row(), exercises.REQUIRED, exercises.BONUS, {}, {}, _policy())
    assert without.final.late_penalty == pytest.approx(0.2)  # two days late by the course's due date
    row = finalize(_row(), exercises.REQUIRED, exercises.BONUS, {}, {}, _policy(), extensions=granted)
    assert row.final.late_penalty == 0 and row.final.total == pytest.approx(FULL)
    page = feedback.page(row, exercises.BONUS)
    assert "<h2>Adjustments</h2>" in page
    seen = _seen(page)
    assert "extension to 2026-12-04 23:59 UTC (illness (doctor's note)): submitted on time, no late penalty" in seen
    assert "Late penalty" not in seen
    line = _csv_line(row)
    assert "extension to 2026-12-04 23:59 UTC" in line["adjustments"] and line["late_penalty"] == "0"


def test_extra_days_reduce_the_penalty_when_the_hand_in_is_later_still(tmp_path):
    granted = extensions.load_extensions(_extensions(tmp_path, ["ada,,1,flu"]), _policy())
    row = _row(late_by=dt.timedelta(days=2, hours=1))  # three days late by the course's date, two by ada's
    finalize(row, exercises.REQUIRED, exercises.BONUS, {}, {}, _policy(), extensions=granted)
    assert row.final.late_penalty == pytest.approx(0.2) and row.final.total == pytest.approx(0.8 * FULL)
    seen = _seen(feedback.page(row, exercises.BONUS))
    assert "extension to 2026-12-02 23:59 UTC (flu): late penalty -20% instead of -30%" in seen
    assert "Late penalty: submitted 1 d 1 h after your extended due date (2 days late): -20%" in seen


def test_a_date_keeps_the_courses_time_and_days_are_calendar_days_across_daylight_saving(tmp_path):
    paris = late.Policy.from_rule("2026-10-24T23:59", "-10% per day", "Europe/Paris")  # the 25th is 25 hours long
    granted = extensions.load_extensions(_extensions(tmp_path, ["ada,,1,x", "bob,2026-10-26,,y"]), paris)
    assert granted["ada"].new_due(paris) == dt.datetime(2026, 10, 25, 23, 59, tzinfo=paris.timezone)
    assert granted["bob"].new_due(paris) == dt.datetime(2026, 10, 26, 23, 59, tzinfo=paris.timezone)
    assert paris.extended_to(granted["ada"].new_due(paris)).assess("2026-10-25T23:59").penalty == 0


@pytest.mark.parametrize(
    "line, said",
    [
        ("ada,,,ill", "line 3: give a new due date (due) or a number of extra days (extra_days)"),
        ("ada,2026-12-04T23:59,2,ill", "line 3: give a new due date (due) or extra days (extra_days), not both"),
        ("ada,next friday,,ill", "line 3: due 'next friday' is not an ISO 8601 date or time: write e.g. 2026-12-04T23:59"),
        ("ada,,-1,ill", "line 3: extra_days '-1' is not a number of days above 0: write e.g. 2"),
        ("ada,,two,ill", "line 3: extra_days 'two' is not a number of days above 0"),
        ("ada,,2,", "line 3: every extension needs a student_id and a reason"),
        ("ada,,2,ill, really", "line 3: 5 fields where the header has 4: a reason that holds a comma must be quoted"),
        ("ada,2026-11-30T12:00,,ill", "line 3: the new due date 2026-11-30 12:00 UTC is not after the course's 2026-12-01 23:59"),
    ],
)
def test_a_bad_line_is_refused_with_its_line_number_and_what_to_write(tmp_path, line, said):
    path = _extensions(tmp_path, ["bob,,1,fine", line])
    with pytest.raises(extensions.ExtensionsError) as error:
        extensions.load_extensions(path, _policy())
    assert said in str(error.value) and str(path) in str(error.value)


def test_a_bad_header_or_date_says_what_to_write(tmp_path):
    path = _extensions(tmp_path, ["ada,2,flu"], header="student,days,why")
    with pytest.raises(extensions.ExtensionsError, match="the header needs student_id, due and/or extra_days, reason"):
        extensions.load_extensions(path, _policy())
    path = _extensions(tmp_path, ["ada,,2,flu,yesterday"], header="student_id,due,extra_days,reason,date")
    with pytest.raises(extensions.ExtensionsError, match=r"line 2: date 'yesterday' is not a date such as 2026-12-03"):
        extensions.load_extensions(path, _policy())


def test_students_without_a_row_are_reported_not_refused(tmp_path):
    granted = extensions.load_extensions(_extensions(tmp_path, ["ada,,1,x", "zed,,1,y"]), _policy())
    assert extensions.unknown(granted, ["ada", "bob"]) == ["zed"]
    row = finalize(_row("bob"), exercises.REQUIRED, exercises.BONUS, {}, {}, _policy(), extensions=granted)
    assert row.final.late_penalty == pytest.approx(0.2) and not row.final.adjustments


def test_a_class_folder_holding_only_the_instructors_files_is_graded_into(tmp_path):
    from autograder.grading import class_folder

    out = tmp_path / "grading"
    out.mkdir()
    _extensions(out, ["ada,,1,flu"])
    (out / "overrides.csv").write_text("student_id,exercise,points,reason\n")
    assert class_folder.earlier_grading(out, replace=False) == ({}, {})
    (out / "notes.txt").write_text("x")  # anything else is still not a class folder: refused, never overwritten
    with pytest.raises(class_folder.GradeError, match="holds no report.json"):
        class_folder.earlier_grading(out, replace=False)


# --------------------------------------------------------------------------- the audit trail


def test_every_adjustment_shows_its_reason_and_date_and_the_date_is_stable_on_regrade(tmp_path):
    from autograder.reporting import audit, overrides

    (tmp_path / "overrides.csv").write_text(
        'student_id,exercise,points,reason,date\nada,extract,0.5,"copied, from bob",2026-11-20\nada,q_sample,1,regrade request,\n'
    )
    decided = overrides.read_overrides(tmp_path / "overrides.csv", exercises.POINTS)
    formgrader = {"ada": {"p_losses": (0.0, "score set by hand")}}
    granted = extensions.load_extensions(_extensions(tmp_path, ["ada,,3,illness"]), _policy())

    def graded(day):
        trail = audit.Trail.open(tmp_path, today=day)
        row = finalize(_row(), exercises.REQUIRED, exercises.BONUS, formgrader, decided, _policy(), granted, trail)
        trail.save()
        return row

    first = graded(dt.date(2026, 12, 5))
    seen = _seen(feedback.page(first, exercises.BONUS))
    assert "extract: 0.5 / 1 points instead of the hidden tests' 1 (overrides.csv: copied, from bob), on 2026-11-20" in seen
    assert "(overrides.csv: regrade request), on 2026-12-05" in seen
    assert "(Formgrader: score set by hand), on 2026-12-05" in seen
    assert "extension to 2026-12-04 23:59 UTC (illness): submitted on time, no late penalty" in seen
    again = graded(dt.date(2026, 12, 9))  # a regrade days later: each adjustment keeps the day it was first seen
    assert [a.date for a in again.final.adjustments] == [a.date for a in first.final.adjustments]
    assert {a.date for a in again.final.adjustments} == {"2026-11-20", "2026-12-05"}
    line = _csv_line(again)
    assert "(overrides.csv: copied, from bob), on 2026-11-20" in line["adjustments"] and "(illness)" in line["adjustments"]
    # a changed reason is a new decision with a new date; the old one stays on the record
    granted = extensions.load_extensions(_extensions(tmp_path, ["ada,,3,illness (note received)"]), _policy())
    third = graded(dt.date(2026, 12, 10))
    assert third.final.adjustments[-1].date == "2026-12-10"
    assert len(audit.Trail.open(tmp_path).entries) == 5


def test_an_html_reason_is_escaped_in_the_page_and_in_nbgraders_markdown(tmp_path):
    from autograder.assignment import check_cells
    from autograder.reporting import gradebook

    hostile = "<script>alert(1)</script> & <b>x</b>"
    granted = extensions.load_extensions(_extensions(tmp_path, [f'ada,,3,"{hostile}"']), _policy())
    overrides = {"ada": {"extract": (0.5, "<img src=x onerror=alert(2)>")}}
    row = finalize(_row(), exercises.REQUIRED, exercises.BONUS, {}, overrides, _policy(), extensions=granted)
    page = feedback.page(row, exercises.BONUS)
    assert "<script>" not in page and "<img" not in page and "<b>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x" in page
    course = gradebook.Course(tmp_path / "course", check_cells.course_cells(), tmp_path / "home")
    summary = "".join(course.autograded_notebook(row)["cells"][1]["source"])
    assert "### Adjustments" in summary and "<script>" not in summary and "<img" not in summary


def test_an_unreadable_audit_trail_stops_with_what_to_do(tmp_path):
    from autograder.reporting import audit

    (tmp_path / audit.FILE).write_text("{not json")
    with pytest.raises(audit.AuditError, match="restore it from a backup, or delete it"):
        audit.Trail.open(tmp_path)


# --------------------------------------------------------------------------- the journey


@pytest.mark.slow
def test_an_extension_written_after_grading_survives_regrades_and_reaches_the_export(tmp_path):
    """Ada handed in two days late; her extension, written into the class folder afterwards, is applied by
    `grade --only` (re-apply) and by a regrade of her alone, said in her nbgrader feedback page, and exported."""
    import csv

    from .test_feedback_journey import _hand_in, _solutions
    from .test_semester import _cli, _rows

    down, out = tmp_path / "canvas", tmp_path / "class"
    down.mkdir()
    _hand_in(_solutions(), down / "lovelaceada_LATE_101_9001_ddpm.zip", DUE + dt.timedelta(days=1, hours=1))
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id\nada,Ada Lovelace,101\n")
    config = tmp_path / "course.ini"
    config.write_text(f"[late]\ndue = {DUE.isoformat()}\nrule = -10% per day, max 3 days\ntimezone = UTC\n")
    common = ["--out", out, "--roster", roster, "--config", config]

    done = _cli("grade", down, *common, "--seed", 3)
    assert done.returncode == 0, done.stderr[-4000:]
    assert _rows(out)["ada"]["late_penalty"] == "20%"

    (out / "extensions.csv").write_text("student_id,due,extra_days,reason\nada,2026-12-04T23:59,,<i>illness</i>\nzed,,1,typo\n")
    for only in ([], ["ada"]):  # re-apply without regrading, then regrade ada: both honour the extension
        done = _cli("grade", down, *common, "--only", *only)
        assert done.returncode == 0, done.stderr[-4000:]
        assert "extensions.csv: no row for zed" in done.stderr
        row = _rows(out)["ada"]
        assert row["late_penalty"] == "0" and float(row["total"]) == FULL, row
        assert "extension to 2026-12-04 23:59 UTC (<i>illness</i>): submitted on time" in row["adjustments"]
        page = (out / "feedback" / "ada.html").read_text()
        assert "<i>illness" not in page and "&lt;i&gt;illness" in page and "Adjustments" in page
        said = "extension to 2026-12-04 23:59 UTC (<i>illness</i>): submitted on time, no late penalty (without it: -20%)"
        assert said in _seen(page), _seen(page)[-3000:]

    done = _cli("export", out, "--roster", roster, "--canvas", tmp_path / "canvas.csv", "--assignment", "DDPM (7)")
    assert done.returncode == 0, done.stderr
    exported = list(csv.DictReader(open(tmp_path / "canvas.csv")))
    assert float(exported[1]["DDPM (7)"]) == FULL
