"""Instructors' decisions that outlive every regrade: ``overrides.csv``. Trusted side.

One line per decision: ``student_id, exercise, points, reason`` (header row required). The points
replace the hidden tests' verdict for that exercise, and the reason shows in ``grades.csv``'s
``adjustments`` column and in the student's feedback. A later line for the same student and
exercise replaces an earlier one. Formgrader's manual scores are the other source (``nbgrade``).

An override sets a score within the exercise's points (0 up to its maximum in the exercise table): a
number above it is refused, since it would flow into ``total`` and every LMS export (extra credit
is what the bonus exercises are for). A reason with a comma must be quoted (``"late, but fair"``):
a line with more than four fields is refused, never cut to its first four.
"""

import csv
import math
from collections.abc import Mapping
from pathlib import Path

COLUMNS = ("student_id", "exercise", "points", "reason")


class OverridesError(ValueError):
    """An unusable overrides file; the message names the line and what to fix."""


def load_overrides(path: str | Path, maxima: Mapping[str, float]) -> dict[str, dict[str, tuple[float, str]]]:
    """``{student_id: {exercise: (points, reason)}}`` from ``path``; ``maxima`` is the exercise table's
    ``{exercise: maximum}`` (``exercises.POINTS``)."""
    path = Path(path)
    exercise_ids = list(maxima)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise OverridesError(f"{path}: the header needs {', '.join(COLUMNS)} (missing {', '.join(missing)})")
        decisions: dict[str, dict[str, tuple[float, str]]] = {}
        for raw in reader:
            number = reader.line_num  # the file's line (a quoted reason may span lines)
            where = f"{path}, line {number}"
            if None in raw:  # csv.DictReader's key for fields beyond the header's
                raise OverridesError(
                    f"{where}: {len(COLUMNS) + len(raw[None])} fields where the header has {len(COLUMNS)}: a reason "
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
            decisions.setdefault(row["student_id"], {})[row["exercise"]] = (points, row["reason"])
    return decisions
