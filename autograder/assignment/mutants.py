"""The catalogue's entries as mutants of the reference: the mutated source, and the mutated module in place.

``validate`` grades each mutated source like a hand-in (every mutant must lose points on its exercise
and be named there). The self-check values and the grader's diagnosis run the mutated *reference* on the
trusted side: ``swapped_in(mutant)`` puts the mutated ``solutions.<module>`` in place of the reference
while its block runs. The swap changes process-wide state (``sys.modules``), so it holds ``LOCK``, which
code computing references from ``solutions/`` takes too.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autograder.assignment.catalogue import Mistake
from autograder.assignment.exercises import MUTANTS
from autograder.paths import SOLUTIONS

__all__ = ["LOCK", "MUTANTS", "Mistake", "apply", "mutated_module", "swapped_in"]

LOCK = threading.RLock()


def apply(mutant: Mistake, source: str) -> str:
    """The module text with the mutation applied; ValueError when it does not apply."""
    if mutant.old not in source:
        raise ValueError(f"mutant {mutant.id}: text not found in solutions/{mutant.module}.py (stale mutant)")
    return source.replace(mutant.old, mutant.new, mutant.count if mutant.count else -1)


def mutated_module(mutant: Mistake) -> types.ModuleType:
    """A fresh ``solutions.<module>`` built from the reference's source with ``mutant`` applied."""
    path = SOLUTIONS / f"{mutant.module}.py"
    name = f"solutions.{mutant.module}"
    module = types.ModuleType(name)
    module.__file__, module.__package__ = str(path), "solutions"
    exec(compile(apply(mutant, path.read_text()), str(path), "exec"), module.__dict__)  # our own reference, mutated
    return module


@contextmanager
def swapped_in(mutant: Mistake, *namespaces: Any) -> Iterator[types.ModuleType]:
    """While the block runs, ``solutions.<module>`` is the mutated module: in ``sys.modules``, on the
    ``solutions`` package and under its name in each of ``namespaces`` (modules that imported it)."""
    import solutions

    with LOCK:
        mutated = mutated_module(mutant)
        name = f"solutions.{mutant.module}"
        saved = sys.modules.get(name)
        owners = [solutions, *namespaces]
        before = [getattr(owner, mutant.module, None) for owner in owners]
        sys.modules[name] = mutated
        for owner in owners:
            setattr(owner, mutant.module, mutated)
        try:
            yield mutated
        finally:
            if saved is not None:
                sys.modules[name] = saved
            for owner, value in zip(owners, before):
                setattr(owner, mutant.module, value)
