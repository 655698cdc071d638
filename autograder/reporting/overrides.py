"""Instructors' decisions that outlive every regrade: ``overrides.csv``. Trusted side.

One line per decision: ``student_id, exercise, points, reason`` (header row required). The points
replace the hidden tests' verdict for that exercise, and the reason shows in ``grades.csv``'s
``adjustments`` column and in the student's feedback. A later line for the same student and
exercise replaces an earlier one. Formgrader's manual scores are the other source (``nbgrade``).

An override sets a score within the exercise's points (0 up to its maximum in the exercise table): a
number above it is refused, since it would flow into ``total`` and every LMS export (extra credit
is what the bonus exercises are for). A reason with a comma must be quoted (``"late, but fair"``):
a line with more than its header's fields is refused, never cut to its first four.

An optional ``date`` column says when the decision was made (``2026-12-03``); without it the audit trail
dates it the day ``grade`` first saw it (``autograder.reporting.audit``), so a regrade keeps the date.
"""

import csv
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("student_id", "exercise", "points", "reason")
OPTIONAL = ("date",)
DATE_EXAMPLE = "2026-12-03"


@dataclass(frozen=True)
class Override:
    """One line of overrides.csv: the exercise's new score, why, and when (``None``: not written)."""

    points: float
    reason: str
    date: str | None = None


class OverridesError(ValueError):
    """An unusable overrides file; the message names the line and what to fix."""


def written_date(text: str, where: str, error: type[ValueError]) -> str | None:
    """The ``date`` cell of an instructor's line (ISO ``YYYY-MM-DD``), or None when empty; ``error`` names the line."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise error(
            f"{where}: date {text!r} is not a date such as {DATE_EXAMPLE} (the day of the decision; "
            "leave it empty and grade dates it the day it first sees the line)"
        ) from None


def load_overrides(path: str | Path, maxima: Mapping[str, float]) -> dict[str, dict[str, tuple[float, str]]]:
    """``{student_id: {exercise: (points, reason)}}`` from ``path``; ``maxima`` is the exercise table's
    ``{exercise: maximum}`` (``exercises.POINTS``)."""
    return {
        sid: {exercise: (o.points, o.reason) for exercise, o in lines.items()}
        for sid, lines in read_overrides(path, maxima).items()
    }


def read_overrides(path: str | Path, maxima: Mapping[str, float]) -> dict[str, dict[str, Override]]:
    """``{student_id: {exercise: Override}}`` from ``path``, with each line's ``date`` when it has one."""
    path = Path(path)
    exercise_ids = list(maxima)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise OverridesError(f"{path}: the header needs {', '.join(COLUMNS)} (missing {', '.join(missing)})")
        decisions: dict[str, dict[str, Override]] = {}
        for raw in reader:
            number = reader.line_num  # the file's line (a quoted reason may span lines)
            where = f"{path}, line {number}"
            if None in raw:  # csv.DictReader's key for fields beyond the header's
                raise OverridesError(
                    f"{where}: {len(header) + len(raw[None])} fields where the header has {len(header)}: a reason "
                    'that holds a comma must be quoted, e.g. ada,extract,0.5,"copied, from bob"'
                )
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(row.values()):
                continue
            if row["exercise"] not in exercise_ids:
                raise OverridesError(f"{where}: unknown exercise {row['exercise']!r} (one of: {', '.join(exercise_ids)})")
            try:
                points = float(row["points"])
            except ValueError:
                raise OverridesError(f"{where}: points {row['points']!r} is not a number") from None
            if not math.isfinite(points) or points < 0:
                raise OverridesError(f"{where}: points must be a finite number >= 0, not {row['points']}")
            most = maxima[row["exercise"]]
            if points > most:
                raise OverridesError(
                    f"{where}: {points:g} points for {row['exercise']}, whose maximum is {most:g}: an override "
                    f"sets a score between 0 and {most:g}"
                )
            if not row["student_id"] or not row["reason"]:
                raise OverridesError(f"{where}: every override needs a student_id and a reason")
            date = written_date(row.get("date", ""), where, OverridesError)
            decisions.setdefault(row["student_id"], {})[row["exercise"]] = Override(points, row["reason"], date)
    return decisions
