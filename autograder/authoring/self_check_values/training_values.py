"""The self-checks' expected values of notebooks 01-04: the schedules, ``q_sample``, ``p_losses``, the
posterior and the U-Net parts, each with the named mistakes the checks recognise and the error scales."""

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

# the hidden tests' float64 mode and error scales: the self-checks' tolerances are the grader's
from autograder.assignment.hidden_tests import (
    Float64,
    block_scale,
    cosine_scale,
    derive_alphas,
    derive_posterior,
    derive_prev,
    derive_sqrt,
    embedding_scale,
    loss_scale,
    q_posterior_scales,
    q_sample_scale,
    resnet_scale,
)
from autograder.authoring.self_check_values.inputs import CheckSchedule, Schedule, Values, error_scale, f64, literal
from solutions import checks as C
from solutions import forward, losses, posterior, schedules, unet

# ----------------------------------------------------------------------------- 01 schedules


def schedules_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``DiffusionSchedule``'s constants and ``cosine_beta_schedule`` at T = 10 and at picked steps of T = 1000."""
    out: Values = {"SCHEDULE": {name: literal(value) for name, value in s.frozen64.items()}}
    betas = s.frozen64["betas"].numpy()
    schedule_scales = {"betas": error_scale(np.abs(betas))}

    def upstream(key: str) -> np.ndarray:
        return s.frozen64[key].numpy()

    for derive in (derive_alphas, derive_prev, derive_sqrt, derive_posterior):
        schedule_scales.update({name: error_scale(value) for name, value in derive(upstream, betas)[1].items()})
    with Float64():
        cosine = schedules.cosine_beta_schedule(C.CHECK_T)
        long = schedules.cosine_beta_schedule(1000)
    picked = (0, 1, 2, 100, 499, 900, 990, 998, 999)
    out["COSINE_10"] = literal(cosine)
    out["COSINE_1000"] = {index: literal(long[index]) for index in picked}
    scales = {
        "SCHEDULE": schedule_scales,
        "COSINE_10": error_scale(cosine_scale(C.CHECK_T, 0.008, 0.999, cosine.numpy())),
        "COSINE_1000": error_scale(cosine_scale(1000, 0.008, 0.999, long.numpy())[list(picked)]),
    }
    return out, scales


# ----------------------------------------------------------------------------- 02 forward


def forward_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``q_sample`` on the checks' x_0 and noise, and the named mistakes (other schedule constants, steps, roles)."""
    x_0, noise, t = C.pattern(**C.X0), C.pattern(**C.NOISE), torch.tensor(C.Q_T)
    sched64 = s.sched64
    alphas, abar = sched64.alphas, sched64.alphas_cumprod
    x_0_64, noise_64 = f64(x_0), f64(noise)

    def q(sched: Schedule, x_0: torch.Tensor = x_0_64, t: torch.Tensor = t, noise: torch.Tensor = noise_64) -> Any:
        with Float64():
            return literal(forward.q_sample(sched, x_0, t, noise))

    values = {
        "x_t": q(sched64),
        "one_minus_abar": q(sched64.replace(sqrt_one_minus_alphas_cumprod=1 - abar)),
        "no_sqrt": q(sched64.replace(sqrt_alphas_cumprod=abar, sqrt_one_minus_alphas_cumprod=1 - abar)),
        "alphas": q(sched64.replace(sqrt_alphas_cumprod=alphas.sqrt(), sqrt_one_minus_alphas_cumprod=(1 - alphas).sqrt())),
        "t_minus_1": q(sched64, t=t - 1),
        "t_plus_1": q(sched64, t=t + 1),
        "swapped": q(sched64, x_0=noise_64, noise=x_0_64),
    }
    return {"Q_SAMPLE": values}, {"Q_SAMPLE": error_scale(q_sample_scale(s.inputs, x_0, t, noise))}


# ----------------------------------------------------------------------------- 03 losses and the posterior


