"""The catalogue of known mistakes: the one list of them, everything that names a mistake derives from it.

Each entry (``entry.Mistake``) is a text mutation of one solution region, with the sentence that explains
it to a student and whether it is a mistake or a valid alternative the exercise does not ask for. One
module per exercise module (``catalogue/forward.py`` holds ``q_sample``'s...). From the entries come:

* the mutants ``python -m autograder validate`` grades: each must lose points on its exercise, and the
  grader must name it (``autograder/assignment/mutants.py``);
* the self-checks' mistake values: ``python -m autograder helpers`` runs each check on the mutated
  reference and ships the numbers in ``solutions/checks_expected.py`` (``authoring/self_check_values``);
* the grader's diagnosis: a failed part is compared with the mutated references on the same hidden
  inputs (``autograder/grading/diagnosis.py``) and the feedback, ``report.json`` and the harnesses name
  the entry that matches.

Adding a mistake: one ``M(id, "text in the solution region", "the mistaken text", "what the student did
and what to do instead")`` under its exercise, then ``python -m autograder helpers`` and ``validate``.
"""

from __future__ import annotations

from dataclasses import replace

from autograder.assignment.catalogue import ddim, forward, guidance, likelihood, losses, posterior, sampling, schedules, unet
from autograder.assignment.catalogue.entry import A, Kind, M, Mistake

__all__ = ["ENTRIES", "A", "Kind", "M", "Mistake", "by_exercise", "by_id"]

_MODULES = {
    m.__name__.rsplit(".", 1)[1]: m.ENTRIES
    for m in (schedules, forward, losses, posterior, unet, sampling, likelihood, ddim, guidance)
}

ENTRIES: list[Mistake] = [
    replace(entry, exercise=exercise, module=module)
    for module, listed in _MODULES.items()
    for exercise, entries in listed.items()
    for entry in entries
]


def by_exercise(exercise: str) -> list[Mistake]:
    """The catalogue's entries of one exercise, in the catalogue's order."""
    return [entry for entry in ENTRIES if entry.exercise == exercise]


def by_id() -> dict[str, Mistake]:
    """``{id: entry}`` over the catalogue."""
    return {entry.id: entry for entry in ENTRIES}
