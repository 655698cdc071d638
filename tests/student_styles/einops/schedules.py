# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "einops": rearrange/repeat for every reshape and broadcast.
import math

import torch
from einops import rearrange


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    alphas_cumprod = torch.cos((t / timesteps + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    ratios = alphas_cumprod[1:] / alphas_cumprod[:-1]
    betas = (1 - ratios).clip(max=max_beta)
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
        self.alphas_cumprod = self.alphas.cumprod(dim=0)
        one = torch.ones(1, dtype=betas.dtype, device=betas.device)
        self.alphas_cumprod_prev = torch.cat([one, self.alphas_cumprod[:-1]])
        self.sqrt_recip_alphas = self.alphas**-0.5
        self.sqrt_alphas_cumprod = self.alphas_cumprod**0.5
        self.sqrt_one_minus_alphas_cumprod = (1 - self.alphas_cumprod) ** 0.5
        self.posterior_variance = self.betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    picked = a[t.to(a.device)].to(t.device)
    pattern = "b -> b" + " 1" * (len(x_shape) - 1)
    return rearrange(picked, pattern)