def losses_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``p_losses`` for each loss type, and the loss of the named mistakes (model on x_0, x_0 target, other noise)."""
    x_0, noise, t = C.pattern(**C.X0), C.pattern(**C.NOISE), torch.tensor(C.LOSS_T)
    sched64 = s.sched64
    model = C.EpsNet().double()
    with Float64():
        x_t = forward.q_sample(sched64, f64(x_0), t, f64(noise))
        pred = model(x_t, t)
    x_scale = q_sample_scale(s.inputs, x_0, t, noise)
    # the error scale of 0.5 x - 0.2 + 0.05 (t + 1): its terms, and x's own
    pred_scale = 0.5 * (x_t.abs().numpy() + x_scale) + 0.2 + 0.05 * (t.double().numpy() + 1.0).reshape(-1, 1, 1, 1)
    pred_scale = 2.0 * pred_scale + pred.detach().abs().numpy()
    loss_fns = {"l2": F.mse_loss, "l1": F.l1_loss, "huber": F.smooth_l1_loss}
    values, scales = {}, {}
    for loss_type, loss_fn in loss_fns.items():
        with torch.no_grad(), Float64():
            loss = losses.p_losses(model, sched64, f64(x_0), t, noise=f64(noise), loss_type=loss_type)
            values[loss_type] = {
                "loss": literal(loss),
                "model_on_x0": literal(loss_fn(model(f64(x_0), t), f64(noise))),
                "target_x0": literal(loss_fn(model(x_t, t), f64(x_0))),
                "other_noise": literal(loss_fn(model(forward.q_sample(sched64, f64(x_0), t, -f64(noise)), t), f64(noise))),
            }
        scales[loss_type] = error_scale(loss_scale(loss_type, pred.detach(), noise, pred_scale, float(loss)))
    return {"P_LOSSES": values}, {"P_LOSSES": scales}


def posterior_values(s: CheckSchedule) -> tuple[Values, Values]:
    """The posterior's mean and variance on the check's inputs, and the named mistakes (float64)."""
    sched64 = s.sched64
    x_0, x_t, t = C.pattern(**C.POST_X0), C.pattern(**C.POST_XT), torch.tensor(C.POST_T)
    x0, xt = x_0.double(), x_t.double()
    with Float64():
        mean, variance = posterior.q_posterior(sched64, x0, xt, t)

    def at(name: str) -> torch.Tensor:
        return getattr(sched64, name)[t].reshape(-1, 1, 1, 1)

    beta, alpha, abar, prev = at("betas"), at("alphas"), at("alphas_cumprod"), at("alphas_cumprod_prev")
    coef_x0, coef_xt = prev.sqrt() * beta / (1 - abar), alpha.sqrt() * (1 - prev) / (1 - abar)
    v1, v2 = beta / alpha, 1 - prev  # the two factors' variances as Gaussians in x_{t-1}
    means = {
        "correct": mean,
        "abar_t": abar.sqrt() * beta / (1 - abar) * x0 + alpha.sqrt() * xt,
        "abar_t_x0": abar.sqrt() * beta / (1 - abar) * x0 + coef_xt * xt,
        "abar_t_xt": coef_x0 * x0 + alpha.sqrt() * xt,
        "abar_prev_no_sqrt": prev * beta / (1 - abar) * x0 + coef_xt * xt,
        "alpha_no_sqrt": coef_x0 * x0 + alpha * (1 - prev) / (1 - abar) * xt,
        "swapped": coef_x0 * xt + coef_xt * x0,
        "variance_weights": (v1 * xt / alpha.sqrt() + v2 * prev.sqrt() * x0) / (v1 + v2),
    }
    variances = {
        "correct": variance,
        "beta": beta,
        "std": variance.sqrt(),
        "no_alpha": beta * (1 - prev) / (beta + 1 - prev),
        "marginal": 1 - abar,
    }
    mean_scale, variance_scale = q_posterior_scales(s.schedule, x_0, x_t, t)
    values = {"mean": {k: literal(v) for k, v in means.items()}, "variance": {k: literal(v) for k, v in variances.items()}}
    return {"Q_POSTERIOR": values}, {"Q_POSTERIOR": {"mean": error_scale(mean_scale), "variance": error_scale(variance_scale)}}


# ----------------------------------------------------------------------------- 04 U-Net parts


def _film(block: Any, time_emb: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return block.mlp(time_emb)[:, :, None, None].chunk(2, dim=1)


def _film_swapped(block: Any, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
    """The mistake of taking the first half of ``mlp(time_emb)`` as the shift and the second as the scale."""
    scale, shift = _film(block, time_emb)
    return block.block2(block.block1(x, scale_shift=(shift, scale))) + block.res_conv(x)


def _film_in_block2(block: Any, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
    """The mistake of giving the scale and shift to block2 instead of block1."""
    return block.block2(block.block1(x), scale_shift=_film(block, time_emb)) + block.res_conv(x)


def unet_values() -> tuple[Values, Values]:
    """The embeddings, ``Block`` and ``ResnetBlock`` with the checks' filled parameters, and their named mistakes."""
    with Float64():
        out: Values = {"EMBEDDINGS": literal(unet.SinusoidalPositionEmbeddings(C.EMB_DIM)(f64(torch.tensor(C.EMB_T))))}
    scales: Values = {"EMBEDDINGS": error_scale(embedding_scale(torch.tensor(C.EMB_T).numpy(), C.EMB_DIM))}

    block = C.fill_parameters(unet.Block(C.BLOCK["dim"], C.BLOCK["dim_out"], groups=C.BLOCK["groups"])).double()
    x = f64(C.pattern(**C.BLOCK_X))
    scale, shift = f64(C.pattern(**C.BLOCK_SCALE)), f64(C.pattern(**C.BLOCK_SHIFT))
    with torch.no_grad():
        with Float64():
            normed = block.norm(block.proj(x))
            out["BLOCK"] = {
                "plain": literal(block(x)),
                "scale_shift": literal(block(x, scale_shift=(scale, shift))),
                "no_act": literal(normed),
                "act_first": literal(block.norm(F.silu(block.proj(x)))),
                "scale_no_one": literal(F.silu(normed * scale + shift)),
                "ss_after_act": literal(F.silu(normed) * (scale + 1) + shift),
            }
        scales["BLOCK"] = {
            "plain": error_scale(block_scale(block, x)),
            "scale_shift": error_scale(block_scale(block, x, scale_shift=(scale, shift))),
        }

    resnet = C.fill_parameters(unet.ResnetBlock(**C.RESNET)).double()
    same = C.fill_parameters(unet.ResnetBlock(**C.RESNET_SAME)).double()
    x8, time_emb = f64(C.pattern(**C.RESNET_SAME_X)), f64(C.pattern(**C.RESNET_TIME))
    with torch.no_grad():
        with Float64():
            out["RESNET"] = {
                "with_time": literal(resnet(x, time_emb)),
                "without_time": literal(resnet(x, None)),
                "same": literal(same(x8)),
                "swapped": literal(_film_swapped(resnet, x, time_emb)),
                "in_block2": literal(_film_in_block2(resnet, x, time_emb)),
            }
        scales["RESNET"] = {
            "with_time": error_scale(resnet_scale(resnet, x, time_emb)),
            "without_time": error_scale(resnet_scale(resnet, x, None)),
            "same": error_scale(resnet_scale(same, x8, None)),
        }
    return out, scales
