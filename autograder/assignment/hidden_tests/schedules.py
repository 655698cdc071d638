"""The hidden tests of ``schedules``: ``cosine_beta_schedule``, ``DiffusionSchedule``, ``extract``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.assignment.hidden_tests.common import (
    Arrays,
    Float64,
    PartCheck,
    as_numpy,
    as_tensor,
    case_error,
    case_inputs,
    cases_of,
    compare,
    f64,
    timesteps,
)
from autograder.sandbox.box import standins
from solutions import tolerance

# ----------------------------------------------------------------------------- cosine_beta_schedule


def make_cosine(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    configs = [(1000, 0.008, 0.999), (10, 0.008, 0.999), (int(rng.integers(20, 300)), float(rng.uniform(0.002, 0.02)), 0.999)]
    configs += [(int(rng.integers(5, 40)), 0.008, float(rng.uniform(0.2, 0.6))), (1, 0.008, 0.999)]
    for i, (T, s, mb) in enumerate(configs):
        out[f"c{i}/T"], out[f"c{i}/s"], out[f"c{i}/max_beta"] = np.array(T), np.array(s), np.array(mb)
        out[f"c{i}/label"] = np.array(f"T={T}, s={s:.4g}, max_beta={mb:.3g}")
    return out


def cosine_scale(T: int, s: float, max_beta: float, betas: Any) -> np.ndarray:
    """Error scale of the cosine betas ``1 - r_t``, ``r_t = f(t+1) / f(t)``, ``f = cos(x)**2``: a relative
    rounding error of ``x`` (4 roundings) is amplified by ``|d ln f / d ln x| = 2 |x tan x|``, and
    ``1 - r`` turns the relative errors of ``r`` into absolute ones. A clipped beta is ``max_beta``
    whatever the rounding when its unclipped value exceeds ``max_beta`` by more than that error."""
    x = (np.arange(T + 1) / T + s) / (1 + s) * math.pi / 2
    with np.errstate(all="ignore"):
        f = np.cos(x) ** 2
        cond = 3.0 + 8.0 * np.abs(x * np.tan(x))
        r = f[1:] / f[:-1]
        unclipped = np.abs(1.0 - r) + np.abs(r) * (2.0 + cond[1:] + cond[:-1])
        clear = (1.0 - r) - tolerance.tolerance(unclipped) > max_beta
    return np.where(clear, np.abs(betas), np.abs(betas) + np.nan_to_num(unclipped, posinf=1.0))


def ref_cosine(inputs: Arrays) -> Arrays:
    from solutions.schedules import cosine_beta_schedule

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        T, s, max_beta = int(ci["T"]), float(ci["s"]), float(ci["max_beta"])
        with Float64():
            betas = as_numpy(cosine_beta_schedule(T, s=s, max_beta=max_beta))
        out[f"{c}/out"], out[f"{c}/out.scale"] = betas, cosine_scale(T, s, max_beta, betas)
    return out


# ----------------------------------------------------------------------------- DiffusionSchedule


def make_diffusion_schedule(rng: np.random.Generator) -> Arrays:
    from solutions.schedules import cosine_beta_schedule, linear_beta_schedule

    out: Arrays = {}
    betas = [
        ("linear T=1000", linear_beta_schedule(1000)),
        ("cosine T=1000", cosine_beta_schedule(1000)),
        ("linear T=random", linear_beta_schedule(int(rng.integers(5, 80)))),
        ("cosine T=random", cosine_beta_schedule(int(rng.integers(5, 80)))),
    ]
    for i, (label, b) in enumerate(betas):
        out[f"c{i}/betas"] = as_numpy(b).astype(np.float32)
        out[f"c{i}/label"] = np.array(label)
    return out


def ref_diffusion_schedule(inputs: Arrays) -> Arrays:
    from solutions.schedules import DiffusionSchedule

    out: Arrays = {}
    for c in cases_of(inputs):
        with Float64():
            sched = DiffusionSchedule(f64(case_inputs(inputs, c)["betas"]))
        for name in standins.SCHEDULE_ATTRS:
            out[f"{c}/{name}"] = as_numpy(getattr(sched, name))
        betas = np.asarray(case_inputs(inputs, c)["betas"], dtype=np.float64)
        for derive in (derive_alphas, derive_prev, derive_sqrt, derive_posterior):
            # the error scales the parts judge with, for the diagnosis (the parts derive their own)
            scales = derive(lambda key, c=c: out[f"{c}/{key}"], betas)[1]  # type: ignore[misc]
            out.update({f"{c}/{name}.scale": np.asarray(scale) for name, scale in scales.items()})
    return out


Derivation = Callable[[Callable[[str], np.ndarray], np.ndarray], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]


def schedule_part(names: tuple[str, ...], derive: Derivation) -> PartCheck:
    """Check the attributes ``names``: each must match ``derive(up, betas)[name]``, where ``up(key)`` is the
    float64 reference value of an upstream attribute, never the student's own: constants that agree only
    with each other earn nothing, and a wrong upstream line costs the parts it makes wrong."""

    def check(inputs: Arrays, reference: Arrays, student: Arrays) -> tuple[bool, str]:
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            error = case_error(student, c, ci["label"])
            if error is not None:
                return False, error
            ref_c = {n: np.asarray(reference[f"{c}/{n}"], dtype=np.float64) for n in standins.SCHEDULE_ATTRS}
            expected, scales = derive(ref_c.__getitem__, ci["betas"].astype(np.float64))
            for name in names:
                value = student.get(f"{c}/{name}")
                if value is None:
                    return False, f"{ci['label']}: attribute {name} missing ({student.get(f'{c}/{name}.error', '')})"
                ok, msg = compare(value, expected[name], scales[name])
                if not ok:
                    return False, f"{ci['label']}: {name}: {msg}"
        return True, ""

    return check


# Error scales of the schedule constants: relative to the value, times the number of roundings
# ``n`` behind it (a running product of t + 1 factors, computed along any route: cumprod of the
# alphas, of their square roots, in float64 then cast), times the condition number of ``1 - abar``.


def _steps(T: int) -> Any:
    return 2.0 * np.arange(1, T + 1)


def derive_alphas(up: Callable[[str], np.ndarray], betas: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    alphas = 1.0 - betas
    abar = np.cumprod(alphas)
    return {"alphas": alphas, "alphas_cumprod": abar}, {"alphas": 1.0 + betas, "alphas_cumprod": abar * _steps(len(betas))}


def derive_prev(up: Callable[[str], np.ndarray], betas: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    abar = up("alphas_cumprod")
    prev = np.concatenate([[1.0], abar[:-1]])
    return {"alphas_cumprod_prev": prev}, {"alphas_cumprod_prev": prev * _steps(len(betas))}


def derive_sqrt(up: Callable[[str], np.ndarray], betas: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    alphas, abar = up("alphas"), up("alphas_cumprod")
    n = _steps(len(betas))
    with np.errstate(all="ignore"):
        values = {
            "sqrt_recip_alphas": 1.0 / np.sqrt(alphas),
            "sqrt_alphas_cumprod": np.sqrt(abar),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - abar),
        }
        scales = {
            "sqrt_recip_alphas": values["sqrt_recip_alphas"] * (3.0 + tolerance.condition_one_minus(betas)),
            "sqrt_alphas_cumprod": values["sqrt_alphas_cumprod"] * (3.0 + n),
            "sqrt_one_minus_alphas_cumprod": values["sqrt_one_minus_alphas_cumprod"]
            * (3.0 + n * tolerance.condition_one_minus(abar)),
        }
    return values, scales


def derive_posterior(up: Callable[[str], np.ndarray], betas: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    abar, prev = up("alphas_cumprod"), up("alphas_cumprod_prev")
    n = _steps(len(betas))
    with np.errstate(all="ignore"):
        value = betas * (1.0 - prev) / (1.0 - abar)
        cond = 4.0 + n * (tolerance.condition_one_minus(prev) + tolerance.condition_one_minus(abar))
    return {"posterior_variance": value}, {"posterior_variance": value * cond}


# ----------------------------------------------------------------------------- extract


def make_extract(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    for i, rank in enumerate([1, 2, 3, 4, 4, 5]):
        T = int(rng.integers(2, 1001))
        B = int(rng.integers(2, 7))
        shape = (B, *[int(rng.integers(1, 5)) for _ in range(rank - 1)])
        dtype = np.float64 if i == 4 else np.float32
        out[f"c{i}/a"] = rng.standard_normal(T).astype(dtype)
        out[f"c{i}/t"] = timesteps(rng, B, T)
        out[f"c{i}/x_shape"] = np.array(shape, dtype=np.int64)
        out[f"c{i}/label"] = np.array(f"T={T}, x_shape={shape}")
    return out


def ref_extract(inputs: Arrays) -> Arrays:
    from solutions.schedules import extract

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        out[f"{c}/out"] = as_numpy(extract(as_tensor(ci["a"]), as_tensor(ci["t"]), tuple(int(v) for v in ci["x_shape"])))
    return out
