# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "where": torch.where and boolean masks instead of branches and slices; clip/clamp.
import math

import torch


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)
    t = torch.linspace(0.0, float(timesteps), timesteps + 1, dtype=torch.float64)
    f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    betas = torch.where(betas > max_beta, torch.full_like(betas, max_beta), betas)
    return betas.to(torch.float32)


class DiffusionSchedule:
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
        self.alphas = 1 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, 0)
        # shift right by one with roll, then overwrite the wrapped-around first entry with 1.0
        first = torch.arange(len(betas), device=betas.device) == 0
        rolled = torch.roll(self.alphas_cumprod, shifts=1)
        self.alphas_cumprod_prev = torch.where(first, torch.ones_like(rolled), rolled)
        self.sqrt_recip_alphas = torch.sqrt(1 / self.alphas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1 - self.alphas_cumprod)
        variance = betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)
        self.posterior_variance = torch.where(first, torch.zeros_like(variance), variance)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    # one boolean row per batch element selects exactly one entry of a
    idx = t.to(a.device)
    mask = idx[:, None] == torch.arange(len(a), device=a.device)[None, :]
    picked = a.expand(len(idx), -1)[mask]
    return picked.reshape(len(idx), *[1] * (len(x_shape) - 1)).to(t.device)
