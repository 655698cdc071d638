"""Known mistakes (mutants) of the reference solutions, for ``python -m autograder validate``.

Each mutant is a text replacement inside one solution region, listed under its exercise in the exercise
table (``autograder/assignment/exercises.py``, which defines ``Mutant``). Every mutant must lose points on
its exercise: a surviving mutant means the hidden tests have a blind spot. A mutant whose ``old`` text
is no longer in ``solutions/`` is reported as stale (validate fails) so the library follows the code.
"""

from autograder.assignment.exercises import MUTANTS, Mutant

__all__ = ["MUTANTS", "Mutant", "apply"]


def apply(mutant: Mutant, source: str) -> str:
    """The module text with the mutation applied; ValueError when it does not apply."""
    if mutant.old not in source:
        raise ValueError(f"mutant {mutant.id}: text not found in solutions/{mutant.module}.py (stale mutant)")
    return source.replace(mutant.old, mutant.new, mutant.count if mutant.count else -1)
