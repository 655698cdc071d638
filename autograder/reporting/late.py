"""Late penalties: a due date and a rule from the course config, turned into a fraction of the total lost.

The rule is written the way a syllabus says it (``parse_rule``)::

    -10% per day, max 3 days            10 % per day            5% per hour, max 24 hours
    -10%/day max 3 days grace 15 min    10% per day, max 3 days, after max: cap            none

How lateness is counted:

* A submission at or before ``due + grace`` has no penalty (the grace period forgives, it does not
  shift the due date).
* Past the grace period, lateness is counted in *started* units from the due date itself: one minute
  past the grace period is already 1 day late (or 1 hour late for a per-hour rule); exactly N days
  after the due date is N days late; N days and one second is N + 1.
* Days are calendar days on the course's clock (``timezone``): a submission at 23:59 the day after a
  23:59 deadline is 1 day late even when a daylight-saving change made that day 23 or 25 hours long.
  Hours are elapsed hours. ``late_minutes`` is always the real elapsed time after the due date.
* Penalty = rate x units late, at most 100 %. Beyond the maximum (``max 3 days``) the submission
  scores 0 (``after max: zero``, the default) or keeps the maximum penalty (``after max: cap``).
  Without a maximum the penalty grows until it reaches 100 %.
* ``none`` records how late a submission was but takes nothing off.

Times: an ISO 8601 time with an offset (``2026-12-01T23:59:00+01:00``, or ``Z``) is that instant; one
without an offset is wall-clock time in the configured ``timezone`` (an IANA name such as
``Europe/Paris``), or in this machine's local time zone when none is configured.
"""

import configparser
import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autograder.paths import AUTOGRADER
from autograder.reporting.numbers import score_text

DEFAULT_CONFIG = AUTOGRADER / "course.ini"
EXAMPLE = "'-10% per day, max 3 days, grace 15 min, after max: zero' (or 'none')"
AFTER_MAX = ("zero", "cap")
UNITS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


class LateRuleError(ValueError):
    """A late rule that cannot be read; the message says what is wrong and shows an accepted rule."""


class LateConfigError(ValueError):
    """A ``[late]`` config section that cannot be used; the message names the file and the key."""


# --------------------------------------------------------------------------- rule text

_UNIT = r"(?P<unit>days?|d|hours?|hrs?|h)"
_GRACE_UNIT = r"(?P<unit>minutes?|mins?|m|hours?|hrs?|h)"
_CLAUSES = (
    ("after_max", re.compile(r"\bafter\s+(?:the\s+)?max(?:imum)?\s*[:=]?\s*(?P<mode>\w+)")),
    ("grace", re.compile(r"\bgrace(?:\s+period)?\s*(?:of\s*)?[:=]?\s*(?P<n>\d+(?:\.\d+)?)\s*" + _GRACE_UNIT + r"?\b")),
    ("rate", re.compile(r"(?P<sign>-)?\s*(?P<n>\d+(?:\.\d+)?)\s*%\s*(?:per|/|a|an|each|every)\s*" + _UNIT + r"\b")),
    ("max", re.compile(r"\bmax(?:imum)?\s*(?:of\s*)?[:=]?\s*(?P<n>\d+(?:\.\d+)?)\s*" + _UNIT + r"?(?![\w%])")),
)
_NONE = {"none", "no penalty", "off", "0", "0%"}


def _unit(word: str) -> str:
    return "day" if word[0] == "d" else "hour"


def _fail(text: object, problem: str) -> NoReturn:
    raise LateRuleError(f"late rule {text!r}: {problem}; write e.g. {EXAMPLE}")


