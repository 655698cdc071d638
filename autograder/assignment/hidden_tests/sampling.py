"""The hidden tests of ``sampling``: ``p_sample``, ``p_sample_loop``, and the error scale of one reverse step."""

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

# ----------------------------------------------------------------------------- sampling


def make_p_sample(rng: np.random.Generator, zero_variance: bool) -> Arrays:
    out: Arrays = {}
    configs = [("linear", 1000), ("cosine", 1000), ("cosine", 50), ("linear", 50)]
    i = 0
    for kind, T in configs:
        for t_index in (0, 1, T - 1, int(rng.integers(2, T - 1))):  # 1: the last step that adds noise
            c = f"c{i}"
            put_schedule(out, c, kind, T)
            if zero_variance:  # the mean alone, whatever the noise step does
                out[f"{c}/sched.posterior_variance"] = np.zeros(T, dtype=np.float32)
            else:  # the true variance is 0 at index 0, which would hide noise added there. Not beta_0
                # (~1e-4): its sqrt (~1e-2) is within the mean's tolerance at index 0, where the mean is
                # ill-conditioned (1 - abar_0 ~ beta_0); a large variance makes noise there unmistakable.
                out[f"{c}/sched.posterior_variance"][0] = 0.25
            shape = image_shape(rng)
            out[f"{c}/x_t"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/t_index"] = np.array(t_index)
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, t_index={t_index}")
            i += 1
    return out


def p_sample_scale(
    ci: Arrays, x_t: Any, t: Any, t_index: int, eps: Any, eps_scale: Any, clip_denoised: bool, z: Any | None = None
) -> np.ndarray:
    """Error scale of one reverse step, over both ways of writing the mean: eq. 11
    ``sqrt_recip_alphas (x_t - beta / sqrt(1 - abar) eps)`` and the posterior mean of eq. 7 applied to
    ``x0_hat = (x_t - sqrt(1 - abar) eps) / sqrt(abar)`` (clamped or not), plus the noise term."""
    sched, nd = schedule_from(ci), np.ndim(x_t)
    g = {n: at_steps(getattr(sched, n), t, nd) for n in standins.SCHEDULE_ATTRS}
    ax, ae = abs_numpy(x_t), abs_numpy(eps) + eps_scale
    x0_hat = (as_numpy(x_t) - g["sqrt_one_minus_alphas_cumprod"] * as_numpy(eps)) / g["sqrt_alphas_cumprod"]
    x0 = np.clip(x0_hat, -1, 1) if clip_denoised else x0_hat
    coef_x0 = np.sqrt(g["alphas_cumprod_prev"]) * g["betas"] / (1.0 - g["alphas_cumprod"])
    coef_xt = np.sqrt(g["alphas"]) * (1.0 - g["alphas_cumprod_prev"]) / (1.0 - g["alphas_cumprod"])
    terms = g["sqrt_recip_alphas"] * (ax + g["betas"] / g["sqrt_one_minus_alphas_cumprod"] * ae)
    terms = terms + coef_x0 * (np.abs(x0) + (ax + g["sqrt_one_minus_alphas_cumprod"] * ae) / g["sqrt_alphas_cumprod"])
    terms = terms + coef_xt * ax
    scale = schedule_condition(sched, t, nd) * terms
    if z is not None and t_index > 0:
        scale = scale + 3.0 * np.sqrt(g["posterior_variance"]) * abs_numpy(z)
    return scale


def ref_p_sample(inputs: Arrays, clip_denoised: bool) -> Arrays:
    from solutions.sampling import p_sample

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        t_index = int(ci["t_index"])
        t = torch.full((ci["x_t"].shape[0],), t_index, dtype=torch.long)
        model = standins.StandInModel(ci["x_t"].shape[1])
        with Float64():
            x_t = f64(ci["x_t"])
            torch.manual_seed(int(ci["seed"]))
            out[f"{c}/out"] = as_numpy(p_sample(model, schedule64(ci), x_t, t, t_index, clip_denoised=clip_denoised))
            eps = model(x_t, t)
        eps_scale = model_scale(model, x_t, 0.0, t)
        z = seeded_z(x_t.shape, ci["seed"]) if clip_denoised else None
        out[f"{c}/out.scale"] = p_sample_scale(ci, x_t, t, t_index, eps, eps_scale, clip_denoised, z)
    return out


def make_p_sample_loop(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    i = 0
    for kind, T in (("linear", 7), ("cosine", 12)):
        for return_all in (False, True):
            for clip in (False, True):
                c = f"c{i}"
                put_schedule(out, c, kind, T)
                out[f"{c}/shape"] = np.array(image_shape(rng), dtype=np.int64)
                out[f"{c}/return_all"] = np.array(int(return_all))
                out[f"{c}/clip"] = np.array(int(clip))
                out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
                out[f"{c}/label"] = np.array(f"{kind} T={T}, return_all={return_all}, clip_denoised={clip}")
                i += 1
    return out


def _standin_p_sample64(model: Any, schedule: Any, x_t: Any, t: Any, t_index: int, clip_denoised: bool = False) -> Any:
    return standins.standin_p_sample(model, schedule, x_t.to(torch.float64), t, t_index, clip_denoised)


def ref_p_sample_loop(inputs: Arrays) -> Arrays:
    import solutions.sampling as sampling

    out: Arrays = {}
    saved = sampling.p_sample
    sampling.p_sample = _standin_p_sample64
    try:
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            shape = tuple(int(v) for v in ci["shape"])
            model = standins.StandInModel(shape[1])
            with Float64():
                result = sampling.p_sample_loop(
                    model,
                    schedule64(ci),
                    shape,
                    clip_denoised=bool(ci["clip"]),
                    return_all=bool(ci["return_all"]),
                    progress=False,
                    generator=torch.Generator().manual_seed(int(ci["seed"])),
                )
            value = as_numpy(torch.stack(result) if isinstance(result, list) else result)
            # each stand-in step rounds 0.9 x + 0.01 (t + 1) + beta (+ clamp + 0.05): a few ulps per step taken,
            # counted back from the last element, which has taken every step (a list without x_T starts at one)
            T = len(ci["sched.betas"])
            taken = np.arange(len(value)) + max(0, T + 1 - len(value))
            steps = taken.reshape(-1, *([1] * len(shape))) if bool(ci["return_all"]) else T
            out[f"{c}/out"], out[f"{c}/out.scale"] = value, 4.0 * steps * (np.abs(value) + 1.0)
    finally:
        sampling.p_sample = saved
    return out
