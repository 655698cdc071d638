"""Hidden tests of scaffolded exercises (``new-exercise``): a function of scalars and arrays, or a class
(an ``nn.Module`` built from constructor arguments, then called), graded on random cases.

``cases(rng)`` gives the cases: ``{argument: value}`` for a function, ``{"init": {...}, "forward": {...}}``
for a class. The sandbox calls the student's code with the case's values (arrays as float32 tensors), the
reference calls the solution the same way in float64, and a value passes within ``roundings`` float32
roundings of its error scale: its own magnitude for a function, its magnitude plus the case's mean
magnitude for a class (whose outputs are sums of mixed signs). A class's parameters are the reference's,
drawn at random here and loaded into the student's module (the names in ``state_dict()`` must match).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from autograder.assignment.hidden_tests.common import Arrays, Float64, Task, as_numpy, as_tensor, case_inputs, cases_of, f64
from autograder.sandbox.box import calls as C

Cases = Callable[[np.random.Generator], list[dict[str, Any]]]
EXAMPLE_SEED = 0  # the self-check of a class builds it after torch.manual_seed(EXAMPLE_SEED), as its reference does


def function_task(name: str, module: str, cases: Cases, roundings: float = 16.0) -> Task:
    """The task of function exercise ``solutions.<module>.<name>``: each case's values as keyword arguments."""

    def make(rng: np.random.Generator) -> Arrays:
        out: Arrays = {}
        for i, case in enumerate(cases(rng)):
            _put_arguments(out, f"c{i}/", case)
            out[f"c{i}/label"] = np.array(", ".join(f"{k}={_short(v)}" for k, v in case.items()))
        return out

    def reference(inputs: Arrays) -> Arrays:
        out: Arrays = {}
        for c in cases_of(inputs):
            ci = {k: v for k, v in case_inputs(inputs, c).items() if k != "label"}
            out[f"{c}/out"], out[f"{c}/out.scale"] = function_reference(module, name, ci, roundings)
        return out

    def example(arguments: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return function_reference(module, name, arguments, roundings)

    call = C.returns(C.call(name, kwargs_from=C.case_arguments("", exclude=("label",))))
    return Task(name, "", module, (), make, reference, call=call, example_reference=example)


def function_reference(module: str, name: str, arguments: dict[str, Any], roundings: float) -> tuple[np.ndarray, np.ndarray]:
    """``(value, error scale)`` of ``solutions.<module>.<name>(**arguments)`` in float64."""
    function = getattr(importlib.import_module(f"solutions.{module}"), name)
    with _float64_default():
        value = as_numpy(function(**{k: _argument(v) for k, v in arguments.items()}))
    return value, roundings * np.abs(value)


def class_task(name: str, module: str, cases: Cases, roundings: float = 64.0) -> Task:
    """The task of class exercise ``solutions.<module>.<name>``: ``Name(**init)`` with the reference's
    parameters loaded, then called with ``forward``'s values as keyword arguments."""

    def make(rng: np.random.Generator) -> Arrays:
        cls = getattr(importlib.import_module(f"solutions.{module}"), name)
        out: Arrays = {}
        for i, case in enumerate(cases(rng)):
            _put_arguments(out, f"c{i}/init.", case["init"])
            _put_arguments(out, f"c{i}/forward.", case["forward"])
            torch.manual_seed(int(rng.integers(1 << 30)))
            for key, value in cls(**{k: _argument(v, f64_floats=False) for k, v in case["init"].items()}).state_dict().items():
                out[f"c{i}/sd.{key}"] = as_numpy(value).astype(np.float32)
            init = ", ".join(f"{k}={_short(v)}" for k, v in case["init"].items())
            forward = ", ".join(f"{k}={_short(v)}" for k, v in case["forward"].items())
            out[f"c{i}/label"] = np.array(f"{name}({init})({forward})")
        return out

    def reference(inputs: Arrays) -> Arrays:
        out: Arrays = {}
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            state = {k[3:]: torch.from_numpy(np.array(v)) for k, v in ci.items() if k.startswith("sd.")}
            value = class_reference(module, name, _prefixed(ci, "init."), _prefixed(ci, "forward."), state)
            out[f"{c}/out"], out[f"{c}/out.scale"] = value, roundings * (np.abs(value) + np.abs(value).mean())
        return out

    def example(arguments: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        value = class_reference(module, name, arguments["init"], arguments["forward"], None)
        return value, roundings * (np.abs(value) + np.abs(value).mean())

    call = C.spec(
        C.let("module", C.load_state(C.call(name, kwargs_from=C.case_arguments("init.")))),
        C.out("out", C.call(C.ref("module"), kwargs_from=C.case_arguments("forward."))),
    )
    return Task(name, "", module, (), make, reference, call=call, example_reference=example)


def class_reference(
    module: str, name: str, init: dict[str, Any], forward: dict[str, Any], state: dict[str, torch.Tensor] | None
) -> np.ndarray:
    """``solutions.<module>.<name>(**init)(**forward)`` in float64, with the parameters ``state`` (None: those
    drawn after ``torch.manual_seed(EXAMPLE_SEED)``, as the self-check draws them)."""
    cls = getattr(importlib.import_module(f"solutions.{module}"), name)
    if state is None:
        torch.manual_seed(EXAMPLE_SEED)
    instance = cls(**{k: _argument(v, f64_floats=False) for k, v in init.items()})
    if state is not None:
        instance.load_state_dict(state, strict=True)
    instance = instance.eval().double()
    with torch.no_grad(), _float64_default():
        return as_numpy(instance(**{k: _argument(v) for k, v in forward.items()}))


class _float64_default:  # noqa: N801 - used as a context manager, like torch.no_grad
    """Float64 mode, with tensors the reference creates itself in float64 too."""

    def __enter__(self) -> None:
        self.default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        self.mode = Float64()
        self.mode.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.mode.__exit__(*exc)
        torch.set_default_dtype(self.default)


def _put_arguments(out: Arrays, prefix: str, values: dict[str, Any]) -> None:
    for arg, value in values.items():
        value = np.asarray(value)
        out[f"{prefix}{arg}"] = value.astype(np.float32) if value.dtype.kind == "f" and value.ndim else value


def _prefixed(ci: Arrays, prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in ci.items() if k.startswith(prefix)}


def _short(value: Any) -> str:
    value = np.asarray(value)
    return f"array{tuple(value.shape)}" if value.ndim else f"{value.item():.4g}" if value.dtype.kind == "f" else str(value.item())


def _argument(value: Any, f64_floats: bool = True) -> Any:
    """A case's input as the reference receives it: a Python scalar, or a tensor (float64 arrays where
    ``f64_floats``; constructor arguments keep float32, as the student's get them)."""
    value = np.asarray(value)
    if value.ndim == 0:
        return value.item()
    if value.dtype.kind == "f":
        return f64(value) if f64_floats else as_tensor(value.astype(np.float32))
    return as_tensor(value)
