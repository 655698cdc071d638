# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "float64": every intermediate in float64, cast back to the input dtype at the end.
import math

import torch


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)
    x = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((x + s) / (1.0 + s) * (math.pi / 2.0)).pow(2)
    abar = f / f[0]
    betas = 1.0 - abar[1:] / abar[:-1]
    betas = torch.minimum(betas, torch.tensor(max_beta, dtype=torch.float64))
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
        dtype = betas.dtype
        b = betas.to(torch.float64)
        alphas = 1.0 - b
        abar = torch.cumprod(alphas, dim=0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64, device=b.device), abar[:-1]])
        self.alphas = alphas.to(dtype)
        self.alphas_cumprod = abar.to(dtype)
        self.alphas_cumprod_prev = abar_prev.to(dtype)
        self.sqrt_recip_alphas = (1.0 / torch.sqrt(alphas)).to(dtype)
        self.sqrt_alphas_cumprod = torch.sqrt(abar).to(dtype)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1.0 - abar).to(dtype)
        self.posterior_variance = (b * (1.0 - abar_prev) / (1.0 - abar)).to(dtype)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    picked = torch.index_select(a, 0, t.to(device=a.device, dtype=torch.long))
    return picked.reshape((t.shape[0],) + (1,) * (len(x_shape) - 1)).to(t.device)
