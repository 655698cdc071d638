"""One student's row of a class: what ``grades.csv``, ``report.json``, the feedback pages, the nbgrader
gradebook and the harnesses' results are all written from.

A row is built by the class grader (``autograder.grading.class_grader``) from the trusted verdicts, or read
back from an earlier ``report.json`` of the class folder (:func:`row_from_report`); ``finalize``
(``autograder.reporting.final_scores``) then adds its :class:`FinalScores`. ``report.json`` holds exactly
:func:`report_entry` of each row: the keys and their order are the file's format, written out here by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autograder.records import ExerciseVerdict, NamedMistake, PartVerdict

SelfCheck = tuple[bool, str]  # a notebook self-check re-run in the sandbox: passed?, what it printed (cleaned)
StudentCells = dict[str, "tuple[str, str] | None"]  # grade_id -> (source, saved output) of the hand-in's check cell


@dataclass(frozen=True)
class Adjustment:
    """An instructor's decision: a score that replaced the hidden tests' verdict on one exercise, or an extension
    (``exercise`` empty; ``points`` and ``was`` are then the total with and without it)."""

    exercise: str
    points: float
    was: float  # the score before this decision
    source: str  # "Formgrader", "overrides.csv" or "extensions.csv"
    reason: str
    text: str  # the line grades.csv's ``adjustments`` column shows
    date: str = ""  # when it was made, ISO (``autograder.reporting.audit``)

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "points": self.points,
            "was": self.was,
            "source": self.source,
            "reason": self.reason,
            "text": self.text,
            "date": self.date,
        }


@dataclass(frozen=True)
class FinalScores:
    """The row's one grade: verdicts, then decisions, then the late penalty (``finalize``)."""

    exercises: dict[str, float]  # required and bonus exercises, after the decisions
    points: float  # their sum, before the late penalty
    late_minutes: float
    late_penalty: float  # fraction of the points lost, 0..1
    late_note: str  # empty when no penalty applies
    total: float  # grades.csv's total
    max_total: float  # the required exercises' points (bonus exercises count on top)
    adjustments: list[Adjustment] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "exercises": self.exercises,
            "points": self.points,
            "late_minutes": self.late_minutes,
            "late_penalty": self.late_penalty,
            "late_note": self.late_note,
            "total": self.total,
            "max_total": self.max_total,
            "adjustments": [a.to_json() for a in self.adjustments],
        }


@dataclass
class StudentRow:
    """One student of the class folder. Student text in it (flags, messages, ``source``) is already cleaned
    (``autograder.grading.withheld.clean``); the writers still escape it for where it goes."""

    student_id: str
    verdicts: dict[str, ExerciseVerdict] = field(default_factory=dict)  # exercise -> trusted verdict
    checks: dict[str, SelfCheck] = field(default_factory=dict)  # exercise -> its self-check re-run
    flags: list[str] = field(default_factory=list)
    submitted_at: str | None = None  # ISO time of the hand-in, when known
    time_source: str | None = None  # where that time came from
    source: str | None = None  # the hand-in's name in the class's download
    isolation: str | None = None  # which sandbox graded this row
    seconds: float | None = 0
    final: FinalScores | None = None
    # Of this run only, never in report.json: whether this row was graded now (else kept from report.json), the
    # hand-in's check cells and helpers/ files as read (None: not read, the grading failed before) for nbgrader's
    # record of it, and nbgrader's feedback page.
    regraded: bool = False
    student_cells: StudentCells | None = None
    helpers: dict[str, bytes] | None = None
    feedback_html: str | None = None

    def require_final(self) -> FinalScores:
        """The final scores, which every writer needs: ``finalize`` gave every row of a run its own."""
        if self.final is None:
            raise ValueError(f"row {self.student_id!r} has no final scores: finalize it first")
        return self.final


def failure_flag(what: str, error: BaseException) -> str:
    """A flag for a step that failed on one student: the error's type only (its text may be the student's)."""
    return f"{what} ({type(error).__name__}): this student's other outputs and every other row are complete"


def verdict_to_json(verdict: ExerciseVerdict) -> dict[str, Any]:
    parts = [
        {
            "part": p.part,
            "points": p.points,
            "max": p.max,
            "ok": p.ok,
            "message": p.message,
            "mistake": p.mistake.to_json() if p.mistake is not None else None,
        }
        for p in verdict.parts
    ]
    return {"points": verdict.points, "max": verdict.max, "parts": parts}


def verdict_from_json(data: dict[str, Any]) -> ExerciseVerdict:
    parts = [
        PartVerdict(p["part"], p["points"], p["max"], p["ok"], p["message"], named_mistake(p.get("mistake")))
        for p in data["parts"]
    ]
    return ExerciseVerdict(data["points"], data["max"], parts)


def named_mistake(data: Any) -> NamedMistake | None:
    """A part's ``mistake`` as ``report.json`` holds it (absent in an older report: None)."""
    if not isinstance(data, dict):
        return None
    return NamedMistake(str(data.get("id", "")), str(data.get("kind", "mistake")), str(data.get("text", "")))


def report_entry(row: StudentRow) -> dict[str, Any]:
    """The row as ``report.json`` holds it (its ``students`` list), keys in the file's order."""
    return {
        "student_id": row.student_id,
        "verdicts": {e: verdict_to_json(v) for e, v in row.verdicts.items()},
        "checks": {e: [ok, message] for e, (ok, message) in row.checks.items()},
        "flags": row.flags,
        "seconds": row.seconds,
        "submitted_at": row.submitted_at,
        "time_source": row.time_source,
        "source": row.source,
        "isolation": row.isolation,
        "final": row.final.to_json() if row.final is not None else None,
        "self_checks": {e: ok for e, (ok, _message) in row.checks.items()},
    }


def row_from_report(entry: dict[str, Any]) -> StudentRow:
    """A row of an earlier ``report.json`` (its final scores are made again by ``finalize``). A report of an
    older version may hold only ``self_checks``: their messages are then empty."""
    checks = entry.get("checks") or {e: [ok, ""] for e, ok in entry.get("self_checks", {}).items()}
    return StudentRow(
        student_id=entry["student_id"],
        verdicts={e: verdict_from_json(v) for e, v in (entry.get("verdicts") or {}).items()},
        checks={e: (check[0], check[1]) for e, check in checks.items()},
        flags=list(entry.get("flags") or []),
        submitted_at=entry.get("submitted_at"),
        time_source=entry.get("time_source"),
        source=entry.get("source"),
        isolation=entry.get("isolation"),
        seconds=entry.get("seconds"),
    )
