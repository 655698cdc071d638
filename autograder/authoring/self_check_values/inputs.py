"""What every self-check value is computed from: the checks' fixed schedule in its three forms, and the
conversion of results to the literals ``checks_expected.py`` holds (values to 10 digits, error scales to 3)."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# the hidden tests' float64 mode and error scales: the self-checks' tolerances are the grader's
from autograder.assignment.hidden_tests import Float64
from solutions import checks as C
from solutions import schedules

# Expected values (and error scales) by the name the self-checks read them under, e.g. "Q_SAMPLE"
Values = dict[str, Any]
# A ``checks.FrozenSchedule``: its constants are attributes set when it is built, which a type checker cannot see
Schedule = Any


def literal(tensor: Any, digits: int = 10) -> Any:
    """A tensor or array as nested lists of floats rounded to ``digits`` significant digits (a literal)."""
    tensor = torch.as_tensor(np.asarray(tensor) if not torch.is_tensor(tensor) else tensor).detach().double().cpu()
    if tensor.ndim == 0:
        return float(f"{float(tensor):.{digits}g}")
    return [literal(row, digits) for row in tensor]


def error_scale(array: Any) -> Any:
    """An error scale, to 3 digits (it only sets a tolerance)."""
    return literal(array, 3)


def f64(tensor: torch.Tensor) -> torch.Tensor:
    """A float64 copy of a float32 input."""
    return tensor.detach().to(torch.float64)


def eps_model_scale(x: torch.Tensor, t: torch.Tensor) -> np.ndarray:
    """The error scale of ``checks.eps_model``'s output (0.5 x - 0.2 + 0.05 (t + 1)) on an exact input."""
    return 0.5 * x.abs().numpy() + 0.2 + 0.05 * (t.double().numpy() + 1.0).reshape(-1, 1, 1, 1)


@dataclass(frozen=True)
class CheckSchedule:
    """The checks' fixed schedule (``checks.fixed_betas()``), in the forms the values are computed from."""

    frozen64: dict[str, torch.Tensor]  # the reference DiffusionSchedule's constants, float64
    schedule: Schedule  # the same in float32, as the checks pass it
    sched64: Schedule  # a float64 copy of the float32 one: what the reference runs on
    inputs: dict[str, np.ndarray]  # {"sched.<name>": array}, as the hidden tests' scale functions take it

    @classmethod
    def build(cls) -> "CheckSchedule":
        with Float64():
            reference = schedules.DiffusionSchedule(f64(C.fixed_betas()))
        frozen64 = {name: getattr(reference, name) for name in C.SCHEDULE_FIELDS}
        schedule = C.FrozenSchedule(**frozen64)
        inputs = {f"sched.{name}": getattr(schedule, name).numpy() for name in C.SCHEDULE_FIELDS}
        with Float64():
            sched64 = C.FrozenSchedule(**{name: getattr(schedule, name) for name in C.SCHEDULE_FIELDS})
        return cls(frozen64, schedule, sched64, inputs)
