# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, q_sample, q_posterior, ...) it uses
import math

import torch


def vlb_term(model, schedule, x_0, t, noise=None, variance="posterior"):
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, not {variance!r}")
    if bool((t < 1).any()):
        raise ValueError("vlb_term is defined for t >= 1: at index 0 the term L_0 is the discrete decoder (eq. 13)")
    if noise is None:
        noise = torch.randn_like(x_0)
    x_t = q_sample(schedule, x_0, t, noise=noise)
    mu_q, var_q = q_posterior(schedule, x_0, x_t, t)
    beta = extract(schedule.betas, t, x_t.shape)
    mu_p = extract(schedule.sqrt_recip_alphas, t, x_t.shape) * (
        x_t - beta / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * model(x_t, t)
    )
    var_p = torch.where(torch.tensor(variance == "posterior"), var_q, beta)
    ratio = var_q / var_p
    kl = 0.5 * (-torch.log(ratio) + ratio + (mu_q - mu_p) ** 2 / var_p - 1)
    return kl.mean(dim=tuple(range(1, kl.dim()))) / math.log(2)
