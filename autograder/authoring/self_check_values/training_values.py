"""The self-checks' expected values of notebooks 01-04: the schedules, ``q_sample``, ``p_losses``, the
posterior and the U-Net parts, with their error scales. The known mistakes' values come from the catalogue
(``mistakes.py``), not from here."""

import numpy as np
import torch

# the hidden tests' float64 mode and error scales: the self-checks' tolerances are the grader's
from autograder.assignment.hidden_tests.common import Float64, loss_scale
from autograder.assignment.hidden_tests.forward import q_sample_scale
from autograder.assignment.hidden_tests.posterior import q_posterior_scales
from autograder.assignment.hidden_tests.schedules import cosine_scale, derive_alphas, derive_posterior, derive_prev, derive_sqrt
from autograder.assignment.hidden_tests.unet import block_scale, embedding_scale, resnet_scale
from autograder.authoring.self_check_values.inputs import CheckSchedule, Values, error_scale, f64, literal
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
        capped = schedules.cosine_beta_schedule(C.CHECK_T, max_beta=0.5)
    picked = (0, 1, 2, 100, 499, 900, 990, 998, 999)
    out["COSINE_10"] = literal(cosine)
    out["COSINE_1000"] = {index: literal(long[index]) for index in picked}
    out["COSINE_10_CAPPED"] = literal(capped)
    scales = {
        "SCHEDULE": schedule_scales,
        "COSINE_10": error_scale(cosine_scale(C.CHECK_T, 0.008, 0.999, cosine.numpy())),
        "COSINE_1000": error_scale(cosine_scale(1000, 0.008, 0.999, long.numpy())[list(picked)]),
        "COSINE_10_CAPPED": error_scale(cosine_scale(C.CHECK_T, 0.008, 0.5, capped.numpy())),
    }
    return out, scales


# ----------------------------------------------------------------------------- 02 forward


def forward_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``q_sample`` on the checks' x_0 and noise."""
    x_0, noise, t = C.pattern(**C.X0), C.pattern(**C.NOISE), torch.tensor(C.Q_T)
    with Float64():
        x_t = forward.q_sample(s.sched64, f64(x_0), t, f64(noise))
    return {"Q_SAMPLE": literal(x_t)}, {"Q_SAMPLE": error_scale(q_sample_scale(s.inputs, x_0, t, noise))}


# ----------------------------------------------------------------------------- 03 losses and the posterior


def losses_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``p_losses`` for each loss type."""
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
    values, scales = {}, {}
    for loss_type in ("l2", "l1", "huber"):
        with torch.no_grad(), Float64():
            loss = losses.p_losses(model, sched64, f64(x_0), t, noise=f64(noise), loss_type=loss_type)
        values[loss_type] = literal(loss)
        scales[loss_type] = error_scale(loss_scale(loss_type, pred.detach(), noise, pred_scale, float(loss)))
    return {"P_LOSSES": values}, {"P_LOSSES": scales}


def posterior_values(s: CheckSchedule) -> tuple[Values, Values]:
    """The posterior's mean and variance on the check's inputs (float64)."""
    sched64 = s.sched64
    x_0, x_t, t = C.pattern(**C.POST_X0), C.pattern(**C.POST_XT), torch.tensor(C.POST_T)
    with Float64():
        mean, variance = posterior.q_posterior(sched64, f64(x_0), f64(x_t), t)
    mean_scale, variance_scale = q_posterior_scales(s.schedule, x_0, x_t, t)
    values = {"mean": literal(mean), "variance": literal(variance)}
    return {"Q_POSTERIOR": values}, {"Q_POSTERIOR": {"mean": error_scale(mean_scale), "variance": error_scale(variance_scale)}}


# ----------------------------------------------------------------------------- 04 U-Net parts


def unet_values() -> tuple[Values, Values]:
    """The embeddings, ``Block`` and ``ResnetBlock`` with the checks' filled parameters."""
    with Float64():
        out: Values = {"EMBEDDINGS": literal(unet.SinusoidalPositionEmbeddings(C.EMB_DIM)(f64(torch.tensor(C.EMB_T))))}
    scales: Values = {"EMBEDDINGS": error_scale(embedding_scale(torch.tensor(C.EMB_T).numpy(), C.EMB_DIM))}

    block = C.fill_parameters(unet.Block(C.BLOCK["dim"], C.BLOCK["dim_out"], groups=C.BLOCK["groups"])).double()
    x = f64(C.pattern(**C.BLOCK_X))
    scale, shift = f64(C.pattern(**C.BLOCK_SCALE)), f64(C.pattern(**C.BLOCK_SHIFT))
    with torch.no_grad():
        with Float64():
            out["BLOCK"] = {"plain": literal(block(x)), "scale_shift": literal(block(x, scale_shift=(scale, shift)))}
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
            }
        scales["RESNET"] = {
            "with_time": error_scale(resnet_scale(resnet, x, time_emb)),
            "without_time": error_scale(resnet_scale(resnet, x, None)),
            "same": error_scale(resnet_scale(same, x8, None)),
        }
    return out, scales
