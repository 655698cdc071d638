# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_posterior(schedule, x_0, x_t, t):
    # precisions add; at index 0 abar_prev = 1 and q(x_{t-1} | x_0) is the point x_0 itself
    beta = extract(schedule.betas, t, x_t.shape)
    alpha = extract(schedule.alphas, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    point = abar_prev >= 1.0
    prior_var = torch.where(point, torch.ones_like(abar_prev), 1.0 - abar_prev)
    variance = torch.where(point, torch.zeros_like(beta), 1.0 / (alpha / beta + 1.0 / prior_var))
    mean = variance * (alpha.sqrt() / beta * x_t + abar_prev.sqrt() / prior_var * x_0)
    return torch.where(point, x_0, mean), variance
