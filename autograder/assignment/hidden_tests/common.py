"""The hidden tests' shared machinery: tasks and parts, the comparison rule, float64 references, case helpers.

For every exercise, randomized inputs (seeded per grading run) are generated on the trusted side, the
*reference* outputs are computed there from ``solutions/``, and the student's outputs, produced in the
sandbox (``autograder/sandbox/box/``) in a separate unprivileged process from the same inputs, are
compared there. Only plain arrays cross the boundary (``.npz`` read with ``allow_pickle=False``).

A *task* is one sandbox call (one set of inputs -> outputs, case by case); a *part* is a unit of credit.
Each part is all-or-nothing over its cases and worth a share of its exercise's points. Fairness policy:
every task runs with the *reference* implementation of its dependencies patched into the student's
module (``deps``): a wrong ``extract`` costs the ``extract`` points only, not ``q_sample``'s. A
dependency's reference code enters the sandbox only after that dependency's own task has been
answered, so it cannot be borrowed to pass its own test.

One module per exercise module (``schedules``, ``forward``... as in ``solutions/``) holds its
exercises' input makers (``make_*``), references (``ref_*``), error scales and part checks;
``per_run`` makes a run's inputs and references; the exercise table (``autograder/assignment/exercises.py``)
says which of them each exercise uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from autograder.sandbox.box import standins
from autograder.sandbox.box.calls import cases_of
from solutions import tolerance

# Tolerances: ``solutions/tolerance.py`` (shared with the self-checks). Each reference returns,
# next to every graded array ``key``, its error scale ``key.scale`` computed here in float64.


Arrays = dict[str, np.ndarray]  # a task's ``{case/key: array}`` (inputs, references, outputs), or one case's ``{key: array}``
PartCheck = Callable[[Arrays, Arrays, Arrays], tuple[bool, str]]  # check(inputs, reference, student) -> (ok, message)


@dataclass
class Part:
    """A unit of credit: ``check`` on the outputs of ``task``, worth ``weight`` shares of the exercise's points."""

    exercise: str
    name: str
    weight: float
    task: str
    check: PartCheck


@dataclass
class Task:
    """One sandbox call per case: inputs from ``make(rng)``, references from ``reference(inputs)``, and the
    student's outputs from ``call`` (a call spec, ``autograder/sandbox/box/calls.py``), with the reference
    ``deps`` patched in first. ``example_reference(arguments)``: ``(value, error scale)`` of the self-check's
    example, for exercises scaffolded by ``new-exercise``."""

    name: str
    exercise: str
    module: str
    deps: tuple[str, ...] = ()
    make: Callable[[np.random.Generator], Arrays] | None = None
    reference: Callable[[Arrays], Arrays] | None = None
    call: dict[str, Any] | None = None
    example_reference: Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]] | None = None


# ----------------------------------------------------------------------------- helpers


def as_numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().double().numpy() if torch.is_tensor(x) else x)


def as_tensor(a: Any, dtype: Any | None = None) -> torch.Tensor:
    t = torch.from_numpy(np.array(a))
    return t.to(dtype) if dtype is not None else t


def case_inputs(inputs: Arrays, case: str) -> Arrays:
    p = case + "/"
    return {k[len(p) :]: v for k, v in inputs.items() if k.startswith(p)}


def compare(student: Any, reference: Any, scale: Any = None) -> tuple[bool, str]:
    """(ok, message) for one student array against its float64 reference and error scale
    (the rule of ``solutions/tolerance.py``; ``scale`` None: ``|reference|``)."""
    if student is None:
        return False, "no output"
    s, r = np.asarray(student), np.asarray(reference)
    if s.shape != r.shape:
        return False, f"shape {tuple(s.shape)}, expected {tuple(r.shape)}"
    if s.dtype.kind not in "fiub":
        return False, f"not numeric ({s.dtype})"
    s = s.astype(np.float64)
    if not np.isfinite(s).all() and np.isfinite(r).all():
        return False, "non-finite values"
    ok, err, tol = tolerance.check(s, r, scale)
    if not ok:
        return False, f"wrong values (max error {err:.3g} where the tolerance is {tol:.3g})"
    return True, ""


