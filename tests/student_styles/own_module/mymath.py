"""My own helpers for the DDPM exercises: the maths I need in several places, written once."""

import math

import torch


def alpha_bar(t, timesteps, s=0.008):
    """Nichol & Dhariwal's abar(t) = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), in float64."""
    t = torch.as_tensor(t, dtype=torch.float64)

    def f(u):
        return torch.cos((u / timesteps + s) / (1 + s) * math.pi / 2) ** 2

    return f(t) / f(torch.zeros((), dtype=torch.float64))


def shift_right(x, first=1.0):
    """``[first, x[0], ..., x[-2]]``."""
    return torch.cat([torch.full_like(x[:1], first), x[:-1]])


def gather_broadcast(values, index, ndim):
    """``values[index]`` shaped ``(B, 1, ..., 1)`` with ``ndim`` dimensions, on ``index``'s device."""
    picked = values[index.to(values.device)].to(index.device)
    return picked.reshape(picked.shape + (1,) * (ndim - 1))


def append_dims(x, ndim):
    """Trailing singleton dimensions until ``x`` has ``ndim`` dimensions."""
    return x[(...,) + (None,) * (ndim - x.ndim)]


def timestep_embedding(time, dim, max_period=10000):
    """``[sin(t w_i), cos(t w_i)]`` with ``w_i = max_period ** (-i / (dim / 2 - 1))``."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=time.device) / (half - 1)
    time = time if time.is_floating_point() else time.float()
    args = time[:, None] * torch.exp(exponent)[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


def modulate(x, scale, shift):
    """Adaptive scale and shift: ``x * (1 + scale) + shift``."""
    return x * (1 + scale) + shift


def eps_to_mean(x_t, eps, beta, alpha, abar):
    """Ho et al. eq. 11: ``(x_t - beta / sqrt(1 - abar) * eps) / sqrt(alpha)``."""
    return (x_t - beta / torch.sqrt(1 - abar) * eps) / torch.sqrt(alpha)


def eps_to_x0(x_t, eps, abar):
    """Invert eq. 4: ``(x_t - sqrt(1 - abar) eps) / sqrt(abar)``."""
    return (x_t - torch.sqrt(1 - abar) * eps) / torch.sqrt(abar)


def x0_to_eps(x_t, x0, abar):
    """Eq. 4 solved for the noise: ``(x_t - sqrt(abar) x0) / sqrt(1 - abar)``."""
    return (x_t - torch.sqrt(abar) * x0) / torch.sqrt(1 - abar)
