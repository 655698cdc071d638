"""The typed seams of grading: what the sandbox answers, what scoring decides, one student's row.

``run_student`` (``autograder.sandbox``) gives a :class:`SandboxRun` of :class:`TaskResult`; scoring
(``autograder.grading.scoring``) turns it into an :class:`ExerciseVerdict` per exercise, each made of
:class:`PartVerdict`; the class grader puts those in a :class:`StudentRow`, which ``report.json``,
``grades.csv``, the feedback pages, the nbgrader gradebook and the harnesses' results are written from.
Every class here is plain data: building one runs no student code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

TaskStatus = Literal["ok", "error", "timeout", "crashed", "not run"]


@dataclass(frozen=True)
class TaskResult:
    """One hidden-test task as the sandbox answered it: its outputs (``status == "ok"``) or why none came."""

    status: TaskStatus
    detail: str = ""
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ImportReport:
    """What importing the student's modules in the sandbox showed."""

    errors: dict[str, str] = field(default_factory=dict)  # module -> why it did not import (its stub stood in)
    replaced: dict[str, list[str]] = field(default_factory=dict)  # module -> library functions its import replaced


@dataclass
class SandboxRun:
    """Everything one student's sandboxes gave back (``autograder.sandbox`` ``run_student``)."""

    results: dict[str, TaskResult] = field(default_factory=dict)  # task name -> result
    imports: ImportReport = field(default_factory=ImportReport)
    events: list[str] = field(default_factory=list)  # time-outs, crashes, restarts, in order
    stderr: str = ""  # the tail of what the student's code printed


@dataclass(frozen=True)
class NamedMistake:
    """The catalogue entry a failed part's outputs match: its id, ``kind`` ("mistake" or "alternative")
    and the sentence a student reads."""

    id: str
    kind: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class PartVerdict:
    """One unit of credit of an exercise: its share of the points and whether the hidden test passed.
    A failed part names the known mistake its outputs match (``mistake``; None: none matches) and says so
    in ``diagnosis`` until the row joins it to the (cleaned) message."""

    part: str
    points: float
    max: float
    ok: bool
    message: str
    mistake: NamedMistake | None = None
    diagnosis: str = ""  # the grader's own sentence on a failed part (trusted text), shown after ``message``

    def shown(self, message: str) -> PartVerdict:
        """This verdict with ``message`` (the student-facing text, cleaned) and the diagnosis after it."""
        return replace(self, message=f"{message} {self.diagnosis}".strip(), diagnosis="")


@dataclass
class ExerciseVerdict:
    """The trusted verdict on one exercise: points out of ``max``, part by part."""

    points: float
    max: float
    parts: list[PartVerdict] = field(default_factory=list)


@dataclass
class GradedHandIn:
    """One hand-in graded by ``GradingRun.grade``: trusted verdicts, and what the sandbox reported on the way."""

    verdicts: dict[str, ExerciseVerdict]  # exercise id -> verdict, every exercise of the table
    import_errors: dict[str, str] = field(default_factory=dict)  # module -> why it did not import
    events: list[str] = field(default_factory=list)
