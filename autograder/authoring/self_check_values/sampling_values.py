"""The self-checks' expected values of notebooks 05, 08 and 10: ``p_sample``, ``vlb_term``, ``ddim_step``
and classifier-free guidance, each with the named mistakes the checks recognise and the error scales."""

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

# the hidden tests' float64 mode and error scales: the self-checks' tolerances are the grader's
from autograder.assignment.hidden_tests import Float64, ddim_scale, loss_scale, p_sample_scale, q_sample_scale, vlb_term_scale
from autograder.authoring.self_check_values.inputs import (
    CheckSchedule,
    Schedule,
    Values,
    eps_model_scale,
    error_scale,
    f64,
    literal,
)
from solutions import checks as C
from solutions import ddim, forward, likelihood, posterior, sampling, schedules

# ----------------------------------------------------------------------------- 05 sampling and the likelihood


def sampling_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``p_sample``'s mean and noise std for each case, and the named mistakes' (a shifted step, other constants)."""
    sched64 = s.sched64
    values, scales = {}, {}
    x_t32 = C.pattern(**C.SAMPLE_X)
    x_t = f64(x_t32)
    z = C.seeded_noise(x_t32, C.SEED)
    for case, (t_index, clip, betas_as_variance) in C.SAMPLE_CASES.items():
        base = C.sample_schedule(sched64, betas_as_variance)
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)

        def mean(sched: Schedule, shift: int = 0, clip: bool = clip, t: torch.Tensor = t) -> Any:
            # the reference step with the noise switched off is the mean alone; a shift moves the
            # schedule lookups (not the model's input) one index away, as an off-by-one slip does
            silent = sched.replace(posterior_variance=torch.zeros(C.CHECK_T))
            model = lambda x, steps: C.eps_model(x, steps - shift)  # noqa: E731 - a one-line stand-in
            with Float64():
                return literal(sampling.p_sample(model, silent, x_t, t + shift, 1, clip))

        def std(sched: Schedule, index: int = t_index) -> Any:
            return 0.0 if index == 0 else literal(sched.posterior_variance[index].sqrt())

        variance = float(base.posterior_variance[t_index])
        cases = {"correct": (mean(base), std(base))}
        if case == "last":
            cases["noise_at_0"] = (mean(base), literal(math.sqrt(variance)))
        else:
            cases.update(
                variance_as_std=(mean(base), literal(variance)),
                recip_alpha=(mean(base.replace(sqrt_recip_alphas=1 / base.alphas)), std(base)),
                alphas_not_cumprod=(mean(base.replace(sqrt_one_minus_alphas_cumprod=(1 - base.alphas).sqrt())), std(base)),
                t_minus_1=(mean(base, -1), std(base, t_index - 1)),
                t_plus_1=(mean(base, +1), std(base, t_index + 1)),
                beta_variance=(mean(base), literal(base.betas[t_index].sqrt())),
                no_noise=(mean(base), 0.0),
            )
        values[case] = cases
        ci = {f"sched.{name}": getattr(base, name).numpy() for name in C.SCHEDULE_FIELDS}
        eps = C.eps_model(x_t, t)
        scales[case] = error_scale(p_sample_scale(ci, x_t, t, t_index, eps, eps_model_scale(x_t, t), clip, z))
    return {"P_SAMPLE": values}, {"P_SAMPLE": scales}


def _vlb_mistakes(sched: Schedule, x_0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, variance: str) -> dict:
    """The KL term of ``likelihood.vlb_term`` as the known mistakes compute it (float64 inputs)."""
    x_t = forward.q_sample(sched, x_0, t, noise)
    mean_q, var_q = posterior.q_posterior(sched, x_0, x_t, t)
    var_b = schedules.extract(sched.betas, t, x_t.shape)
    var_p = var_q if variance == "posterior" else var_b

    def mean_p(eps):
        coef = schedules.extract(sched.betas / sched.sqrt_one_minus_alphas_cumprod, t, x_t.shape)
        return schedules.extract(sched.sqrt_recip_alphas, t, x_t.shape) * (x_t - coef * eps)

    def kl(m_q, v_q, m_p, v_p, half=0.5, log=True):
        return half * ((torch.log(v_p / v_q) if log else 0.0) + (v_q + (m_q - m_p) ** 2) / v_p - 1.0)

    def bits(per_dim, reduce=torch.mean):
        return reduce(per_dim.flatten(1), dim=1) / math.log(2.0)

    m_p = mean_p(C.eps_model(x_t, t))
    mistakes = {
        "nats": bits(kl(mean_q, var_q, m_p, var_p)) * math.log(2.0),
        "sum_dims": bits(kl(mean_q, var_q, m_p, var_p), torch.sum),
        "variance_as_std": bits(kl(mean_q, var_q, m_p, var_p.sqrt())),
        "no_half": bits(kl(mean_q, var_q, m_p, var_p, half=1.0)),
        "model_on_x0": bits(kl(mean_q, var_q, mean_p(C.eps_model(x_0, t)), var_p)),
    }
    if variance == "beta":  # with equal variances the KL is symmetric and has no log term: these show with beta only
        mistakes["swapped"] = bits(kl(m_p, var_p, mean_q, var_q))
        mistakes["no_log"] = bits(kl(mean_q, var_q, m_p, var_p, log=False))
        mistakes["posterior_for_beta"] = bits(kl(mean_q, var_q, m_p, var_q))
    return mistakes


def likelihood_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``vlb_term`` with either variance, and the named mistakes' KL terms."""
    x_0, noise, t = C.pattern(**C.X0), C.pattern(**C.NOISE), torch.tensor(C.VLB_T)
    values, scales = {}, {}

    def vlb_eps_scale(x: torch.Tensor, x_scale: np.ndarray, steps: torch.Tensor) -> np.ndarray:
        """``checks.eps_model``'s error scale, with x's own."""
        return 0.5 * (x.abs().numpy() + x_scale) + 0.2 + 0.05 * (steps.double().numpy() + 1.0).reshape(-1, 1, 1, 1)

    for variance in ("posterior", "beta"):
        with Float64():
            cases = {"correct": literal(likelihood.vlb_term(C.eps_model, s.sched64, f64(x_0), t, f64(noise), variance))}
            mistakes = _vlb_mistakes(s.sched64, f64(x_0), t, f64(noise), variance)
            cases.update({key: literal(value) for key, value in mistakes.items()})
        values[variance] = cases
        scales[variance] = error_scale(
            vlb_term_scale(s.inputs, x_0.numpy(), t.numpy(), noise.numpy(), C.eps_model, variance, vlb_eps_scale)
        )
    return {"VLB_TERM": values}, {"VLB_TERM": scales}


