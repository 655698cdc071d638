"""A row's one grade (``StudentRow.final``): the hidden tests' verdicts, then the instructor's decisions, then
the late penalty. grades.csv, the feedback pages, report.json and nbgrader's gradebook all state it.

Decisions come from two places, in this order (a later one wins): the scores set by hand in nbgrader's
Formgrader (``autograder.reporting.gradebook``) and the lines of ``overrides.csv``
(``autograder.reporting.overrides``); each is kept with its reason as an :class:`Adjustment`. An extension
(``autograder.reporting.extensions``) moves the student's due date before the late rule counts, and is an
adjustment too: its points are the total with it, its ``was`` the total without it. Every adjustment carries
its date from the audit trail (``autograder.reporting.audit``).
"""

import datetime as dt
from collections.abc import Mapping

from autograder.assignment import exercises
from autograder.grading.student_row import Adjustment, FinalScores, StudentRow
from autograder.reporting import audit, late
from autograder.reporting.extensions import Extension
from autograder.reporting.numbers import score_text
from autograder.reporting.overrides import Override

Decisions = Mapping[str, Mapping[str, tuple[float, str] | Override]]  # student_id -> exercise -> decision


def _decision(decision: tuple[float, str] | Override) -> Override:
    return decision if isinstance(decision, Override) else Override(decision[0], decision[1])


def _percent(assessment: late.Assessment | None) -> str:
    return f"-{score_text(100 * assessment.penalty)}%" if assessment is not None and assessment.penalty else "none"


def extension_text(
    granted: Extension, policy: late.Policy | None, before: late.Assessment | None, after: late.Assessment | None
) -> str:
    """What the extension did, in one line: the new due date, the reason, the penalty with and without it."""
    if policy is None or after is None:
        return f"extension ({granted.what()}) ({granted.reason}): the course sets no due date, so nothing is late"
    head = f"extension to {policy.clock(granted.new_due(policy))} ({granted.reason})"
    without = f" (without it: {_percent(before)})" if before is not None and before.penalty else ""
    if after.penalty:
        return f"{head}: late penalty {_percent(after)} instead of {_percent(before)}"
    if after.late_minutes == 0:
        said = "submitted on time" if after.note == "on time" else "no submission time"
        return f"{head}: {said}, no late penalty{without}"
    return f"{head}: {after.note}{without}"  # within the grace period, or a course without penalties


def finalize(
    row: StudentRow,
    required: list[str],
    bonus: list[str],
    decisions: Decisions,
    overrides: Decisions,
    policy: late.Policy | None,
    extensions: Mapping[str, Extension] | None = None,
    trail: audit.Trail | None = None,
) -> StudentRow:
    """Set ``row.final``: the verdicts, then Formgrader's scores, then overrides.csv (each with its reason), the
    sum, the late penalty from the submission time and the course's rule, counted from the student's own due date
    when ``extensions`` gives one. ``trail``: the class folder's audit trail, which dates each adjustment
    (None: dated today). Returns the row."""
    trail = trail if trail is not None else audit.Trail()
    sid = row.student_id
    points = {e: row.verdicts[e].points if e in row.verdicts else 0.0 for e in (*required, *bonus)}
    adjustments = []
    for source, table in (("Formgrader", decisions), ("overrides.csv", overrides)):
        for exercise, decision in table.get(sid, {}).items():
            made = _decision(decision)
            if exercise in points:
                was = points[exercise]
                points[exercise] = made.points
                text = f"{exercise}: {score_text(was)} -> {score_text(made.points)} ({source}: {made.reason})"
                date = trail.date(sid, source, exercise, score_text(made.points), made.reason, made.date)
                adjustments.append(Adjustment(exercise, made.points, was, source, made.reason, text, date))
    total = sum(points.values())
    submitted = dt.datetime.fromisoformat(row.submitted_at) if row.submitted_at else None
    assessment = policy.assess(submitted) if policy is not None else None
    granted = (extensions or {}).get(sid)
    if granted is not None:
        after = policy.extended_to(granted.new_due(policy)).assess(submitted) if policy is not None else None
        text = extension_text(granted, policy, assessment, after)
        date = trail.date(sid, "extensions.csv", "due date", granted.what(), granted.reason, granted.date)
        with_it, without = late.apply(total, after), late.apply(total, assessment)
        adjustments.append(Adjustment("", with_it, without, "extensions.csv", granted.reason, text, date))
        assessment = after
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
