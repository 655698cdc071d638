"""Per-student extensions: ``extensions.csv`` in the class folder, beside ``overrides.csv``. Trusted side.

One line per student who was given more time (header row required)::

    student_id,due,extra_days,reason,date
    ada,2026-12-04T23:59,,"illness, doctor's note",2026-11-30
    bob,,2,family emergency,

``due`` is the student's own due date, read as the course's (``autograder/course.ini`` ``[late]``): ISO 8601,
with an offset it is that instant, without one it is wall-clock time in the course's ``timezone``; a date
alone (``2026-12-04``) keeps the course's time of day. ``extra_days`` instead adds days to the course's due
date, on the course's clock (a daylight-saving change moves nothing). Give one of the two. The late rule then
counts lateness from the student's own due date (``late.Policy.extended_to``). ``reason`` is required;
``date`` (optional) is the day it was granted, else the audit trail dates it the day ``grade`` first saw it.

Student ids are the ``student_id`` column of ``grades.csv`` (the cleaned ids the grader gave the hand-ins).
A later line for the same student replaces an earlier one; an id with no row in the class is reported by
``grade``, never a failure. A line that cannot be read stops ``grade`` with its line number and what to
write, before anything is graded.
"""

import csv
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.reporting import late
from autograder.reporting.overrides import written_date

FILE = "extensions.csv"
COLUMNS = ("student_id", "due", "extra_days", "reason")
OPTIONAL = ("date",)
EXAMPLE = "ada,2026-12-04T23:59,,illness  or  bob,,2,family emergency"


class ExtensionsError(ValueError):
    """An unusable extensions file; the message names the line and what to write."""


@dataclass(frozen=True)
class Extension:
    """One student's extension: a new due date (``due``: an aware time, or a date that keeps the course's time
    of day) or ``extra_days`` on the course's due date, with the instructor's reason and, when written, the day
    it was granted (``date``)."""

    student_id: str
    reason: str
    due: dt.datetime | dt.date | None = None
    extra_days: float | None = None
    date: str | None = None

    def what(self) -> str:
        """The extension as written, for the audit trail: ``due 2026-12-04T23:59:00+00:00`` or ``+2 days``."""
        if self.due is not None:
            return f"due {self.due.isoformat()}"
        return f"+{self.extra_days:g} day{'s' if self.extra_days != 1 else ''}"

    def new_due(self, policy: late.Policy) -> dt.datetime:
        """The student's own due date under the course's ``policy``."""
        clock = policy.timezone or policy.due.tzinfo
        course_due = policy.due.astimezone(clock)
        if isinstance(self.due, dt.datetime):
            return self.due
        if isinstance(self.due, dt.date):  # a day: the course's time of day on that day
            return dt.datetime.combine(self.due, course_due.time().replace(tzinfo=None)).replace(tzinfo=clock)
        # wall-clock arithmetic on the course's clock: whole days stay whole across a daylight-saving change
        return course_due + dt.timedelta(days=self.extra_days or 0.0)


def _due(text: str, where: str, policy: late.Policy | None) -> dt.datetime | dt.date | None:
    if not text:
        return None
    if len(text) == 10 and text[4:5] == "-":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    try:
        return late.parse_time(text, policy.timezone if policy is not None else None)
    except (ValueError, TypeError):
        raise ExtensionsError(
            f"{where}: due {text!r} is not an ISO 8601 date or time: write e.g. 2026-12-04T23:59 (the course's time "
            "zone), 2026-12-04T23:59:00+01:00 or 2026-12-04 (the course's time of day)"
        ) from None


def _days(text: str, where: str) -> float | None:
    if not text:
        return None
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days <= 0:
        raise ExtensionsError(f"{where}: extra_days {text!r} is not a number of days above 0: write e.g. 2 or 1.5")
    return days


def _line(row: dict[str, str], where: str, policy: late.Policy | None) -> Extension:
    if not row.get("student_id") or not row.get("reason"):
        raise ExtensionsError(f"{where}: every extension needs a student_id and a reason, e.g. {EXAMPLE}")
    due, days = _due(row.get("due", ""), where, policy), _days(row.get("extra_days", ""), where)
    if due is None and days is None:
        raise ExtensionsError(f"{where}: give a new due date (due) or a number of extra days (extra_days), e.g. {EXAMPLE}")
    if due is not None and days is not None:
        raise ExtensionsError(f"{where}: give a new due date (due) or extra days (extra_days), not both")
    extension = Extension(row["student_id"], row["reason"], due, days, written_date(row.get("date", ""), where, ExtensionsError))
    if policy is not None and extension.new_due(policy) <= policy.due:
        raise ExtensionsError(
            f"{where}: the new due date {policy.clock(extension.new_due(policy))} is not after the course's "
            f"{policy.clock(policy.due)}: an extension moves the due date later"
        )
    return extension


def load_extensions(path: str | Path, policy: late.Policy | None) -> dict[str, Extension]:
    """``{student_id: Extension}`` from ``path``, times read as the course's ``policy`` reads them (None: the
    course sets no due date; the lines are still checked, and nothing is late)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in ("student_id", "reason") if c not in header]
            if missing or not {"due", "extra_days"} & set(header):
                raise ExtensionsError(
                    f"{path}: the header needs student_id, due and/or extra_days, reason (and optionally date), e.g. "
                    f"{','.join(COLUMNS)}; it is {','.join(header) or 'empty'}"
                )
            granted: dict[str, Extension] = {}
            for raw in reader:
                where = f"{path}, line {reader.line_num}"  # the file's line (a quoted reason may span lines)
                if None in raw:  # csv.DictReader's key for fields beyond the header's
                    raise ExtensionsError(
                        f"{where}: {len(header) + len(raw[None])} fields where the header has {len(header)}: a reason "
                        'that holds a comma must be quoted, e.g. ada,,2,"ill, doctor\'s note"'
                    )
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
                if any(row.values()):
                    extension = _line(row, where, policy)
                    granted[extension.student_id] = extension
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExtensionsError(f"{path}: cannot read it ({error}): save it as a UTF-8 CSV file") from error
    return granted


def unknown(granted: dict[str, Extension], student_ids: Iterable[str]) -> list[str]:
    """The students of ``granted`` with no row among ``student_ids`` (to report; their lines wait for a row)."""
    known = set(student_ids)
    return sorted(sid for sid in granted if sid not in known)