# ----------------------------------------------------------------------------- 08 DDIM (bonus)


def ddim_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``ddim_step`` as (mean, noise std) for each case, and the named mistakes'."""
    sched64 = s.sched64
    x_t32 = C.pattern(**C.SAMPLE_X)
    x_t = f64(x_t32)
    z = C.seeded_noise(x_t32, C.SEED)
    values, scales = {}, {}
    for case, (index, t_prev, eta, clip) in C.DDIM_CASES.items():
        t = torch.full((x_t.shape[0],), index, dtype=torch.long)

        def split(sched: Schedule, eta: float = eta, clip: bool = clip, t: torch.Tensor = t, t_prev: int = t_prev) -> tuple:
            # (mean, std) from two seeded runs: out = mean + std * z
            runs = []
            for seed in (C.SEED, C.SEED + 1):
                torch.manual_seed(seed)
                with Float64():
                    step = ddim.ddim_step(C.eps_model, sched, x_t, t, t_prev, eta=eta, clip_denoised=clip)
                runs.append((step, C.seeded_noise(x_t32, seed).double()))
            (out_a, z_a), (out_b, z_b) = runs
            std = float(((out_a - out_b) / (z_a - z_b)).median()) if eta > 0 else 0.0
            return literal(out_a - std * z_a), literal(std)

        cases = {"correct": split(sched64)}
        cases["alphas"] = split(sched64.replace(alphas_cumprod=sched64.alphas))
        if clip:
            cases["no_clip"] = split(sched64, clip=False)
        if eta > 0:
            cases["no_noise"] = (cases["correct"][0], 0.0)
            cases["deterministic"] = split(sched64, eta=0.0)
        values[case] = cases
        eps = C.eps_model(x_t, t)
        ddim_z = z if eta > 0 else torch.zeros_like(z)
        scales[case] = error_scale(ddim_scale(s.inputs, x_t, t, t_prev, eta, clip, eps, eps_model_scale(x_t, t), ddim_z))
    return {"DDIM": values}, {"DDIM": scales}


# ----------------------------------------------------------------------------- 10 classifier-free guidance (bonus)


