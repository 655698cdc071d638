"""How the sandbox calls the student's code for one hidden-test case: a call spec, as data.

Every task of the exercise table (``autograder/assignment/exercises.py``) carries a *call spec*: a small
JSON-able dict that the trusted grader sends with the task and that :func:`run_case` interprets inside
the sandbox, case by case, on the case's arrays. No per-exercise code runs in the box: a new exercise
is a new spec. This file is copied into every box beside ``sandbox_runner.py`` and imported by it (and
by the tests, which drive the student side in-process), so it imports nothing but ``torch`` and
``numpy``; the box's stand-ins (``standins.py``) are passed in.

A spec is ``{"module": M, "steps": [step, ...]}``, the steps run in order:

- ``{"let": name, "value": expr}``: bind ``name`` for later ``{"ref": name}``;
- ``{"seed": expr}``: ``torch.manual_seed(int(value))`` (right before the call it precedes);
- ``{"out": name, "value": expr}``: an output of the case;
- ``{"unpack": [name, ...], "value": expr}``: named outputs of a returned tuple (``mean, variance``);
- ``{"attributes": [name, ...], "of": expr}``: one output per attribute, or ``name.error`` saying
  why reading it failed (the others are still graded).

An ``expr`` is a dict with one kind key (a *key* names an array of the case: ``"x_0"``, or
``["config", 2]`` for one element of it):

- ``{"tensor": key}`` (``"dtype": "bool"`` casts; ``"optional": true`` gives None for a missing key),
  ``{"int": key}``, ``{"float": key}``, ``{"str": key}``, ``{"bool": key}``, ``{"shape": key}`` (a tuple
  of ints), ``{"size": [key, axis]}`` (one dimension of an array), ``{"const": value}``;
- ``{"schedule": prefix}``: the stand-in schedule built from the case's ``prefix.<attribute>`` arrays;
- ``{"full": expr, "size": [key, axis]}``: ``torch.full((n,), int(value), dtype=torch.long)``;
- ``{"generator": expr}``: ``torch.Generator().manual_seed(int(value))``;
- ``{"student": "name"}`` (an attribute of the student's module ``M``, or of ``"module"``),
  ``{"standin": "name"}`` (of the stand-ins), ``{"ref": name}``, ``{"attr": [expr, name]}``,
  ``{"tuple": [expr, ...]}``;
- ``{"call": expr, "args": [...], "kwargs": {...}}``, where ``"kwargs_from": {"prefix": p, "exclude":
  [...]}`` adds every case array whose key starts with ``p`` (a 0-d array as a Python scalar, others as
  tensors);
- ``{"load_state": expr, "prefix": "sd."}``: load the case's state dict (``sd.<key>`` arrays) into the
  module, strictly, and put it in eval mode;
- ``{"last_call": expr}``, ``{"call_count": expr}``: what a recording stand-in model saw;
- ``{"or_none": expr}``: the value, or None where it is falsy (``time_emb_dim=0``);
  ``{"when": expr, "value": expr}``: the value where ``when`` is truthy, else None.

The builders below (``call``, ``tensor``...) write specs for the table; :func:`run_case` reads them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

Spec = dict[str, Any]
Key = str | list[Any] | tuple[Any, ...]
MAX_STEPS = 64  # specs come from the trusted side; a bound keeps a malformed one from running away
MAX_DEPTH = 32
MAX_ELEMENTS = 5_000_000  # an output larger than this is refused (it would only fill memory on the trusted side)
# the kind keys of an expression, in the order they are looked for ("full" holds a "size" too)
KINDS = ("tensor", "int", "float", "str", "bool", "shape", "full", "size", "const", "schedule", "generator", "student",
         "standin", "ref", "attr", "tuple", "call", "load_state", "last_call", "call_count", "or_none", "when")  # fmt: skip


# ----------------------------------------------------------------------------- builders (trusted side)


def key_of(key: Key) -> str | list[Any]:
    return list(key) if isinstance(key, (list, tuple)) else key


def tensor(key: Key, dtype: str | None = None, optional: bool = False) -> Spec:
    """The case's array as a tensor (``torch.from_numpy``: its own dtype), optionally cast."""
    spec: Spec = {"tensor": key_of(key)}
    if dtype:
        spec["dtype"] = dtype
    if optional:
        spec["optional"] = True
    return spec


