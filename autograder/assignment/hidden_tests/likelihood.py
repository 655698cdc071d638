"""The hidden tests of ``likelihood``: ``vlb_term``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograder.assignment.hidden_tests.common import (
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
    model_scale,
    put_schedule,
    schedule64,
    schedule_condition,
    schedule_from,
)
from autograder.assignment.hidden_tests.forward import q_sample_scale
from autograder.assignment.hidden_tests.sampling import p_sample_scale
from autograder.sandbox.box import standins
from solutions import tolerance

# ----------------------------------------------------------------------------- vlb_term


def make_vlb_term(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    i = 0
    for kind, T in (("linear", 1000), ("cosine", 1000), ("cosine", 50), ("linear", 50)):
        for variance in ("posterior", "beta"):
            c = f"c{i}"
            shape = image_shape(rng)
            put_schedule(out, c, kind, T)
            t = rng.integers(1, T, size=shape[0])
            t[0], t[1] = 1, T - 1  # the smallest posterior variance and the largest beta
            out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
            out[f"{c}/t"] = t.astype(np.int64)
            out[f"{c}/noise"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/variance"] = np.array(variance)
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, variance={variance!r}")
            i += 1
    return out


def vlb_term_scale(
    ci: Arrays, x_0: Any, t: Any, noise: Any, model: Any, variance: str, eps_scale: Any | None = None
) -> np.ndarray:
    """Error scale of the KL term in bits per dimension. The means' difference d = mu~ - mu_theta
    carries the rounding of either way of writing mu_theta (eq. 11 or eq. 7 at x0_hat) and of mu~,
    plus x_t's own rounding (directly and through the model); the KL per dimension
    ``(log(v_p / v_q) + (v_q + d^2) / v_p - 1) / 2`` then carries d's error times |d| / v_p, the
    variances' relative errors (the schedule's condition number) and the absolute rounding of the
    logarithms; the mean over n dimensions and the division by ln 2 add their own. ``eps_scale(x_t,
    x_scale, t)``: the model's error scale (default: the stand-in model's, ``model_scale``)."""
    from solutions.forward import q_sample

    sched, nd = schedule_from(ci), np.ndim(x_0)
    g = {n: at_steps(getattr(sched, n), t, nd) for n in standins.SCHEDULE_ATTRS}
    with Float64():
        x_t = q_sample(schedule64(ci), f64(x_0), as_tensor(t), noise=f64(noise))
        eps = model(x_t, as_tensor(t))
    x_scale = q_sample_scale(ci, x_0, t, noise)
    eps_scale = (eps_scale or (lambda x, xs, steps: model_scale(model, x, xs, steps)))(x_t, x_scale, as_tensor(t))
    cond = schedule_condition(sched, t, nd)
    coef_x0 = np.sqrt(g["alphas_cumprod_prev"]) * g["betas"] / (1.0 - g["alphas_cumprod"])
    coef_xt = np.sqrt(g["alphas"]) * (1.0 - g["alphas_cumprod_prev"]) / (1.0 - g["alphas_cumprod"])
    mean_q = coef_x0 * as_numpy(x_0) + coef_xt * as_numpy(x_t)
    mean_p = g["sqrt_recip_alphas"] * (as_numpy(x_t) - g["betas"] / g["sqrt_one_minus_alphas_cumprod"] * as_numpy(eps))
    d = mean_q - mean_p
    err_d = p_sample_scale(ci, x_t, as_tensor(t), 1, eps, eps_scale, False)
    err_d = err_d + cond * (coef_x0 * abs_numpy(x_0) + coef_xt * abs_numpy(x_t)) + (coef_xt + g["sqrt_recip_alphas"]) * x_scale
    var_q = g["betas"] * (1.0 - g["alphas_cumprod_prev"]) / (1.0 - g["alphas_cumprod"])
    var_p = var_q if variance == "posterior" else g["betas"]
    ratio = var_q / var_p
    per_dim = (np.abs(d) * err_d + tolerance.SAFETY * tolerance.EPS * err_d**2) / var_p
    per_dim = per_dim + d**2 / (2.0 * var_p) * cond
    per_dim = per_dim + 0.5 * (np.abs(np.log(var_p)) + np.abs(np.log(var_q)) + (ratio + 1.0) * cond)
    kl = 0.5 * (np.log(var_p / var_q) + (var_q + d**2) / var_p - 1.0)
    axes = tuple(range(1, nd))
    n = int(np.prod(np.shape(x_0)[1:]))
    return (per_dim.mean(axis=axes) + np.abs(kl).mean(axis=axes) * (2.0 + math.log2(n))) / math.log(2.0) * 1.5


def ref_vlb_term(inputs: Arrays) -> Arrays:
    from solutions.likelihood import vlb_term

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInModel(ci["x_0"].shape[1])
        t, variance = as_tensor(ci["t"]), str(ci["variance"])
        with Float64():
            value = vlb_term(model, schedule64(ci), f64(ci["x_0"]), t, noise=f64(ci["noise"]), variance=variance)
        out[f"{c}/out"] = as_numpy(value)
        scale = vlb_term_scale(ci, ci["x_0"], ci["t"], ci["noise"], model, variance)
        # a mistaken reference (the diagnosis runs them) may average over the batch: its scale is the largest
        out[f"{c}/out.scale"] = scale if np.shape(scale) == np.shape(value) else np.full(np.shape(value), np.max(scale))
    return out
