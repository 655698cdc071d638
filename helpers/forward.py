# Generated from solutions/forward.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""The forward (noising) process q(x_t | x_0)."""

import torch

from .schedules import extract


def q_sample(schedule, x_0, t, noise=None):
    """Sample x_t ~ q(x_t | x_0) in one shot (Ho et al. 2020, eq. 4):

        x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * noise

    Args:
        schedule: a ``DiffusionSchedule``.
        x_0: clean images, float tensor ``(B, C, H, W)`` in ``[-1, 1]``.
        t: LongTensor ``(B,)`` of 0-based step indices in ``0 ... T-1``.
        noise: optional standard normal tensor shaped like ``x_0``; drawn
            with ``torch.randn_like`` when omitted.

    Returns:
        x_t, shaped like ``x_0``.

    Hints:
        1. ``extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)`` gives a
           ``(B, 1, 1, 1)`` tensor that broadcasts against the batch.
        2. The noise is scaled by the *standard deviation* sqrt(1 - abar_t).
    """
    if noise is None:
        noise = torch.randn_like(x_0)
    if noise.shape != x_0.shape:
        raise ValueError(f"noise shape {tuple(noise.shape)} must equal x_0 shape {tuple(x_0.shape)}")
    # COMPLETE THIS: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise
    raise NotImplementedError('COMPLETE THIS: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise')


def q_sample_chain(schedule, x_0, t_stop, generator=None):
    """Run the forward chain one step at a time up to index ``t_stop``:
    ``x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z`` (Ho et al. eq. 2).

    Provided for comparison with the closed form of ``q_sample``: both give
    the same distribution of x_t. Returns x at index ``t_stop``.
    """
    x = x_0
    for step in range(t_stop + 1):
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = torch.sqrt(schedule.alphas[step]) * x + torch.sqrt(schedule.betas[step]) * z
    return x
