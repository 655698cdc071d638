"""The forward-process posterior q(x_{t-1} | x_t, x_0): Bayes' rule and completing the square."""

import torch

from .schedules import extract


def q_posterior(schedule, x_0, x_t, t):
    """Mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. eqs. 6-7).

    Returns ``(mean, variance)``: ``mean`` shaped like ``x_t``, ``variance`` shaped ``(B, 1, ..., 1)``.
    """
    # BEGIN SOLUTION: combine q(x_t | x_{t-1}) and q(x_{t-1} | x_0) by completing the square
    beta_t = extract(schedule.betas, t, x_t.shape)
    alpha_t = extract(schedule.alphas, t, x_t.shape)
    abar_t = extract(schedule.alphas_cumprod, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    mean = torch.sqrt(abar_prev) * beta_t / (1.0 - abar_t) * x_0 + torch.sqrt(alpha_t) * (1.0 - abar_prev) / (1.0 - abar_t) * x_t
    variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)
    return mean, variance
    # END SOLUTION
