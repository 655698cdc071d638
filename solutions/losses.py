"""The simplified DDPM training objective (Ho et al. 2020, eq. 14)."""

import torch
import torch.nn.functional as F

from .forward import q_sample

LOSS_TYPES = ("l1", "l2", "huber")


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    """Noise-prediction loss ``|| noise - eps_theta(x_t, t) ||`` (eq. 14).

    Args:
        model: callable ``model(x_t, t) -> eps``, same shape as ``x_t``.
        schedule: a ``DiffusionSchedule``.
        x_0: clean images ``(B, C, H, W)`` in ``[-1, 1]``.
        t: LongTensor ``(B,)`` of 0-based step indices.
        noise: optional standard normal tensor shaped like ``x_0``.
        loss_type: ``"l2"`` (mean squared error, the paper's choice),
            ``"l1"`` (mean absolute error) or ``"huber"`` (smooth L1).

    Returns:
        a scalar tensor (mean over every element).

    Hints:
        1. Noise the images with your ``q_sample`` using the *same* noise.
        2. ``F.mse_loss``, ``F.l1_loss`` and ``F.smooth_l1_loss`` do the rest.
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    # BEGIN SOLUTION: noise x_0 with q_sample, predict the noise, compare with the chosen loss
    x_noisy = q_sample(schedule, x_0, t, noise=noise)
    predicted_noise = model(x_noisy, t)
    if loss_type == "l1":
        return F.l1_loss(predicted_noise, noise)
    if loss_type == "l2":
        return F.mse_loss(predicted_noise, noise)
    return F.smooth_l1_loss(predicted_noise, noise)
    # END SOLUTION
