"""DDIM sampling (Song, Meng & Ermon 2021): the same trained eps-model, far fewer steps.

A bonus (stretch) exercise: ``ddim_step`` jumps from step index ``t`` straight to an
earlier index ``t_prev`` using the model's estimate of x_0. With ``eta = 0`` the update is
deterministic; with ``eta = 1`` and consecutive steps it matches DDPM's posterior noise.
"""

import torch
from tqdm.auto import tqdm

from .schedules import extract


def ddim_timesteps(timesteps, steps):
    """``steps`` evenly spaced 0-based indices from ``timesteps - 1`` down to 0, e.g. (1000, 5) -> [999, 749, 500, 250, 0]."""
    if not 1 <= steps <= timesteps:
        raise ValueError(f"steps must lie in 1 ... {timesteps}, got {steps}")
    return torch.linspace(timesteps - 1, 0, steps).round().long().tolist()


@torch.no_grad()
def ddim_step(model, schedule, x_t, t, t_prev, eta=0.0, clip_denoised=True):
    """One DDIM update from index ``t`` to index ``t_prev < t`` (Song et al. 2021, eq. 12).

    Args:
        model: ``eps_theta``, called as ``model(x_t, t)``.
        schedule: a ``DiffusionSchedule`` on ``x_t``'s device.
        x_t: ``(B, C, H, W)``.
        t: LongTensor ``(B,)`` filled with the current index.
        t_prev: the index to jump to (a Python int); ``-1`` means "all the way to x_0",
            where abar_prev = 1.
        eta: 0 for deterministic DDIM, 1 for DDPM-like noise.
        clip_denoised: clamp the predicted x_0 to [-1, 1] (then re-derive eps from it).

    With ``abar = abar_t`` and ``abar_prev = abar_{t_prev}`` (1.0 when ``t_prev < 0``):

        x0_hat   = (x_t - sqrt(1 - abar) * eps) / sqrt(abar)
        sigma    = eta * sqrt((1 - abar_prev) / (1 - abar)) * sqrt(1 - abar / abar_prev)
        x_prev   = sqrt(abar_prev) * x0_hat + sqrt(1 - abar_prev - sigma^2) * eps + sigma * z

    with ``z = torch.randn_like(x_t)`` (draw it only when ``eta > 0``).
    """
    eps = model(x_t, t)
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    if t_prev >= 0:
        abar_prev = extract(schedule.alphas_cumprod, torch.full_like(t, t_prev), x_t.shape)
    else:
        abar_prev = torch.ones_like(abar)
    # BEGIN SOLUTION: x0_hat (clamped and eps re-derived when clip_denoised), sigma, then x_prev of eq. 12
    # HINT: follow the three lines of the docstring; clamp(-1, 1) then eps = (x_t - sqrt(abar) x0_hat) / sqrt(1 - abar)
    x0_hat = (x_t - torch.sqrt(1.0 - abar) * eps) / torch.sqrt(abar)
    x0_hat = x0_hat.clamp(-1.0, 1.0) if clip_denoised else x0_hat
    eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)  # unchanged unless x0_hat was clamped
    sigma = eta * torch.sqrt((1.0 - abar_prev) / (1.0 - abar)) * torch.sqrt(1.0 - abar / abar_prev)
    direction = torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0)) * eps
    noise = sigma * torch.randn_like(x_t) if eta > 0 else torch.zeros_like(x_t)
    return torch.sqrt(abar_prev) * x0_hat + direction + noise
    # END SOLUTION


@torch.no_grad()
def ddim_sample(model, schedule, shape, steps=50, eta=0.0, clip_denoised=True, return_all=False, progress=True, generator=None):
    """Generate ``shape`` images in ``steps`` DDIM updates (instead of T DDPM steps)."""
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    x = torch.randn(shape, generator=generator, device="cpu").to(device)
    indices = ddim_timesteps(schedule.timesteps, steps)
    history = [x.cpu()]  # a few dozen frames at most: kept always, returned on request
    for position, index in enumerate(tqdm(indices, desc=f"DDIM {steps} steps", disable=not progress)):
        t = torch.full((shape[0],), index, device=device, dtype=torch.long)
        target = indices[position + 1] if position + 1 < len(indices) else -1
        x = ddim_step(model, schedule, x, t, target, eta=eta, clip_denoised=clip_denoised)
        history.append(x.cpu())
    return history if return_all else x
