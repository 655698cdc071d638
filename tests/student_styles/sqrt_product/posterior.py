# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_posterior(schedule, x_0, x_t, t):
    beta = extract(schedule.betas, t, x_t.shape)
    alpha = extract(schedule.alphas, t, x_t.shape)
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    variance = beta * (1 - abar_prev) / (1 - abar)
    # beta sqrt(abar_prev) / (1 - abar) = sqrt(abar_prev beta^2) / (1 - abar); the x_t weight is variance sqrt(alpha) / beta
    mean = torch.sqrt(abar_prev * beta * beta) / (1 - abar) * x_0 + variance * torch.rsqrt(alpha).pow(-1) / beta * x_t
    return mean, variance
