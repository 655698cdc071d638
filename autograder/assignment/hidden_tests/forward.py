"""The hidden tests of ``forward``: ``q_sample``, and the error scale of a noised image the other tests reuse."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

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
    schedule_from,
    timesteps,
)
from solutions import tolerance

# ----------------------------------------------------------------------------- q_sample, p_losses


def noising_case(out: Arrays, c: str, rng: np.random.Generator, kind: str, T: int) -> None:
    shape = image_shape(rng)
    put_schedule(out, c, kind, T)
    out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
    out[f"{c}/t"] = timesteps(rng, shape[0], T)
    out[f"{c}/noise"] = rng.standard_normal(shape).astype(np.float32)
    out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))  # noise drawn although noise= was given is then known


def make_q_sample(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    for i, (kind, T) in enumerate(SCHEDULE_CHOICES[:4]):
        noising_case(out, f"c{i}", rng, kind, T)
    return out


def q_sample_scale(ci: Arrays, x_0: Any, t: Any, noise: Any) -> np.ndarray:
    """Error scale of ``sqrt(abar) x_0 + sqrt(1 - abar) noise``: the sum of the terms, the noise term
    times the condition number of ``1 - abar`` (a route through ``alphas_cumprod`` is also correct)."""
    sched, nd = schedule_from(ci), np.ndim(x_0)
    abar = at_steps(sched.alphas_cumprod, t, nd)
    first = at_steps(sched.sqrt_alphas_cumprod, t, nd) * abs_numpy(x_0)
    second = at_steps(sched.sqrt_one_minus_alphas_cumprod, t, nd) * abs_numpy(noise)
    return 4.0 * first + (4.0 + tolerance.condition_one_minus(abar)) * second


def ref_q_sample(inputs: Arrays) -> Arrays:
    from solutions.forward import q_sample

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        torch.manual_seed(int(ci["seed"]))  # as the sandbox seeds before the student's call
        with Float64():
            value = q_sample(schedule64(ci), f64(ci["x_0"]), as_tensor(ci["t"]), noise=f64(ci["noise"]))
        out[f"{c}/out"] = as_numpy(value)
        out[f"{c}/out.scale"] = q_sample_scale(ci, ci["x_0"], ci["t"], ci["noise"])
    return out
