"""The self-checks' known mistakes, from the catalogue: each entry's mutated reference run through its check.

For every catalogue entry (``autograder/assignment/catalogue/``), the exercise's self-check runs on the
reference with the entry applied, in float64, with every compared value recorded (``checks.recording``)
instead of checked. Normal draws are replaced by a constant ``z``: a run with ``z = 0`` and one with
``z = 1`` give each value's mean and its noise coefficient, so the shipped numbers do not depend on
torch's random number generator (the check adds ``coef * z`` for the z its own seed gives). Values that
equal the reference's are dropped: there the mistake does not show. The result is what
``checks_expected.MISTAKES``, ``EXPLAIN`` and ``DEPENDS`` hold.
"""

from __future__ import annotations

import contextlib
import io
from contextlib import ExitStack
from typing import Any

import torch

from autograder.assignment import exercises, mutants
from autograder.assignment.catalogue import Mistake
from autograder.assignment.hidden_tests.common import Float64
from autograder.authoring.self_check_values.inputs import Values, literal
from solutions import checks

Observed = dict[str, Any]  # {what: value} of one run of a check


class ControlledNoise(Float64):
    """The hidden tests' float64 mode, with every normal draw the constant ``z``."""

    def __init__(self, z: float) -> None:
        super().__init__()
        self.z = z

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is torch.randn_like:
            return torch.full(tuple(args[0].shape), self.z, dtype=torch.float64, device=args[0].device)
        if func is torch.randn:
            size = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else args
            return torch.full(tuple(size), self.z, dtype=torch.float64)
        return super().__torch_function__(func, types, args, kwargs)


def observe(exercise: str, mutant: Mistake | None = None, z: float = 0.0) -> Observed:
    """``{what: value}`` that ``check_<exercise>`` compares, run on the reference (``mutant`` applied)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # modules the check builds hold float64 parameters
    try:
        with ExitStack() as stack:
            if mutant is not None:
                stack.enter_context(mutants.swapped_in(mutant, checks))
            values = stack.enter_context(checks.recording())
            stack.enter_context(ControlledNoise(z))
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            try:
                getattr(checks, f"check_{exercise}")()
            except Exception:  # noqa: S110 - a structural failure ends the run; what was compared so far counts
                pass
    finally:
        torch.set_default_dtype(previous)
    return values


def _split(zero: Any, one: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(mean, noise coefficient) of a value seen with z = 0 and z = 1, or None when it is no finite tensor."""
    if not (torch.is_tensor(zero) and torch.is_tensor(one)) or zero.shape != one.shape:
        return None
    if not (bool(torch.isfinite(zero).all()) and bool(torch.isfinite(one).all())):
        return None
    return zero, one - zero


def stored_points(value: torch.Tensor) -> torch.Tensor:
    """A value as the file stores it: whole, or flat at ``checks.sample_index`` points when it is large."""
    if value.numel() <= checks.MISTAKE_POINTS:
        return value
    return value.flatten()[checks.sample_index(value.numel())]


def _same(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor] | None) -> bool:
    if b is None or a[0].shape != b[0].shape:
        return False
    return all(torch.allclose(x, y, rtol=1e-9, atol=1e-12) for x, y in zip(a, b))


def mistake_values() -> Values:
    """``{"MISTAKES": {exercise: {what: [[id, mean, coef or None]]}}, "EXPLAIN": {id: [kind, sentence]},
    "DEPENDS": {exercise: [exercises it calls]}}`` for ``checks_expected.py``."""
    found: dict[str, dict[str, list[Any]]] = {}
    explain: dict[str, list[str]] = {}
    for exercise in exercises.EXERCISES:
        if not hasattr(checks, f"check_{exercise}"):
            continue
        correct_zero, correct_one = observe(exercise), observe(exercise, z=1.0)
        for entry in exercises.MUTANTS:
            if entry.exercise != exercise:
                continue
            explain[entry.id] = [entry.kind, entry.explain]
            zero, one = observe(exercise, entry), observe(exercise, entry, z=1.0)
            for what, value in zero.items():
                split = _split(value, one.get(what))
                if split is None or _same(split, _split(correct_zero.get(what), correct_one.get(what))):
                    continue
                mean, coef = (stored_points(value) for value in split)
                # 4 digits: a mistake matches within about 1 % (tolerance.mistake_scale), and the file stays small
                stored = [entry.id, literal(mean, 4), literal(coef, 4) if bool(coef.abs().max() > 0) else None]
                found.setdefault(exercise, {}).setdefault(what, []).append(stored)
    return {"MISTAKES": found, "EXPLAIN": explain, "DEPENDS": dependencies()}


def dependencies() -> dict[str, list[str]]:
    """``{exercise: [the exercises it calls]}``, from the table's reference dependencies (``Block.__init__``
    is ``Block``; ``q_sample@guidance`` is ``q_sample``; stand-ins are no exercise)."""
    depends: dict[str, list[str]] = {}
    for task in exercises.TASKS:
        for dep in task.deps:
            name = dep.split("@", 1)[0].split(".", 1)[0]
            if name in exercises.BY_ID and name != task.exercise:
                depends.setdefault(task.exercise, [])
                if name not in depends[task.exercise]:
                    depends[task.exercise].append(name)
    return depends
