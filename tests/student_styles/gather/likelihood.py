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
    B = x_t.shape[0]
    beta = torch.gather(schedule.betas, 0, t).view(B, 1, 1, 1)
    s1m = torch.gather(schedule.sqrt_one_minus_alphas_cumprod, 0, t).view(B, 1, 1, 1)
    sra = torch.gather(schedule.sqrt_recip_alphas, 0, t).view(B, 1, 1, 1)
    mu_p = sra * torch.addcmul(x_t, beta / s1m, model(x_t, t), value=-1.0)
    var_p = var_q if variance == "posterior" else beta
    diff = mu_q - mu_p
    kl = 0.5 * (torch.log(var_p) - torch.log(var_q)) + 0.5 * torch.addcmul(var_q, diff, diff) / var_p - 0.5
    return kl.view(B, -1).mean(dim=1) / math.log(2.0)
