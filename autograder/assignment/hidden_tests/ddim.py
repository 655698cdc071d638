"""The hidden tests of ``ddim``: ``ddim_step``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autograder.assignment.hidden_tests.common import (
    Arrays,
    Float64,
    abs_numpy,
    as_numpy,
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
    seeded_z,
)
from autograder.sandbox.box import standins
from solutions import tolerance


def make_ddim(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    i = 0
    for kind, T in (("linear", 1000), ("cosine", 1000), ("cosine", 50)):
        mid = int(rng.integers(2, T - 1))
        for t_index, t_prev, eta, clip in (
            (T - 1, T - 1 - int(rng.integers(1, T // 2)), 0.0, False),
            (mid, mid - 1, 0.0, True),
            (int(rng.integers(1, T)), -1, 0.0, bool(i % 2)),
            # eta = 1 jumps between the middle indices: from T - 1, abar ~ 0 makes 1 - abar_prev - sigma^2
            # vanish (3e-10 for cosine T=50, t=49 -> 3, where correct orderings differ by 2e-4), and from
            # near 0, (1 - abar_prev)^2 does: sqrt of a difference of rounded terms, ill-conditioned.
            (int(rng.integers(T // 2, 5 * T // 8 + 1)), int(rng.integers(T // 8, T // 4 + 1)), 1.0, True),
            (mid, mid - 1, float(rng.uniform(0.3, 0.9)), False),
        ):
            c = f"c{i}"
            put_schedule(out, c, kind, T)
            shape = image_shape(rng)
            out[f"{c}/x_t"] = (1.5 * rng.standard_normal(shape)).astype(np.float32)
            out[f"{c}/t_index"], out[f"{c}/t_prev"] = np.array(t_index), np.array(t_prev)
            out[f"{c}/eta"], out[f"{c}/clip"] = np.array(eta), np.array(int(clip))
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            out[f"{c}/label"] = np.array(f"{kind} T={T}, t={t_index} -> t_prev={t_prev}, eta={eta:.2g}, clip_denoised={clip}")
            i += 1
    return out


def ddim_scale(ci: Arrays, x_t: Any, t: Any, t_prev: Any, eta: float, clip: bool, eps: Any, eps_scale: Any, z: Any) -> np.ndarray:
    """Error scale of a DDIM step ``sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps' + sigma z``
    (eps' re-derived from the clamped x0_hat or not): the terms, times the schedule's condition
    number, plus the condition of the square root of the difference ``1 - abar_prev - sigma^2``."""
    sched, nd = schedule_from(ci), np.ndim(x_t)
    abar = at_steps(sched.alphas_cumprod, t, nd)
    prev = as_numpy(sched.alphas_cumprod[t_prev]) if t_prev >= 0 else np.float64(1.0)
    sa, s1m = np.sqrt(abar), np.sqrt(1.0 - abar)
    ax, ae = abs_numpy(x_t), abs_numpy(eps) + eps_scale
    x0_hat = (as_numpy(x_t) - s1m * as_numpy(eps)) / sa
    x0 = np.clip(x0_hat, -1, 1) if clip else x0_hat
    sigma = eta * np.sqrt((1.0 - prev) / (1.0 - abar)) * np.sqrt(1.0 - abar / prev)
    rest = 1.0 - prev - sigma**2
    direction = np.sqrt(np.maximum(rest, 0.0))
    eps_used = ae + (ax + sa * np.abs(x0)) / s1m
    cond = schedule_condition(sched, t, nd, prev) + tolerance.condition_one_minus(abar / prev)
    with np.errstate(divide="ignore"):
        cond_direction = np.where(direction > 0, (1.0 + prev + sigma**2) / (2.0 * np.maximum(rest, 1e-300)), 0.0)
    terms = np.sqrt(prev) * (np.abs(x0) + (ax + s1m * ae) / sa) + direction * eps_used + sigma * abs_numpy(z)
    return cond * terms + direction * eps_used * cond_direction * cond


def ref_ddim(inputs: Arrays) -> Arrays:
    from solutions.ddim import ddim_step

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        t = torch.full((ci["x_t"].shape[0],), int(ci["t_index"]), dtype=torch.long)
        model = standins.StandInModel(ci["x_t"].shape[1])
        t_prev, eta, clip = int(ci["t_prev"]), float(ci["eta"]), bool(ci["clip"])
        with Float64():
            x_t = f64(ci["x_t"])
            torch.manual_seed(int(ci["seed"]))
            out[f"{c}/out"] = as_numpy(ddim_step(model, schedule64(ci), x_t, t, t_prev, eta=eta, clip_denoised=clip))
            eps = model(x_t, t)
        z = seeded_z(x_t.shape, ci["seed"]) if eta > 0 else torch.zeros(x_t.shape)
        out[f"{c}/out.scale"] = ddim_scale(ci, x_t, t, t_prev, eta, clip, eps, model_scale(model, x_t, 0.0, t), z)
    return out