def integer(key: Key) -> Spec:
    return {"int": key_of(key)}


def number(key: Key) -> Spec:
    return {"float": key_of(key)}


def text(key: Key) -> Spec:
    return {"str": key_of(key)}


def flag(key: Key) -> Spec:
    return {"bool": key_of(key)}


def shape(key: Key) -> Spec:
    return {"shape": key_of(key)}


def size(key: str, axis: int) -> Spec:
    return {"size": [key, axis]}


def const(value: Any) -> Spec:
    return {"const": value}


def schedule(prefix: str = "sched") -> Spec:
    return {"schedule": prefix}


def steps_full(value: Spec, like: str) -> Spec:
    """``torch.full((B,), int(value), dtype=torch.long)`` with ``B`` the first dimension of array ``like``."""
    return {"full": value, "size": [like, 0]}


def generator(value: Spec) -> Spec:
    return {"generator": value}


def student(name: str, module: str | None = None) -> Spec:
    return {"student": name, **({"module": module} if module else {})}


def standin(name: str, *args: Spec) -> Spec:
    """A stand-in of ``standins.py`` (``StandInModel``...), called with ``args``."""
    return {"call": {"standin": name}, "args": list(args), "kwargs": {}}


def ref(name: str) -> Spec:
    return {"ref": name}


def attr(value: Spec, name: str) -> Spec:
    return {"attr": [value, name]}


def pair(*values: Spec) -> Spec:
    return {"tuple": list(values)}


def call(target: Spec | str, *args: Spec, kwargs_from: Spec | None = None, **kwargs: Spec) -> Spec:
    """``target(*args, **kwargs)``; a string target is an attribute of the student's module."""
    spec: Spec = {"call": student(target) if isinstance(target, str) else target, "args": list(args), "kwargs": kwargs}
    if kwargs_from is not None:
        spec["kwargs_from"] = kwargs_from
    return spec


def layers(module: Spec, names: tuple[str, ...], value: Spec) -> Spec:
    """``module.<names[-1]>(... module.<names[0]>(value))``: a module's layers chained, first to last."""
    for name in names:
        value = call(attr(module, name), value)
    return value


def case_arguments(prefix: str = "", exclude: tuple[str, ...] = ("label",)) -> Spec:
    """For ``call(..., kwargs_from=...)``: the case's arrays under ``prefix`` as keyword arguments."""
    return {"prefix": prefix, "exclude": list(exclude)}


def load_state(module: Spec, prefix: str = "sd.") -> Spec:
    return {"load_state": module, "prefix": prefix}


def last_call(model: Spec) -> Spec:
    return {"last_call": model}


def call_count(model: Spec) -> Spec:
    return {"call_count": model}


def or_none(value: Spec) -> Spec:
    return {"or_none": value}


def when(condition: Spec, value: Spec) -> Spec:
    return {"when": condition, "value": value}


def let(name: str, value: Spec) -> Spec:
    return {"let": name, "value": value}


def seed(value: Spec) -> Spec:
    return {"seed": value}


def out(name: str, value: Spec) -> Spec:
    return {"out": name, "value": value}


def unpack(names: tuple[str, ...], value: Spec) -> Spec:
    return {"unpack": list(names), "value": value}


def attributes(names: tuple[str, ...], of: Spec) -> Spec:
    return {"attributes": list(names), "of": of}


def spec(*steps: Spec) -> Spec:
    """A call spec; the table adds its exercise's module."""
    return {"steps": list(steps)}


def returns(value: Spec) -> Spec:
    """The common case: one call whose result is the output ``out``."""
    return spec(out("out", value))


# ----------------------------------------------------------------------------- the interpreter (in the box)