def guidance_values(s: CheckSchedule) -> tuple[Values, Values]:
    """``p_losses_cfg`` with the checks' drop mask and ``p_sample_guided``, with the named mistakes."""
    from solutions import guidance  # the bonus module, as the checks import it: only here

    sched64 = s.sched64
    x_0, noise, t = f64(C.pattern(**C.X0)), f64(C.pattern(**C.NOISE)), torch.tensor(C.LOSS_T)
    labels, mask = torch.tensor(C.CFG_LABELS), torch.tensor(C.CFG_MASK)
    model = C.ClassEpsNet().double()
    null = torch.full_like(labels, C.CFG_CLASSES)

    def loss(used: torch.Tensor, target: torch.Tensor = noise, model_input: torch.Tensor | None = None) -> Any:
        with torch.no_grad(), Float64():
            x_t = forward.q_sample(sched64, x_0, t, noise) if model_input is None else model_input
            return literal(F.mse_loss(model(x_t, t, used), target))

    with torch.no_grad(), Float64():
        correct = guidance.p_losses_cfg(model, sched64, x_0, t, labels, C.CFG_P_UNCOND, noise, mask)
        used = torch.where(mask, null, labels)
        x_t = forward.q_sample(sched64, x_0, t, noise)
        pred = model(x_t, t, used)
    out: Values = {
        "P_LOSSES_CFG": {
            "loss": literal(correct),
            "mask_inverted": loss(torch.where(~mask, null, labels)),
            "no_dropout": loss(labels),
            "null_is_0": loss(torch.where(mask, torch.zeros_like(labels), labels)),
            "target_x0": loss(used, target=x_0),
            "model_on_x0": loss(used, model_input=x_0),
        }
    }
    x_scale = q_sample_scale(s.inputs, C.pattern(**C.X0), t, C.pattern(**C.NOISE))
    offset = np.abs(np.array(C.CFG_OFFSETS))[used.numpy()].reshape(-1, 1, 1, 1)
    pred_scale = 2.0 * (0.5 * (x_t.abs().numpy() + x_scale) + eps_model_scale(x_t, t) + offset) + pred.abs().numpy()
    scales: Values = {"P_LOSSES_CFG": error_scale(loss_scale("l2", pred, noise, pred_scale, float(correct)))}
    out["GUIDED"], scales["GUIDED"] = _guided_values(s, model, guidance)
    return out, scales


def _guided_values(s: CheckSchedule, model: torch.nn.Module, guidance: Any) -> tuple[Values, Values]:
    """``p_sample_guided`` for each of the checks' cases, and the named mistakes (other mixes of the two estimates)."""
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

        def step(eps: torch.Tensor, t: torch.Tensor = t, t_index: int = t_index, clip: bool = clip) -> Any:
            torch.manual_seed(C.SEED)
            with torch.no_grad(), Float64():
                return literal(sampling.p_sample(lambda _x, _t: eps, sched64, x_t, t, t_index, clip))

        torch.manual_seed(C.SEED)
        with torch.no_grad(), Float64():
            correct = guidance.p_sample_guided(model, sched64, x_t, t, t_index, labels, w, clip_denoised=clip)
        # the s-convention with w plugged in as s: at w = 0 that is the unconditional estimate alone
        cases = {"correct": literal(correct), "scale_convention": step(eps_u + w * (eps_c - eps_u))}
        if w > 0:
            cases.update(
                sign_flipped=step((1 - w) * eps_c + w * eps_u),
                w_on_uncond=step(eps_c + w * eps_u),
                conditional_only=step(eps_c),  # also the unconditional pass given the real label
            )
        values[case] = cases
        eps = (1 + w) * eps_c - w * eps_u
        offsets = np.abs(np.array(C.CFG_OFFSETS))
        model_err = eps_model_scale(x_t, t) + 0.5 * x_t.abs().numpy()
        guided_err = (1 + w) * (model_err + offsets[labels.numpy()].reshape(-1, 1, 1, 1) + 2 * eps_c.abs().numpy())
        guided_err = guided_err + w * (model_err + offsets[-1] + 2 * eps_u.abs().numpy())
        ci = {f"sched.{name}": getattr(sched64, name).numpy() for name in C.SCHEDULE_FIELDS}
        z = C.seeded_noise(x_t32, C.SEED)
        scales[case] = error_scale(p_sample_scale(ci, x_t, t, t_index, eps, guided_err, clip, z))
    return values, scales
