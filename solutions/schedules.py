"""Noise schedules and the constants of the forward process.

Index convention used everywhere in this course: arrays have length ``T`` and
are indexed by ``t = 0 ... T-1``. The paper's step *t* (1-based) is index
``t - 1``; so ``betas[0]`` is the paper's beta_1 and ``alphas_cumprod[T-1]``
is the paper's abar_T.
"""

import math

import torch
import torch.nn.functional as F


def _check_timesteps(timesteps):
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
        raise ValueError(f"timesteps must be a positive int, got {timesteps!r}")


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    """The schedule of Ho et al. 2020 (Section 4): betas evenly spaced from
    ``beta_start`` (beta_1) to ``beta_end`` (beta_T).

    Returns a float32 tensor of shape ``(timesteps,)``.
    """
    _check_timesteps(timesteps)
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float32)


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    """The cosine schedule of Nichol & Dhariwal 2021, eq. 17.

    ``abar(t) = f(t) / f(0)`` with ``f(t) = cos(((t / T) + s) / (1 + s) * pi / 2) ** 2``
    for ``t = 0 ... T``, and ``beta_t = 1 - abar(t + 1) / abar(t)`` for
    ``t = 0 ... T-1``, clipped above at ``max_beta`` (0.999 in the paper) so the
    last step does not become singular.

    Args:
        timesteps: T, the number of diffusion steps.
        s: small offset that keeps beta_1 from being vanishingly small.
        max_beta: upper clip for the betas.

    Returns:
        float32 tensor of shape ``(T,)`` with values in ``(0, max_beta]``.

    Hints:
        1. Work in float64 (``torch.float64``): the ratio of two nearly equal
           numbers near t = 0 loses precision in float32.
        2. ``torch.linspace(0, T, T + 1)`` gives the T + 1 grid points.
        3. Clip with ``torch.clamp(..., max=max_beta)`` only: not at 0.02.
    """
    _check_timesteps(timesteps)
    # BEGIN SOLUTION: the betas of Nichol & Dhariwal eq. 17, clipped at max_beta
    # HINT: f(t) on t = 0..T in float64, abar = f / f[0], beta = 1 - abar[1:] / abar[:-1]
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    betas = torch.clamp(betas, max=max_beta)
    # END SOLUTION
    return betas.to(torch.float32)


def quadratic_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    """Betas whose square roots are evenly spaced (an extra, for comparison)."""
    _check_timesteps(timesteps)
    return torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=torch.float32) ** 2


def sigmoid_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    """Betas following a sigmoid from ``beta_start`` to ``beta_end`` (an extra)."""
    _check_timesteps(timesteps)
    x = torch.linspace(-6, 6, timesteps, dtype=torch.float32)
    return torch.sigmoid(x) * (beta_end - beta_start) + beta_start


BETA_SCHEDULES = {
    "linear": linear_beta_schedule,
    "cosine": cosine_beta_schedule,
    "quadratic": quadratic_beta_schedule,
    "sigmoid": sigmoid_beta_schedule,
}


class DiffusionSchedule:
    """Every constant the forward and reverse processes need, precomputed.

    Args:
        betas: 1-D float tensor of shape ``(T,)`` with values in ``(0, 1)``.

    Attributes (all tensors of shape ``(T,)``, index ``t`` = paper step ``t + 1``):
        timesteps: T (an int).
        betas: beta_t.
        alphas: alpha_t = 1 - beta_t.
        alphas_cumprod: abar_t = prod_{s <= t} alpha_s (Ho et al., above eq. 4).
        alphas_cumprod_prev: abar_{t-1}, with 1.0 at index 0 (abar_0 = 1: no noise yet).
        sqrt_recip_alphas: 1 / sqrt(alpha_t), used in eq. 11.
        sqrt_alphas_cumprod: sqrt(abar_t), used in eq. 4.
        sqrt_one_minus_alphas_cumprod: sqrt(1 - abar_t), used in eqs. 4 and 11.
        posterior_variance: beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)
            (eq. 7). It is a variance: sampling scales noise by its square root.

    Hints:
        1. ``torch.cumprod(x, dim=0)`` is the running product.
        2. ``F.pad(x[:-1], (1, 0), value=1.0)`` shifts right and puts 1.0 first.
    """

    def __init__(self, betas):
        betas = torch.as_tensor(betas)
        if betas.ndim != 1 or len(betas) == 0:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}")
        if not torch.is_floating_point(betas):
            raise TypeError(f"betas must be a float tensor, got {betas.dtype}")
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("every beta must lie strictly between 0 and 1")
        self.timesteps = len(betas)
        self.betas = betas
        # BEGIN SOLUTION: alphas, alphas_cumprod, alphas_cumprod_prev and the derived constants
        # HINT: follow the attribute list in the docstring, one line each
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)
        self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1.0 - self.alphas_cumprod)
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # END SOLUTION

    @classmethod
    def from_name(cls, name, timesteps, **kwargs):
        """``DiffusionSchedule.from_name("cosine", 1000)`` and the like."""
        if name not in BETA_SCHEDULES:
            raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(BETA_SCHEDULES)}")
        return cls(BETA_SCHEDULES[name](timesteps, **kwargs))

    def reaches_noise(self, max_abar=0.01):
        """True when x_T is (nearly) pure noise: abar_T <= ``max_abar``.

        Sampling starts from N(0, I), so training must reach it: a linear
        1e-4...0.02 schedule over T = 200 ends at abar_T ~ 0.13 and fails this.
        """
        return float(self.alphas_cumprod[-1]) <= max_abar

    def to(self, device):
        """Move every tensor constant to ``device``; returns ``self``."""
        for name, value in vars(self).items():
            if torch.is_tensor(value):
                setattr(self, name, value.to(device))
        return self

    def __repr__(self):
        return f"DiffusionSchedule(timesteps={self.timesteps}, device={self.betas.device})"


def extract(a, t, x_shape):
    """Pick ``a[t]`` per batch element, shaped to broadcast against ``x_shape``.

    Args:
        a: tensor of shape ``(T,)`` (a schedule constant).
        t: LongTensor of shape ``(B,)`` with values in ``0 ... T-1``.
        x_shape: the shape ``(B, C, H, W)`` (or any rank) of the tensor the
            result will multiply.

    Returns:
        tensor of shape ``(B, 1, ..., 1)`` (``len(x_shape)`` dims) on ``t``'s device.

    Hints:
        1. Index ``a`` on its own device, then move the result to ``t.device``.
        2. ``reshape(B, *([1] * (len(x_shape) - 1)))``.
    """
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    # BEGIN SOLUTION: gather a[t] and reshape it to (B, 1, ..., 1) on t's device
    out = a[t.to(a.device)]
    return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)
    # END SOLUTION
