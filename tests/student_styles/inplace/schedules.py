# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "inplace": in-place tensor ops (mul_, add_, sub_, ...) wherever nothing else sees the tensor.
import math

import torch


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)
    f = torch.arange(timesteps + 1, dtype=torch.float64)
    f.div_(timesteps).add_(s).div_(1 + s).mul_(math.pi / 2).cos_().pow_(2)
    abar = f.div_(f[0].item())
    betas = abar[1:].div(abar[:-1])
    betas.neg_().add_(1.0).clamp_(max=max_beta)
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
        self.alphas = betas.neg().add_(1.0)  # a new tensor: the caller's betas stay untouched
        self.alphas_cumprod = self.alphas.cumprod(0)
        self.alphas_cumprod_prev = torch.empty_like(self.alphas_cumprod)
        self.alphas_cumprod_prev[0] = 1.0
        self.alphas_cumprod_prev[1:] = self.alphas_cumprod[:-1]
        self.sqrt_recip_alphas = self.alphas.sqrt().reciprocal_()
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        one_minus_abar = self.alphas_cumprod.neg().add_(1.0)
        self.sqrt_one_minus_alphas_cumprod = one_minus_abar.sqrt()
        self.posterior_variance = self.alphas_cumprod_prev.neg().add_(1.0).mul_(betas).div_(one_minus_abar)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    out = a[t.to(a.device)].to(t.device)  # indexing copies, so the in-place reshapes below are safe
    for _ in range(len(x_shape) - 1):
        out.unsqueeze_(-1)
    return out