def as_tensor(array: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def argument(value: Any) -> Any:
    """A case's input as a keyword argument: a 0-d array as a Python scalar, anything else as a tensor."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else as_tensor(value)


def unpacked(value: Any, n: int) -> list[Any]:
    """``a, b = value`` for ``n`` names, with Python's own errors."""
    try:
        items = iter(value)
    except TypeError:
        raise TypeError(f"cannot unpack non-iterable {type(value).__name__} object") from None
    found = []
    for item in items:
        found.append(item)
        if len(found) > n:
            raise ValueError(f"too many values to unpack (expected {n})")
    if len(found) < n:
        raise ValueError(f"not enough values to unpack (expected {n}, got {len(found)})")
    return found


class Case:
    """One case's evaluation: its arrays, the student's modules, the stand-ins and the names bound so far."""

    def __init__(self, arrays: dict[str, Any], modules: dict[str, Any], standins: Any, module: str | None) -> None:
        self.arrays, self.modules, self.standins, self.module = arrays, modules, standins, module
        self.names: dict[str, Any] = {}

    def array(self, key: Any) -> Any:
        if isinstance(key, list) and len(key) == 2 and isinstance(key[0], str):
            return self.arrays[key[0]][int(key[1])]
        if isinstance(key, str):
            return self.arrays[key]
        raise ValueError(f"bad key in call spec: {key!r}")

    def value(self, expr: Any, depth: int = 0) -> Any:  # noqa: C901 - one branch per kind of the spec language
        if depth > MAX_DEPTH or not isinstance(expr, dict) or not expr:
            raise ValueError(f"bad expression in call spec: {str(expr)[:80]}")
        kind = next((k for k in KINDS if k in expr), None)
        if kind == "tensor":
            if expr.get("optional") and isinstance(expr["tensor"], str) and expr["tensor"] not in self.arrays:
                return None
            result = as_tensor(self.array(expr["tensor"]))
            return result.to(getattr(torch, str(expr["dtype"]))) if expr.get("dtype") else result
        if kind in ("int", "float", "str", "bool"):
            return {"int": int, "float": float, "str": str, "bool": bool}[kind](self.array(expr[kind]))
        if kind == "shape":
            return tuple(int(v) for v in self.array(expr["shape"]))
        if kind == "size":
            name, axis = expr["size"]
            return int(np.shape(self.arrays[name])[int(axis)])
        if kind == "const":
            return expr["const"]
        if kind == "schedule":
            prefix = str(expr["schedule"])
            return self.standins.ScheduleData({n: self.arrays[f"{prefix}.{n}"] for n in self.standins.SCHEDULE_ATTRS})
        if kind == "full":
            name, axis = expr["size"]
            n = int(np.shape(self.arrays[name])[int(axis)])
            return torch.full((n,), int(self.value(expr["full"], depth + 1)), dtype=torch.long)
        if kind == "generator":
            return torch.Generator().manual_seed(int(self.value(expr["generator"], depth + 1)))
        if kind == "student":
            return self.lookup(self.modules[str(expr.get("module") or self.module)], str(expr["student"]))
        if kind == "standin":
            return self.lookup(self.standins, str(expr["standin"]))
        if kind == "ref":
            return self.names[expr["ref"]]
        if kind == "attr":
            target, name = expr["attr"]
            return getattr(self.value(target, depth + 1), str(name))
        if kind == "tuple":
            return tuple(self.value(item, depth + 1) for item in expr["tuple"])
        if kind == "call":
            function = self.value(expr["call"], depth + 1)
            args = [self.value(item, depth + 1) for item in expr.get("args", ())]
            kwargs = {str(k): self.value(v, depth + 1) for k, v in dict(expr.get("kwargs", {})).items()}
            if "kwargs_from" in expr:
                prefix, exclude = str(expr["kwargs_from"]["prefix"]), set(expr["kwargs_from"].get("exclude", ()))
                for k, v in self.arrays.items():
                    if k.startswith(prefix) and k not in exclude:
                        kwargs[k[len(prefix) :]] = argument(v)
            return function(*args, **kwargs)
        if kind == "load_state":
            module = self.value(expr["load_state"], depth + 1)
            prefix = str(expr.get("prefix", "sd."))
            state = {k[len(prefix) :]: as_tensor(v) for k, v in self.arrays.items() if k.startswith(prefix)}
            module.load_state_dict(state, strict=True)
            return module.eval()
        if kind == "last_call":
            model = self.value(expr["last_call"], depth + 1)
            return model.calls[-1] if model.calls else torch.full((0,), -1)
        if kind == "call_count":
            return torch.tensor(len(self.value(expr["call_count"], depth + 1).calls))
        if kind == "or_none":
            return self.value(expr["or_none"], depth + 1) or None
        if kind == "when":
            return self.value(expr["value"], depth + 1) if self.value(expr["when"], depth + 1) else None
        raise ValueError(f"unknown expression in call spec: {kind!r}")

    @staticmethod
    def lookup(namespace: Any, dotted: str) -> Any:
        for part in dotted.split("."):
            namespace = getattr(namespace, part)
        return namespace


def run_case(call_spec: Spec, arrays: dict[str, Any], modules: dict[str, Any], standins: Any) -> dict[str, Any]:
    """``{output key: value}`` of one case: ``call_spec``'s steps on the case's ``arrays``, calling into the
    student's ``modules`` (``{module name: module}``). An exception is the case's error (the caller says so)."""
    case = Case(arrays, modules, standins, call_spec.get("module"))
    outputs: dict[str, Any] = {}
    for step in list(call_spec.get("steps", ()))[:MAX_STEPS]:
        if "let" in step:
            case.names[str(step["let"])] = case.value(step["value"])
        elif "seed" in step:
            torch.manual_seed(int(case.value(step["seed"])))
        elif "out" in step:
            outputs[str(step["out"])] = case.value(step["value"])
        elif "unpack" in step:
            names = [str(n) for n in step["unpack"]]
            outputs.update(zip(names, unpacked(case.value(step["value"]), len(names))))
        elif "attributes" in step:
            obj = case.value(step["of"])
            for name in step["attributes"]:
                try:
                    outputs[str(name)] = getattr(obj, str(name))
                except BaseException as error:  # noqa: B036 - one unreadable attribute never hides the others
                    outputs[f"{name}.error"] = f"{type(error).__name__}: {error}"
        else:
            raise ValueError(f"unknown step in call spec: {sorted(step)[:3]}")
    return outputs


def as_array(value: Any) -> np.ndarray:
    """An output as the trusted side receives it: a float64 (or bool) array; a list of tensors is stacked."""
    if isinstance(value, (list, tuple)):
        value = torch.stack([torch.as_tensor(v) for v in value])
    if torch.is_tensor(value):
        value = torch.Tensor.detach(value).cpu()
        if value.numel() > MAX_ELEMENTS:
            raise ValueError(f"output too large ({value.numel()} elements)")
        if value.is_complex():
            raise TypeError("complex output")
        return value.to(torch.float64).numpy().copy() if value.dtype != torch.bool else value.numpy().copy()
    array = np.asarray(value, dtype=np.float64)
    if array.size > MAX_ELEMENTS:
        raise ValueError("output too large")
    return array


def cases_of(inputs: dict[str, Any]) -> list[str]:
    """The case names (``c0``, ``c1``...) of a task's ``{case/key: array}`` inputs, in order."""
    return sorted({k.split("/")[0] for k in inputs}, key=lambda c: int(c[1:]))


def run_cases(call_spec: Spec, inputs: dict[str, Any], modules: dict[str, Any], standins: Any) -> dict[str, np.ndarray]:
    """``{case/key: array}``: every case of a task, each run on its own (a failing case never stops the
    others: its ``case/error`` says why), outputs converted by :func:`as_array` (``key.error`` texts kept)."""
    out = {}
    for case in cases_of(inputs):
        arrays = {k[len(case) + 1 :]: v for k, v in inputs.items() if k.startswith(case + "/")}
        float32_in = all(np.asarray(v).dtype != np.float64 for v in arrays.values())  # then float32 out is asked
        torch.set_default_dtype(torch.float32)
        try:
            with torch.no_grad():
                values = run_case(call_spec, arrays, modules, standins)
            for key, value in values.items():
                if float32_in and torch.is_tensor(value) and value.is_floating_point() and value.dtype != torch.float32:
                    out[f"{case}/{key}.dtype"] = np.array(str(value.dtype))  # the grader says so
                try:
                    out[f"{case}/{key}"] = np.array(str(value)[:300]) if key.endswith(".error") else as_array(value)
                except BaseException as error:  # noqa: B036
                    out[f"{case}/{key}.error"] = np.array(f"{type(error).__name__}: {error}"[:300])
        except BaseException as error:  # noqa: B036 - one failing case never stops the others
            out[f"{case}/error"] = np.array(f"{type(error).__name__}: {error}"[:300])
    return out
