"""The hidden tests of ``posterior``: ``q_posterior``."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.assignment.hidden_tests.common import (
    SCHEDULE_CHOICES,
    Arrays,
    Float64,
    abs_numpy,
    as_numpy,
    as_tensor,
    at_steps,
    case_inputs,
    cases_of,
    f64,
    image_shape,
    put_schedule,
    schedule64,
    schedule_condition,
    schedule_from,
    timesteps,
)
from solutions import tolerance

# ----------------------------------------------------------------------------- q_posterior


def make_q_posterior(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    for i, (kind, T) in enumerate(SCHEDULE_CHOICES):
        c = f"c{i}"
        shape = image_shape(rng)
        put_schedule(out, c, kind, T)
        out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
        out[f"{c}/x_t"] = (1.5 * rng.standard_normal(shape)).astype(np.float32)
        out[f"{c}/t"] = timesteps(rng, shape[0], T)  # indices 0 and T - 1 always among them
    return out


def q_posterior_scales(sched: Any, x_0: Any, x_t: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """Error scales of the posterior's mean and variance. Correct arrangements (eq. 7 over ``1 - abar_t``,
    precisions ``alpha_t / beta_t + 1 / (1 - abar_{t-1})``, ``1 - alpha_t`` for ``beta_t``, the stored
    ``posterior_variance``) agree only up to the schedule constants' own rounding, amplified where a
    formula takes ``1 - x`` of a constant near 1."""
    nd = np.ndim(x_t)
    g = {n: at_steps(getattr(sched, n), t, nd) for n in ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev")}
    cond = schedule_condition(sched, t, nd) + 2.0 + tolerance.condition_one_minus(g["alphas"])
    with np.errstate(all="ignore"):
        one_minus = 1.0 - g["alphas_cumprod"]
        coef_x0 = np.sqrt(g["alphas_cumprod_prev"]) * g["betas"] / one_minus
        coef_xt = np.sqrt(g["alphas"]) * (1.0 - g["alphas_cumprod_prev"]) / one_minus
        variance = g["betas"] * (1.0 - g["alphas_cumprod_prev"]) / one_minus
    return cond * (coef_x0 * abs_numpy(x_0) + coef_xt * abs_numpy(x_t)), cond * variance


def ref_q_posterior(inputs: Arrays) -> Arrays:
    from solutions.posterior import q_posterior

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        with Float64():
            mean, variance = q_posterior(schedule64(ci), f64(ci["x_0"]), f64(ci["x_t"]), as_tensor(ci["t"]))
        out[f"{c}/mean"], out[f"{c}/variance"] = as_numpy(mean), as_numpy(variance)
        out[f"{c}/mean.scale"], out[f"{c}/variance.scale"] = q_posterior_scales(schedule_from(ci), ci["x_0"], ci["x_t"], ci["t"])
    return out
