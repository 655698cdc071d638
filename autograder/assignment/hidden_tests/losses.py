"""The hidden tests of ``losses``: ``p_losses``."""

from __future__ import annotations

import numpy as np
import torch

from autograder.assignment.hidden_tests.common import (
    SCHEDULE_CHOICES,
    Arrays,
    Float64,
    as_numpy,
    as_tensor,
    case_inputs,
    cases_of,
    f64,
    loss_scale,
    model_scale,
    schedule64,
)
from autograder.assignment.hidden_tests.forward import noising_case, q_sample_scale
from autograder.sandbox.box import standins


def make_p_losses(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    configs = [(kind_T, "l2") for kind_T in SCHEDULE_CHOICES[:4]]
    configs += [(SCHEDULE_CHOICES[i], lt) for i, lt in enumerate(("l1", "huber", "l1", "huber"))]
    for i, ((kind, T), loss_type) in enumerate(configs):
        noising_case(out, f"c{i}", rng, kind, T)
        out[f"c{i}/loss_type"] = np.array(loss_type)
        out[f"c{i}/label"] = np.array(f"{kind} schedule, T={T}, loss_type={loss_type}")
    return out


def ref_p_losses(inputs: Arrays) -> Arrays:
    from solutions.forward import q_sample
    from solutions.losses import p_losses

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInModel(ci["x_0"].shape[1])
        t, loss_type = as_tensor(ci["t"]), str(ci["loss_type"])
        torch.manual_seed(int(ci["seed"]))  # as the sandbox seeds before the student's call
        with Float64():
            x_0, noise = f64(ci["x_0"]), f64(ci["noise"])
            loss = float(as_numpy(p_losses(model, schedule64(ci), x_0, t, noise, loss_type)))
            x_t = q_sample(schedule64(ci), x_0, t, noise=noise)
            pred = model(x_t, t)
        x_scale = q_sample_scale(ci, ci["x_0"], ci["t"], ci["noise"])
        out[f"{c}/out"] = np.array(loss)
        out[f"{c}/out.scale"] = np.array(loss_scale(loss_type, pred, noise, model_scale(model, x_t, x_scale, t), loss))
    return out
