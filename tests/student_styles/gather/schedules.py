# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "gather": torch.gather in extract, .view/.unsqueeze broadcasting elsewhere;
# the cosine schedule in plain Python floats (improved-diffusion's betas_for_alpha_bar).
import math

import torch
import torch.nn.functional as F


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)

    def f(step):
        return math.cos((step / timesteps + s) / (1 + s) * math.pi / 2) ** 2

    abar = [f(step) / f(0) for step in range(timesteps + 1)]
    betas = [min(1 - abar[i + 1] / abar[i], max_beta) for i in range(timesteps)]
    betas = torch.tensor(betas, dtype=torch.float64)
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
        self.alphas = 1.0 - betas
        # the running product in float64, stored in the betas' dtype
        self.alphas_cumprod = torch.cumprod(self.alphas.double(), dim=0).to(betas.dtype)
        self.alphas_cumprod_prev = F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)
        self.sqrt_recip_alphas = 1.0 / torch.sqrt(self.alphas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1.0 - self.alphas_cumprod)
        self.posterior_variance = self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    b = t.shape[0]
    out = torch.gather(a, 0, t.long().to(a.device))
    return out.view(b, *([1] * (len(x_shape) - 1))).to(t.device)
