# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_posterior(schedule, x_0, x_t, t):
    # eq. 7 as derived: precisions alpha/beta and 1/(1 - abar_prev) add up to (1 - abar_t) / (beta (1 - abar_prev))
    beta = extract(schedule.betas, t, x_t.shape)
    alpha = extract(schedule.alphas, t, x_t.shape)
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    mean = torch.sqrt(abar_prev) * beta / (1 - abar) * x_0 + torch.sqrt(alpha) * (1 - abar_prev) / (1 - abar) * x_t
    variance = (1 - abar_prev) / (1 - abar) * beta
    return mean, variance
