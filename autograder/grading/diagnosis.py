"""The grader's diagnosis: which known mistake a failed part's outputs match.

For a part that failed, each catalogue entry of its exercise (``autograder/assignment/catalogue/``) is run
as a mutated *reference* on this run's hidden inputs, on the trusted side (our own code, never the
student's), and the student's outputs are compared with it by the part's own check, the tolerance rule
included. The first entry that the part itself rejects and the student's outputs match names the
mistake; when none does, the feedback says that no known mistake matches. Mutated references are
computed once per run and entry, when a part first needs them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from autograder.assignment import exercises, mutants
from autograder.assignment.catalogue import Mistake
from autograder.assignment.hidden_tests.common import Arrays, Part, Task, compare
from autograder.records import NamedMistake, TaskResult
from solutions import tolerance

NO_MATCH = "No known mistake matches these outputs."
ERROR_CHARS = 300  # the sandbox keeps this much of a case's error text


class Diagnosis:
    """Names the catalogue entry that a failed part's outputs match, for one grading run's inputs."""

    def __init__(
        self,
        inputs: Mapping[str, Arrays],
        references: Mapping[str, Arrays],
        tasks: Sequence[Task] = exercises.TASKS,
        entries: Sequence[Mistake] = exercises.MUTANTS,
    ) -> None:
        self.inputs, self.references = inputs, references
        self.tasks = {task.name: task for task in tasks}
        self.entries = list(entries)
        self._mutated: dict[tuple[str, str], Arrays | str | None] = {}
        self._lock = threading.Lock()

    def mutated_reference(self, entry: Mistake, task: str) -> Arrays | str | None:
        """``task``'s references computed by the reference with ``entry`` applied; the error it raised
        (``"Type: message"``, as the sandbox reports a case's error); None: there is no reference."""
        key = (entry.id, task)
        with self._lock:
            if key not in self._mutated:
                self._mutated[key] = self._compute(entry, task)
            return self._mutated[key]

    def _compute(self, entry: Mistake, task: str) -> Arrays | str | None:
        reference = self.tasks[task].reference
        if reference is None:
            return None
        try:
            with mutants.swapped_in(entry), torch.random.fork_rng():
                torch.set_num_threads(1)
                return reference(dict(self.inputs[task]))
        except Exception as error:  # a mistake that raises is named by the same error on the same inputs
            return f"{type(error).__name__}: {error}"[:ERROR_CHARS]

    def name(self, part: Part, result: TaskResult) -> Mistake | None:
        """The entry that ``result``'s outputs match on ``part``, or None."""
        if result.status != "ok":
            return None
        inputs, correct = self.inputs[part.task], self.references[part.task]
        for entry in self.entries:
            if entry.exercise != part.exercise:
                continue
            mutated = self.mutated_reference(entry, part.task)
            if mutated is None:
                continue
            if isinstance(mutated, str):
                if raised_the_same(mutated, result.outputs):
                    return entry
                continue
            try:
                entry_fails_part = not part.check(inputs, correct, mutated)[0]
                matches = entry_fails_part and (
                    part.check(inputs, mutated, result.outputs)[0] or same_outputs(mutated, correct, result.outputs)
                )
            except Exception:  # a check that cannot read the mutated outputs names nothing
                continue
            if matches:
                return entry
        return None


def raised_the_same(error: str, student: Arrays) -> bool:
    """Some case of the student's raised ``error`` (the sandbox keeps a case's error as ``case/error``)."""
    head = error.split("\n", 1)[0]
    return any(key.endswith("/error") and str(value).split("\n", 1)[0] == head for key, value in student.items())


def same_outputs(mutated: Arrays, correct: Arrays, student: Arrays) -> bool:
    """On every output the mistake changes, the student's matches the mutated reference's within the
    tolerance rule: for parts whose check derives its expected values from the inputs (it does not read
    the reference's outputs), or judges a random draw by its statistics."""
    changed = []
    for key, value in mutated.items():
        if key.endswith(".scale") or key not in correct:
            continue
        value, right = np.asarray(value, dtype=np.float64), np.asarray(correct[key], dtype=np.float64)
        if value.shape != right.shape or not np.allclose(value, right, rtol=1e-9, atol=1e-12, equal_nan=True):
            changed.append(key)
    for key in changed:
        value = np.asarray(mutated[key], dtype=np.float64)
        scale = mutated.get(f"{key}.scale", correct.get(f"{key}.scale"))
        # the correct value's error scale does not bound a mistaken formula's rounding: the rule for naming
        loose = tolerance.mistake_scale(np.abs(value) if scale is None else scale, value)
        if key not in student or not compare(student[key], value, loose)[0]:
            return False
    return bool(changed)


def named(entry: Mistake | None) -> NamedMistake | None:
    """The entry as a part verdict records it."""
    return None if entry is None else NamedMistake(entry.id, entry.kind, entry.explain)
