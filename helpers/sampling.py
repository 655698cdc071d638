# Generated from solutions/sampling.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""The reverse (denoising) process p_theta(x_{t-1} | x_t): Ho et al. 2020, Algorithm 2."""

import torch
from tqdm.auto import tqdm

from .posterior import q_posterior
from .schedules import extract


def predict_x0(schedule, x_t, t, eps):
    """Invert eq. 4 for x_0 given a noise estimate:
    ``x0_hat = (x_t - sqrt(1 - abar_t) * eps) / sqrt(abar_t)``."""
    return (x_t - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * eps) / extract(
        schedule.sqrt_alphas_cumprod, t, x_t.shape
    )


def posterior_mean(schedule, x_t, t, x_0):
    """Mean of q(x_{t-1} | x_t, x_0) (Ho et al. eq. 7): the mean of your ``q_posterior`` (notebook 03)."""
    return q_posterior(schedule, x_0, x_t, t)[0]


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    """One reverse step: sample x_{t-1} from x_t (Algorithm 2, lines 3-4).

    Args:
        model: ``eps_theta``, called as ``model(x_t, t)``.
        schedule: a ``DiffusionSchedule`` on ``x_t``'s device.
        x_t: ``(B, C, H, W)`` current noisy images.
        t: LongTensor ``(B,)`` filled with ``t_index``.
        t_index: the 0-based step index as a Python int (paper step t_index + 1).
        clip_denoised: if True, use the clipped-x0 mean (provided below).

    Returns:
        x_{t-1} shaped like ``x_t``: the mean ``mu_theta`` plus
        ``sqrt(posterior_variance_t) * z`` with ``z ~ N(0, I)``, except at
        ``t_index == 0`` where it is the mean alone (Algorithm 2 sets z = 0 at t = 1).

    The mean without clipping is Ho et al. eq. 11:
        ``mu = 1 / sqrt(alpha_t) * (x_t - beta_t / sqrt(1 - abar_t) * eps_theta(x_t, t))``.
    With clipping, x0_hat = ``predict_x0(...)`` is clamped to [-1, 1] and the
    mean is ``posterior_mean(schedule, x_t, t, x0_hat)`` (eq. 7). Both agree
    when nothing is clamped. Eq. 11 scales an error of ``eps_theta`` by the
    gain ``beta_t / (sqrt(alpha_t) * sqrt(1 - abar_t))``; with the cosine
    schedule only the last beta reaches ``max_beta = 0.999``, so the gain is
    about 31.6 at index T - 1 (the first reverse step) and about 1.5, then
    0.83, at the next two. Clipping x0_hat projects it onto the data range:
    a heuristic that departs from p_theta. A smaller ``max_beta`` also helps.

    Hints:
        1. ``extract(schedule.sqrt_recip_alphas, t, x_t.shape)`` and friends.
        2. ``posterior_variance`` is a variance: the noise scale is its square root.
        3. Draw the noise with ``torch.randn_like(x_t)``.
    """
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        # COMPLETE THIS: the mean of eq. 11 from eps
        raise NotImplementedError('COMPLETE THIS: the mean of eq. 11 from eps')
    # COMPLETE THIS: return the mean at t_index 0, else add sqrt(posterior variance) * z
    raise NotImplementedError('COMPLETE THIS: return the mean at t_index 0, else add sqrt(posterior variance) * z')


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    """Algorithm 2: start from x_T ~ N(0, I) and apply ``p_sample`` for
    ``t_index = T-1, ..., 0``.

    Args:
        model: ``eps_theta``; its device decides where sampling runs.
        schedule: a ``DiffusionSchedule``.
        shape: ``(B, C, H, W)``.
        clip_denoised: passed to every ``p_sample`` call.
        return_all: if True, return a list of the T + 1 tensors x_T ... x_0
            (on the CPU, for plots and animations); otherwise only x_0.
        progress: show a ``tqdm`` progress bar.
        generator: optional ``torch.Generator`` for the starting noise.

    Returns:
        ``(B, C, H, W)`` tensor (or the list described above).

    Hints:
        1. ``t = torch.full((B,), t_index, device=device, dtype=torch.long)``.
        2. Loop with ``reversed(range(schedule.timesteps))``.
    """
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    # COMPLETE THIS: loop t_index from T-1 down to 0, calling p_sample; keep every step if return_all
    raise NotImplementedError('COMPLETE THIS: loop t_index from T-1 down to 0, calling p_sample; keep every step if return_all')


@torch.no_grad()
def sample(model, schedule, image_size, batch_size=16, channels=3, clip_denoised=False, return_all=False, progress=True):
    """Generate ``batch_size`` images of ``channels x image_size x image_size``."""
    return p_sample_loop(
        model,
        schedule,
        (batch_size, channels, image_size, image_size),
        clip_denoised=clip_denoised,
        return_all=return_all,
        progress=progress,
    )
