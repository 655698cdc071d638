"""The self-checks' expected values of notebooks 05, 08 and 10: ``p_sample``, ``vlb_term``, ``ddim_step``
and classifier-free guidance, with their error scales (the known mistakes' values come from the catalogue,
``mistakes.py``)."""

from typing import Any

import numpy as np
import torch

# the hidden tests' float64 mode and error scales: the self-checks' tolerances are the grader's
from autograder.assignment.hidden_tests.common import Float64, loss_scale
from autograder.assignment.hidden_tests.ddim import ddim_scale
from autograder.assignment.hidden_tests.forward import q_sample_scale
from autograder.assignment.hidden_tests.likelihood import vlb_term_scale
from autograder.assignment.hidden_tests.sampling import p_sample_scale
from autograder.authoring.self_check_values.inputs import (
    CheckSchedule,
    Values,
    eps_model_scale,
    error_scale,
    f64,
    literal,
)
from solutions import checks as C
from solutions import ddim, forward, likelihood, sampling

# ----------------------------------------------------------------------------- 05 sampling and the likelihood


def sampling_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``p_sample``'s mean and noise std for each case, and their error scales."""
    sched64 = s.sched64
    values, scales = {}, {}
    x_t32 = C.pattern(**C.SAMPLE_X)
    x_t = f64(x_t32)
    z = C.seeded_noise(x_t32, C.SEED)
    for case, (t_index, clip, betas_as_variance) in C.SAMPLE_CASES.items():
        base = C.sample_schedule(sched64, betas_as_variance)
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)
        # the reference step with the noise switched off is the mean alone
        silent = base.replace(posterior_variance=torch.zeros(C.CHECK_T))
        with Float64():
            mean = literal(sampling.p_sample(C.eps_model, silent, x_t, t, 1, clip))
        std = 0.0 if t_index == 0 else literal(base.posterior_variance[t_index].sqrt())
        values[case] = (mean, std)
        ci = {f"sched.{name}": getattr(base, name).numpy() for name in C.SCHEDULE_FIELDS}
        eps = C.eps_model(x_t, t)
        scales[case] = error_scale(p_sample_scale(ci, x_t, t, t_index, eps, eps_model_scale(x_t, t), clip, z))
    return {"P_SAMPLE": values}, {"P_SAMPLE": scales}


def likelihood_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``vlb_term`` with either variance, and the error scales."""
    x_0, noise, t = C.pattern(**C.X0), C.pattern(**C.NOISE), torch.tensor(C.VLB_T)
    values, scales = {}, {}

    def vlb_eps_scale(x: torch.Tensor, x_scale: np.ndarray, steps: torch.Tensor) -> np.ndarray:
        """``checks.eps_model``'s error scale, with x's own."""
        return 0.5 * (x.abs().numpy() + x_scale) + 0.2 + 0.05 * (steps.double().numpy() + 1.0).reshape(-1, 1, 1, 1)

    for variance in ("posterior", "beta"):
        with Float64():
            values[variance] = literal(likelihood.vlb_term(C.eps_model, s.sched64, f64(x_0), t, f64(noise), variance))
        scales[variance] = error_scale(
            vlb_term_scale(s.inputs, x_0.numpy(), t.numpy(), noise.numpy(), C.eps_model, variance, vlb_eps_scale)
        )
    return {"VLB_TERM": values}, {"VLB_TERM": scales}


# ----------------------------------------------------------------------------- 08 DDIM (bonus)


def ddim_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``ddim_step`` as (mean, noise std) for each case, and the error scales."""
    sched64 = s.sched64
    x_t32 = C.pattern(**C.SAMPLE_X)
    x_t = f64(x_t32)
    z = C.seeded_noise(x_t32, C.SEED)
    values, scales = {}, {}
    for case, (index, t_prev, eta, clip) in C.DDIM_CASES.items():
        t = torch.full((x_t.shape[0],), index, dtype=torch.long)
        # (mean, std) from two seeded runs: out = mean + std * z
        runs = []
        for seed in (C.SEED, C.SEED + 1):
            torch.manual_seed(seed)
            with Float64():
                step = ddim.ddim_step(C.eps_model, sched64, x_t, t, t_prev, eta=eta, clip_denoised=clip)
            runs.append((step, C.seeded_noise(x_t32, seed).double()))
        (out_a, z_a), (out_b, z_b) = runs
        std = float(((out_a - out_b) / (z_a - z_b)).median()) if eta > 0 else 0.0
        values[case] = (literal(out_a - std * z_a), literal(std))
        eps = C.eps_model(x_t, t)
        ddim_z = z if eta > 0 else torch.zeros_like(z)
        scales[case] = error_scale(ddim_scale(s.inputs, x_t, t, t_prev, eta, clip, eps, eps_model_scale(x_t, t), ddim_z))
    return {"DDIM": values}, {"DDIM": scales}


