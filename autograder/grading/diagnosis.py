"""The grader's diagnosis: which known mistake a failed part's outputs match.

For a part that failed, each catalogue entry of its exercise (``autograder/assignment/catalogue/``) is run
as a mutated *reference* on this run's hidden inputs, on the trusted side (our own code, never the
student's), and the student's outputs are compared with it: by the part's own check, and output by
output within ``tolerance.mistake_scale``. Of the entries that the part itself rejects and the student's
outputs match, the closest names the mistake; when none does, the feedback says that no known mistake
matches. Mutated references are
computed once per run and entry, when a part first needs them.
"""

from __future__ import annotations

import math
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
        """The entry that ``result``'s outputs match on ``part`` (the closest, when several do), or None."""
        found = self.matches(part, result)
        return min(found)[2] if found else None

    def matches(self, part: Part, result: TaskResult) -> list[tuple[float, int, Mistake]]:
        """``[(distance, catalogue order, entry)]``: every entry that ``result``'s outputs match on ``part``."""
        if result.status != "ok":
            return []
        inputs, correct = self.inputs[part.task], self.references[part.task]
        matches: list[tuple[float, int, Mistake]] = []  # sortable: no two share an order
        for order, entry in enumerate(self.entries):
            if entry.exercise != part.exercise:
                continue
            mutated = self.mutated_reference(entry, part.task)
            if mutated is None:
                continue
            if isinstance(mutated, str):
                if raised_the_same(mutated, result.outputs):
                    matches.append((0.0, order, entry))
                continue
            try:
                if part.check(inputs, correct, mutated)[0]:
                    continue  # this entry passes the part: it cannot be what failed it
                distance = closeness(mutated, correct, result.outputs)
                if distance > 1.0 and part.check(inputs, mutated, result.outputs)[0]:
                    distance = 1.0  # the part's own check matches it, within the part's tolerance
            except Exception:  # a check that cannot read the mutated outputs names nothing
                continue
            if distance <= 1.0:
                matches.append((distance, order, entry))
        return matches


def raised_the_same(error: str, student: Arrays) -> bool:
    """Some case of the student's raised ``error`` (the sandbox keeps a case's error as ``case/error``)."""
    head = error.split("\n", 1)[0]
    return any(key.endswith("/error") and str(value).split("\n", 1)[0] == head for key, value in student.items())


def closeness(mutated: Arrays, correct: Arrays, student: Arrays) -> float:
    """How far the student's outputs are from the mutated reference's, on every output the mistake changes:
    the worst error over its tolerance (``tolerance.mistake_scale``: at most 1 is a match; inf: no output to
    compare, or an output the mistake leaves right is wrong in the student's). For parts whose check
    derives its expected values from the inputs, or judges a random draw by its statistics, this is the
    only comparison; for the others it ranks entries that both match."""
    worst, changed = 0.0, 0
    for key, value in mutated.items():
        if key.endswith(".scale") or key not in correct:
            continue
        value, right = np.asarray(value, dtype=np.float64), np.asarray(correct[key], dtype=np.float64)
        if value.shape == right.shape and np.allclose(value, right, rtol=1e-9, atol=1e-12, equal_nan=True):
            # the mistake does not change this output: the student's must be right there, or this entry
            # explains only part of what is wrong (another, larger mistake is the better name)
            if key in student and not compare(student[key], right, correct.get(f"{key}.scale"))[0]:
                return math.inf
            continue
        changed += 1
        if key not in student:
            return math.inf
        scale = mutated.get(f"{key}.scale", correct.get(f"{key}.scale"))
        loose = tolerance.mistake_scale(np.abs(value) if scale is None else scale, value)
        worst = max(worst, tolerance.distance(np.asarray(student[key], dtype=np.float64), value, loose))
    return worst if changed else math.inf


def named(entry: Mistake | None) -> NamedMistake | None:
    """The entry as a part verdict records it."""
    return None if entry is None else NamedMistake(entry.id, entry.kind, entry.explain)
