"""A row's one grade (``StudentRow.final``): the hidden tests' verdicts, then the instructor's decisions, then
the late penalty. grades.csv, the feedback pages, report.json and nbgrader's gradebook all state it.

Decisions come from two places, in this order (a later one wins): the scores set by hand in nbgrader's
Formgrader (``autograder.reporting.gradebook``) and the lines of ``overrides.csv``
(``autograder.reporting.overrides``); each is kept with its reason as an :class:`Adjustment`.
"""

import datetime as dt

from autograder.assignment import exercises
from autograder.grading.student_row import Adjustment, FinalScores, StudentRow
from autograder.reporting import late
from autograder.reporting.numbers import score_text

Decisions = dict[str, dict[str, tuple[float, str]]]  # student_id -> exercise -> (points, reason)


def finalize(
    row: StudentRow,
    required: list[str],
    bonus: list[str],
    decisions: Decisions,
    overrides: Decisions,
    policy: late.Policy | None,
) -> StudentRow:
    """Set ``row.final``: the verdicts, then Formgrader's scores, then overrides.csv (each with its reason), the
    sum, the late penalty from the submission time and the course's rule. Returns the row."""
    points = {e: row.verdicts[e].points if e in row.verdicts else 0.0 for e in (*required, *bonus)}
    adjustments = []
    for source, table in (("Formgrader", decisions), ("overrides.csv", overrides)):
        for exercise, (value, reason) in table.get(row.student_id, {}).items():
            if exercise in points:
                was = points[exercise]
                points[exercise] = value
                text = f"{exercise}: {score_text(was)} -> {score_text(value)} ({source}: {reason})"
                adjustments.append(Adjustment(exercise, value, was, source, reason, text))
    total = sum(points.values())
    submitted = dt.datetime.fromisoformat(row.submitted_at) if row.submitted_at else None
    assessment = policy.assess(submitted) if policy is not None else None
    row.final = FinalScores(
        exercises=points,
        points=total,
        late_minutes=assessment.late_minutes if assessment else 0.0,
        late_penalty=assessment.penalty if assessment else 0.0,
        late_note=assessment.note if assessment and assessment.penalty else "",
        total=late.apply(total, assessment) if assessment else total,
        max_total=sum(exercises.POINTS[e] for e in required),
        adjustments=adjustments,
    )
    return row
