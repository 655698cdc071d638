"""Known mistakes (mutants) of the reference solutions, for ``python -m autograder validate``.

Each mutant is a text replacement inside one solution region, listed under its exercise in
``autograder/assignment/exercises.py``. ``pitfall`` names the
contract §5 pitfall it stands for (None: another mistake found while writing the
tests). Every mutant must lose points on ``exercise``: a surviving mutant means the
hidden tests have a blind spot. A mutant whose ``old`` text is no longer in
``solutions/`` is reported as stale (validate fails) so the library follows the code.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    exercise: str
    module: str
    old: str
    new: str
    pitfall: str = None
    count: int = 1  # how many occurrences to replace (0: all)


def __getattr__(name):
    """``MUTANTS``: listed per exercise in the exercise table (``autograder/assignment/exercises.py``)."""
    if name == "MUTANTS":
        from autograder.assignment.exercises import MUTANTS

        return MUTANTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def apply(mutant, source):
    """The module text with the mutation applied; ValueError when it does not apply."""
    if mutant.old not in source:
        raise ValueError(f"mutant {mutant.id}: text not found in solutions/{mutant.module}.py (stale mutant)")
    return source.replace(mutant.old, mutant.new, mutant.count if mutant.count else -1)
