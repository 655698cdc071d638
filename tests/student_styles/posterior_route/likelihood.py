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
    eps = model(x_t, t)
    x0_hat = (x_t - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * eps) / extract(
        schedule.sqrt_alphas_cumprod, t, x_t.shape
    )
    mu_p, _ = q_posterior(schedule, x0_hat, x_t, t)
    match variance:
        case "posterior":
            var_p = var_q
        case _:
            var_p = extract(schedule.betas, t, x_t.shape)
    kl = 0.5 * (torch.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1)
    return kl.mean(dim=(1, 2, 3)) / math.log(2)
