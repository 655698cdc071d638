"""The trusted grading engine: inputs and reference outputs once per run, then one sandbox per student.

This process imports ``solutions/`` and the hidden tests but never student code.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.assignment import exercises as table
from autograder.assignment import mutants
from autograder.assignment.hidden_tests import per_run
from autograder.assignment.hidden_tests.common import Task
from autograder.authoring import stubs
from autograder.grading import scoring
from autograder.grading.diagnosis import Diagnosis
from autograder.records import GradedHandIn, SandboxRun
from autograder.sandbox import detection, student_run
from autograder.sandbox.limits import Limits


@dataclass
class Check:
    """A notebook self-check, re-run in the sandbox on the student's own modules."""

    name: str
    exercise: str
    deps: tuple[str, ...] = ()


def check_tasks() -> list[Check]:
    """One self-check task (``check:<exercise>``) per exercise of the table."""
    return [Check(f"check:{exercise}", exercise) for exercise in table.EXERCISES]


class GradingRun:
    """Everything shared by the students of one run: seed, inputs, references, stubs, isolation."""

    def __init__(
        self,
        seed: int | None = None,
        limits: Limits | None = None,
        isolation: Any = None,
        hidden: Sequence[Path] = (),
        user: str = "nobody",
        unsafe: bool = False,
        self_checks: bool = True,
        mode: str = "bubblewrap",
    ) -> None:
        self.seed = int(seed) if seed is not None else secrets.randbits(31)
        self.limits = limits or Limits()
        self.owns_isolation = isolation is None  # then its seccomp program and cgroups are this run's to release
        self.isolation = isolation or detection.detect(hidden, user, unsafe, self.limits, mode)
        self.inputs = per_run.make_inputs(self.seed, table.TASKS)
        with mutants.LOCK:  # the reference modules, not a mutant another run's diagnosis swapped in
            self.references = per_run.make_references(self.inputs, table.TASKS)
            self.dep_sources = per_run.dep_sources()
        self.diagnosis = Diagnosis(self.inputs, self.references)
        self.input_bytes = {}
        for task, arrays in self.inputs.items():
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy types savez(file, *args, allow_pickle=...)
            self.input_bytes[task] = buffer.getvalue()
        generated = stubs.generate()
        self.stub_texts = {name[:-3]: text for name, text in generated.items() if name[:-3] in table.MODULES}
        # Everything in helpers/ that is not an exercise module is provided code: the grader's copy wins.
        self.provided = {name: text.encode() for name, text in generated.items() if name[:-3] not in table.MODULES}
        self.tasks: list[Check | Task] = [*(check_tasks() if self_checks else []), *table.TASKS]

    def close(self) -> None:
        """Release the isolation this run set up (its seccomp program and cgroups), if it is this run's."""
        if self.owns_isolation:
            self.isolation.close()

    def __enter__(self) -> GradingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def helpers_files(self, student_files: Mapping[str, bytes]) -> dict[str, bytes]:
        """The sandbox's ``helpers/``: ``{file name: bytes}``. The student's exercise modules and own
        extra modules, the stub for a missing exercise module, the grader's copy of provided modules."""
        files = {name: data for name, data in student_files.items() if name not in self.provided}
        for module in table.MODULES:
            files.setdefault(f"{module}.py", self.stub_texts[module].encode())
        files.update(self.provided)
        return files

    def run(self, student_files: Mapping[str, bytes], exercises: Collection[str] | None = None) -> SandboxRun:
        """What the sandbox gives back for one student (``exercises``: only these exercises' tasks)."""
        return student_run.run_student(
            self.helpers_files(student_files),
            self.stub_texts,
            self.input_bytes,
            [task for task in self.tasks if exercises is None or task.exercise in exercises],
            self.dep_sources,
            self.limits,
            self.isolation,
            modules=table.MODULES,
        )

    def grade(
        self,
        student_files: Mapping[str, bytes | str | Path],
        exercise_points: Mapping[str, float] | None = None,
        exercises: Collection[str] | None = None,
    ) -> GradedHandIn:
        """Trusted verdicts for one student. ``student_files``: ``{file name: bytes}`` of their ``helpers/``
        (or ``{module: path}``, read here); ``exercises``: grade only these (the others score 0)."""
        files = {
            (name if name.endswith(".py") else f"{name}.py"): (data if isinstance(data, bytes) else Path(data).read_bytes())
            for name, data in student_files.items()
        }
        sandbox = self.run(files, exercises)
        verdicts = scoring.score(exercise_points or {}, self.inputs, self.references, sandbox.results, diagnosis=self.diagnosis)
        return GradedHandIn(verdicts, dict(sandbox.imports.errors), list(sandbox.events))