def parse_rule(text: str) -> dict[str, Any]:
    """``{per_day, max_days, grace_minutes, after_max, unit}`` from a human rule (see the module doc).

    ``per_day`` is the fraction lost per ``unit`` (``"day"``, or ``"hour"`` for per-hour rules) and
    ``max_days`` the maximum in that unit (``None``: no maximum). ``none`` gives ``per_day == 0``.
    Raises ``LateRuleError`` naming the problem and showing an accepted rule.
    """
    original = text
    text = re.sub(r"\s+", " ", str(text or "")).strip().lower()
    if not text:
        _fail(original, "the rule is empty")
    if text in _NONE:
        return {"per_day": 0.0, "max_days": None, "grace_minutes": 0.0, "after_max": "zero", "unit": "day"}
    found, rest = {}, text
    for name, pattern in _CLAUSES:
        matches = list(pattern.finditer(rest))
        if len(matches) > 1:
            _fail(original, f"the {name.replace('_', ' ')} is given {len(matches)} times")
        if matches:
            found[name] = matches[0]
            rest = rest[: matches[0].start()] + " " + rest[matches[0].end() :]
    if "rate" not in found:
        if "%" in text:
            _fail(original, "the rate needs a unit: per day or per hour, as in '10% per day' or '5% per hour'")
        _fail(original, "no rate such as '10% per day'")
    leftover = re.sub(r"\b(?:and|then|late|penalty|deduct(?:ion)?|of|the)\b|[,;.()]", " ", rest)
    leftover = " ".join(leftover.split())
    if leftover:
        _fail(original, f"cannot read {leftover!r}")
    rate = found["rate"]
    unit = _unit(rate["unit"])
    per = float(rate["n"]) / 100
    if not 0 < per <= 1:
        _fail(original, f"the rate must be more than 0% and at most 100% per {unit}")
    max_units = None
    if "max" in found:
        m = found["max"]
        if m["unit"] and _unit(m["unit"]) != unit:
            _fail(original, f"the maximum is in {_unit(m['unit'])}s but the rate is per {unit}")
        if float(m["n"]) != int(float(m["n"])) or int(float(m["n"])) < 1:
            _fail(original, f"the maximum must be a whole number of {unit}s, at least 1")
        max_units = int(float(m["n"]))
    grace = 0.0
    if "grace" in found:
        g = found["grace"]
        grace = float(g["n"]) * (60 if g["unit"] and g["unit"][0] == "h" else 1)
    after_max = "zero"
    if "after_max" in found:
        after_max = found["after_max"]["mode"]
        if after_max not in AFTER_MAX:
            _fail(original, f"'after max' must be zero or cap, not {after_max!r}")
    return {"per_day": per, "max_days": max_units, "grace_minutes": grace, "after_max": after_max, "unit": unit}


# --------------------------------------------------------------------------- times


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise LateConfigError(f"unknown time zone {name!r}: give an IANA name such as Europe/Paris or UTC") from error


def parse_time(value: datetime | str, tz: tzinfo | None = None) -> datetime:
    """An aware ``datetime`` from a ``datetime`` or an ISO 8601 string; naive times are wall-clock time in
    ``tz`` (a ``tzinfo``), or in this machine's local time zone when ``tz`` is None."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-12-01T23:59:00+01:00") from error
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or an ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=tz) if tz is not None else value.astimezone()
    return value


def _elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time from ``start`` to ``end``. (Python subtracts two datetimes sharing one tzinfo object as wall-clock
    times, which is an hour off across a daylight-saving change; in UTC it is exact.)"""
    return end.astimezone(dt_timezone.utc) - start.astimezone(dt_timezone.utc)


def _duration(minutes: float) -> str:
    minutes = int(round(minutes))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins or not (days or hours) else ""]
    return " ".join(p for p in parts if p)


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class Assessment:
    late_minutes: float  # real minutes after the due date; 0 when on time
    penalty: float  # fraction of the total lost, 0..1
    note: str  # one line for the instructor's report and the student's feedback