# ----------------------------------------------------------------------------- 10 classifier-free guidance (bonus)


def guidance_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``p_losses_cfg`` with the checks' drop mask and ``p_sample_guided``, with the error scales."""
    from solutions import guidance  # the bonus module, as the checks import it: only here

    sched64 = s.sched64
    x_0, noise, t = f64(C.pattern(**C.X0)), f64(C.pattern(**C.NOISE)), torch.tensor(C.LOSS_T)
    labels, mask = torch.tensor(C.CFG_LABELS), torch.tensor(C.CFG_MASK)
    model = C.ClassEpsNet().double()
    null = torch.full_like(labels, C.CFG_CLASSES)
    with torch.no_grad(), Float64():
        correct = guidance.p_losses_cfg(model, sched64, x_0, t, labels, C.CFG_MASK_P_UNCOND, noise, mask)
        used = torch.where(mask, null, labels)
        x_t = forward.q_sample(sched64, x_0, t, noise)
        pred = model(x_t, t, used)
    out: Values = {"P_LOSSES_CFG": literal(correct)}
    x_scale = q_sample_scale(s.inputs, C.pattern(**C.X0), t, C.pattern(**C.NOISE))
    offset = np.abs(np.array(C.CFG_OFFSETS))[used.numpy()].reshape(-1, 1, 1, 1)
    pred_scale = 2.0 * (0.5 * (x_t.abs().numpy() + x_scale) + eps_model_scale(x_t, t) + offset) + pred.abs().numpy()
    scales: Values = {"P_LOSSES_CFG": error_scale(loss_scale("l2", pred, noise, pred_scale, float(correct)))}
    out["GUIDED"], scales["GUIDED"] = _guided_values(s, model, guidance)
    return out, scales


def _guided_values(s: CheckSchedule, model: torch.nn.Module, guidance: Any) -> tuple[Values, Values]:
    """``p_sample_guided`` for each of the checks' cases, and the error scales."""
    sched64 = s.sched64
    x_t32 = C.pattern(**C.SAMPLE_X)
    x_t = f64(x_t32)
    labels = torch.tensor(C.GUIDED_LABELS)
    null = torch.full_like(labels, C.CFG_CLASSES)
    values, scales = {}, {}
    for case, (t_index, w, clip) in C.GUIDED_CASES.items():
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)
        with torch.no_grad(), Float64():
            eps_c, eps_u = model(x_t, t, labels), model(x_t, t, null)
        torch.manual_seed(C.SEED)
        with torch.no_grad(), Float64():
            values[case] = literal(guidance.p_sample_guided(model, sched64, x_t, t, t_index, labels, w, clip_denoised=clip))
        eps = (1 + w) * eps_c - w * eps_u
        offsets = np.abs(np.array(C.CFG_OFFSETS))
        model_err = eps_model_scale(x_t, t) + 0.5 * x_t.abs().numpy()
        guided_err = (1 + w) * (model_err + offsets[labels.numpy()].reshape(-1, 1, 1, 1) + 2 * eps_c.abs().numpy())
        guided_err = guided_err + w * (model_err + offsets[-1] + 2 * eps_u.abs().numpy())
        ci = {f"sched.{name}": getattr(sched64, name).numpy() for name in C.SCHEDULE_FIELDS}
        z = C.seeded_noise(x_t32, C.SEED)
        scales[case] = error_scale(p_sample_scale(ci, x_t, t, t_index, eps, guided_err, clip, z))
    return values, scales
