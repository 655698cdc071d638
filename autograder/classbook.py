"""Instructors' decisions that outlive every regrade: ``overrides.csv``. Trusted side.

One line per decision: ``student_id, exercise, points, reason`` (header row required). The points
replace the hidden tests' verdict for that exercise, and the reason shows in ``grades.csv``'s
``adjustments`` column and in the student's feedback. A later line for the same student and
exercise replaces an earlier one. Formgrader's manual scores are the other source (``nbgrade``).
"""

import csv
import math
from pathlib import Path

COLUMNS = ("student_id", "exercise", "points", "reason")


class OverridesError(ValueError):
    """An unusable overrides file; the message names the line and what to fix."""


def load_overrides(path, exercise_ids):
    """``{student_id: {exercise: (points, reason)}}`` from ``path``."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise OverridesError(f"{path}: the header needs {', '.join(COLUMNS)} (missing {', '.join(missing)})")
        decisions = {}
        for number, raw in enumerate(reader, 2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(row.values()):
                continue
            where = f"{path}, line {number}"
            if row["exercise"] not in exercise_ids:
                raise OverridesError(f"{where}: unknown exercise {row['exercise']!r} (one of: {', '.join(exercise_ids)})")
            try:
                points = float(row["points"])
            except ValueError:
                raise OverridesError(f"{where}: points {row['points']!r} is not a number") from None
            if not math.isfinite(points) or points < 0:
                raise OverridesError(f"{where}: points must be a finite number >= 0, not {row['points']}")
            if not row["student_id"] or not row["reason"]:
                raise OverridesError(f"{where}: every override needs a student_id and a reason")
            decisions.setdefault(row["student_id"], {})[row["exercise"]] = (points, row["reason"])
    return decisions