@dataclass(frozen=True)
class Policy:
    """A due date and a late rule. ``per_day`` is the fraction lost per started ``unit`` after the due date
    and ``max_days`` the maximum number of units (``None``: none); the unit is ``"day"`` unless the rule
    was per hour, in which case both count hours. ``timezone`` (a ``tzinfo``) reads naive submission
    times and defines calendar days; when None, the due date's own offset is used."""

    due: datetime
    per_day: float
    max_days: int | None = None
    grace_minutes: float = 0.0
    after_max: str = "zero"
    unit: str = "day"
    timezone: tzinfo | None = None
    due_name: str = "the due date"  # how the notes name ``due``: a student's extension has its own

    def __post_init__(self) -> None:
        if self.due.tzinfo is None or self.due.utcoffset() is None:
            raise ValueError("Policy.due must be timezone-aware (use parse_time)")
        if self.after_max not in AFTER_MAX:
            raise ValueError(f"after_max must be one of {AFTER_MAX}, not {self.after_max!r}")
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {tuple(UNITS)}, not {self.unit!r}")
        if not 0 <= self.per_day <= 1:
            raise ValueError(f"per_day must be a fraction between 0 and 1, not {self.per_day!r}")

    @classmethod
    def from_rule(cls, due: datetime | str, rule: str | dict[str, Any], timezone: str | tzinfo | None = None) -> "Policy":
        """A policy from a due date (``datetime`` or ISO string) and a rule text or ``parse_rule`` dict;
        ``timezone`` is an IANA name or a ``tzinfo``."""
        tz = _timezone(timezone) if isinstance(timezone, str) else timezone
        spec = parse_rule(rule) if isinstance(rule, str) else dict(rule)
        return cls(due=parse_time(due, tz), timezone=tz, **spec)

    def extended_to(self, due: datetime) -> "Policy":
        """The same rule counted from a student's own due date (an extension, ``autograder.reporting.extensions``)."""
        return dataclasses.replace(self, due=parse_time(due, self.timezone), due_name="your extended due date")

    def clock(self, when: datetime) -> str:
        """``when`` on the course's clock, as the feedback writes a due date: ``2026-12-04 23:59 CET``."""
        return when.astimezone(self.timezone or self.due.tzinfo).strftime("%Y-%m-%d %H:%M %Z").strip()

    def _units_late(self, submitted: datetime) -> int:
        """Started units after the due date: calendar days on the course clock, or elapsed hours."""
        if self.unit == "hour":
            elapsed = _elapsed(self.due, submitted)
        else:
            tz = self.timezone or self.due.tzinfo
            elapsed = submitted.astimezone(tz).replace(tzinfo=None) - self.due.astimezone(tz).replace(tzinfo=None)
        step = UNITS[self.unit]
        return max(1, -(-elapsed // step))  # ceil; at least 1 once past the grace period

    def assess(self, submitted_at: datetime | str | None) -> Assessment:
        """How late ``submitted_at`` (aware or naive ``datetime``, ISO string, or None) is and what it costs."""
        if submitted_at is None:
            return Assessment(0.0, 0.0, "no submission time: no late penalty")
        submitted = parse_time(submitted_at, self.timezone)
        delta = _elapsed(self.due, submitted)
        if delta <= timedelta(0):
            return Assessment(0.0, 0.0, "on time")
        minutes = delta.total_seconds() / 60
        late = f"submitted {_duration(minutes)} after {self.due_name}"
        if delta <= timedelta(minutes=self.grace_minutes):
            return Assessment(
                minutes, 0.0, f"{late}, within the {score_text(self.grace_minutes)}-minute grace period: no penalty"
            )
        units = self._units_late(submitted)
        counted = f"{late} ({units} {self.unit}{'s' if units != 1 else ''} late)"
        if self.per_day == 0:
            return Assessment(minutes, 0.0, f"{counted}: no late penalty in this course")
        if self.max_days is not None and units > self.max_days:
            if self.after_max == "zero":
                return Assessment(minutes, 1.0, f"{counted}, beyond the {self.max_days}-{self.unit} maximum: scored 0")
            penalty = min(1.0, self.per_day * self.max_days)
            note = f"{counted}, beyond the {self.max_days}-{self.unit} maximum: penalty capped at {score_text(100 * penalty)}%"
            return Assessment(minutes, penalty, note)
        penalty = min(1.0, self.per_day * units)
        return Assessment(minutes, penalty, f"{counted}: -{score_text(100 * penalty)}%")


def apply(total: float, assessment: Assessment | None) -> float:
    """``total`` after the assessment's penalty (a fraction of the total), never below 0."""
    if assessment is None:
        return total
    return max(0.0, round(float(total) * (1 - assessment.penalty), 6))


# --------------------------------------------------------------------------- config


def load_config(path: str | Path = DEFAULT_CONFIG) -> Policy | None:
    """The ``Policy`` of the ``[late]`` section of an INI course config, or None when it sets no due date.

    Keys: ``due`` (ISO 8601; without an offset it is local time in ``timezone``, else this machine's),
    ``rule`` (``parse_rule`` text, required with ``due``), ``timezone`` (IANA name, optional) and
    ``after_max`` (``zero`` or ``cap``, optional; the same as ``after max:`` in the rule).
    Raises ``LateConfigError`` naming the file and key.
    """
    path = Path(path)
    parser = configparser.ConfigParser(interpolation=None)  # rules contain '%'
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as error:
        raise LateConfigError(f"course config {path}: cannot read it ({error.strerror or error})") from error
    except configparser.Error as error:
        raise LateConfigError(f"course config {path}: not a valid INI file ({' '.join(str(error).split())})") from error
    if not parser.has_section("late"):
        return None
    section = parser["late"]
    where = f"course config {path} [late]"
    known = {"due", "rule", "timezone", "after_max"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise LateConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    due = section.get("due", "").strip()
    if not due:
        return None
    tz = None
    if section.get("timezone", "").strip():
        try:
            tz = _timezone(section["timezone"].strip())
        except LateConfigError as error:
            raise LateConfigError(f"{where} timezone: {error}") from error
    rule = section.get("rule", "").strip()
    if not rule:
        raise LateConfigError(f"{where}: due is set but rule is empty; write e.g. rule = {EXAMPLE}")
    try:
        spec = parse_rule(rule)
        due_at = parse_time(due, tz)
    except ValueError as error:
        key = "rule" if isinstance(error, LateRuleError) else "due"
        raise LateConfigError(f"{where} {key}: {error}") from error
    after_max = section.get("after_max", "").strip().lower()
    if after_max:
        if after_max not in AFTER_MAX:
            raise LateConfigError(f"{where} after_max: must be zero or cap, not {after_max!r}")
        if "after max" in rule.lower() and after_max != spec["after_max"]:
            raise LateConfigError(f"{where}: after_max = {after_max} contradicts the rule's 'after max: {spec['after_max']}'")
        spec["after_max"] = after_max
    return Policy(due=due_at, timezone=tz, **spec)
