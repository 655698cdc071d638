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
    mu_p = model(x_t, t).clone()
    mu_p.mul_(-beta / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape)).add_(x_t)
    mu_p.mul_(extract(schedule.sqrt_recip_alphas, t, x_t.shape))
    var_p = var_q if variance == "posterior" else beta
    kl = (mu_q - mu_p).pow_(2).add_(var_q).div_(var_p).sub_(1).add_(torch.log(var_p / var_q)).mul_(0.5)
    return kl.mean(dim=(1, 2, 3)).div_(math.log(2))