class Float64(TorchFunctionMode):
    """Run reference code in float64 on float64 copies of the student's float32 inputs: casts to
    float32 written in the reference become float64, and random draws are made in float32 (the
    numbers the student's code draws from the same seed) and then widened."""

    RANDOM = (torch.randn, torch.randn_like, torch.rand, torch.rand_like)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.RANDOM:
            like = func in (torch.randn_like, torch.rand_like)
            if kwargs.get("dtype") in (None, torch.float32, torch.float64) and (not like or args[0].is_floating_point()):
                kwargs["dtype"] = torch.float32
                return func(*args, **kwargs).to(torch.float64)
            return func(*args, **kwargs)
        if func is torch.Tensor.float:
            return args[0].to(torch.float64)
        if kwargs.get("dtype") is torch.float32:
            kwargs["dtype"] = torch.float64
        if func is torch.Tensor.to:
            args = tuple(torch.float64 if a is torch.float32 else a for a in args)
        return func(*args, **kwargs)


def f64(a: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def abs_numpy(x: Any) -> np.ndarray:
    return np.abs(as_numpy(x))


def schedule_arrays(kind: str, T: int) -> dict[str, np.ndarray]:
    from solutions.schedules import DiffusionSchedule

    sched = DiffusionSchedule.from_name(kind, T)
    return {name: as_numpy(getattr(sched, name)).astype(np.float32) for name in standins.SCHEDULE_ATTRS}


SCHEDULE_CHOICES = (("linear", 1000), ("cosine", 1000), ("linear", 50), ("cosine", 50), ("cosine", 10))


def put_schedule(out: Arrays, case: str, kind: str, T: int) -> None:
    for name, arr in schedule_arrays(kind, T).items():
        out[f"{case}/sched.{name}"] = arr
    out[f"{case}/label"] = np.array(f"{kind} schedule, T={T}")


def schedule_from(ci: Arrays) -> standins.ScheduleData:
    return standins.ScheduleData({n: ci[f"sched.{n}"] for n in standins.SCHEDULE_ATTRS})


def timesteps(rng: np.random.Generator, B: int, T: int) -> np.ndarray:
    """B step indices that always include 0 and T-1 (when B >= 2)."""
    t = rng.integers(0, T, size=B)
    if B >= 2:
        t[0], t[1] = 0, T - 1
    return t.astype(np.int64)


def image_shape(rng: np.random.Generator) -> tuple[int, int, int, int]:
    return (int(rng.integers(2, 6)), int(rng.choice([1, 3])), int(rng.integers(3, 9)), int(rng.integers(3, 9)))


def state_dict_arrays(module: Any, out: Arrays, case: str) -> None:
    for key, value in module.state_dict().items():
        out[f"{case}/sd.{key}"] = as_numpy(value).astype(np.float32)


def raised(err: Any) -> str:
    """What a case's error says in feedback: a stub's own ``NotImplementedError`` is the one line
    "not implemented yet" (where to write it), anything else the error, shortened."""
    text = str(err)
    stub = text.split("NotImplementedError: COMPLETE THIS: ", 1)
    if text.startswith("NotImplementedError: COMPLETE THIS: ") and len(stub) == 2:
        from solutions.checks_expected import REGIONS

        found = REGIONS.get(stub[1].strip())
        where = f" in helpers/{found[1]}.py" if found else ""
        return f"not implemented yet (COMPLETE THIS{where})"
    return f"raised {text[:200]}"


def case_error(student: Arrays, case: str, label: object) -> str | None:
    """What feedback says when the student's code raised on ``case`` (None: it did not): a stub's
    "not implemented yet" alone, any other error after the case's label."""
    err = student.get(f"{case}/error")
    if err is None:
        return None
    message = raised(err)
    return message if message.startswith("not implemented yet") else f"{label}: {message}"


def all_cases_check(key: str = "out", select: Callable[[Arrays], bool] | None = None) -> PartCheck:
    """A part check: every case (optionally those ``select(case_inputs)`` keeps) matches the reference
    within the tolerance of its error scale ``reference[case/key.scale]``."""

    def check(inputs: Arrays, reference: Arrays, student: Arrays) -> tuple[bool, str]:
        n_ok = n = 0
        first = first_msg = ""
        for case in cases_of(inputs):
            ci = case_inputs(inputs, case)
            if select is not None and not select(ci):
                continue
            n += 1
            err = student.get(f"{case}/error")
            if err is not None:
                ok, msg = False, raised(err)
            else:
                scale = reference.get(f"{case}/{key}.scale")
                ok, msg = compare(student.get(f"{case}/{key}"), reference[f"{case}/{key}"], scale)
            n_ok += ok
            if not ok and not first:
                label = str(ci.get("label", case))
                first, first_msg = f"{label}: {msg}", msg
        if n_ok == 0 and n and first_msg.startswith("not implemented yet"):
            return False, first_msg  # a stub left as it is: one line, no case list
        return n_ok == n and n > 0, ("" if n_ok == n else f"{n - n_ok} of {n} cases fail; e.g. {first}")

    return check


def schedule64(ci: Arrays) -> standins.ScheduleData:
    """The case's (float32) schedule constants as float64 tensors."""
    with Float64():
        return schedule_from(ci)


def at_steps(array: Any, t: Any, ndim: int) -> np.ndarray:
    return as_numpy(array)[np.asarray(t)].reshape(-1, *([1] * (ndim - 1)))


def model_scale(model: Any, x: Any, x_scale: Any, t: Any) -> np.ndarray:
    """Error scale of the stand-in model ``tanh(W x + b) + 0.01 sin(0.37 t)`` on an input that
    carries rounding errors of scale ``x_scale`` (the channel sums, tanh and the sine's argument)."""
    w, b = abs_numpy(model.weight), abs_numpy(model.bias)[None, :, None, None]
    mixed = np.einsum("oc,bchw->bohw", w, abs_numpy(x) + np.asarray(x_scale)) + b
    t = abs_numpy(t).reshape(-1, 1, 1, 1)
    return mixed * w.shape[1] + 2.0 + 0.01 * (1.0 + 0.37 * t)


def loss_scale(loss_type: str, pred: Any, noise: Any, pred_scale: Any, loss: float) -> float:
    d, n = as_numpy(pred) - as_numpy(noise), as_numpy(noise).size
    weight = {"l2": 2.0 * np.abs(d), "l1": np.ones_like(d), "huber": np.minimum(np.abs(d), 1.0)}[loss_type]
    return float(np.mean(weight * (pred_scale + abs_numpy(noise) + np.abs(d)))) + abs(loss) * (2.0 + math.log2(n))


def schedule_condition(sched: Any, t: Any, ndim: int, t_prev: Any | None = None) -> np.ndarray:
    """``4 + cond(1 - abar_t) + cond(1 - abar_prev)``: how much the schedule constants' own float32
    rounding is amplified where a step uses ``1 - abar`` (the constants are consistent with each
    other only up to their rounding, so equal formulas disagree by this much)."""
    abar = at_steps(sched.alphas_cumprod, t, ndim)
    prev = at_steps(sched.alphas_cumprod_prev, t, ndim) if t_prev is None else t_prev
    return 4.0 + tolerance.condition_one_minus(abar) + tolerance.condition_one_minus(prev)


def seeded_z(shape: Any, seed: Any) -> torch.Tensor:
    torch.manual_seed(int(seed))
    return torch.randn(shape)
