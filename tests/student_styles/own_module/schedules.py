# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "own_module": the shared maths lives in their own helpers/mymath.py.
import torch

from .mymath import alpha_bar, gather_broadcast, shift_right


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)
    abar = alpha_bar(torch.arange(timesteps + 1), timesteps, s=s)
    betas = torch.clamp(1 - abar[1:] / abar[:-1], min=0, max=max_beta)
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
        self.alphas_cumprod_prev = shift_right(self.alphas_cumprod, first=1.0)
        self.sqrt_recip_alphas = 1 / self.alphas.sqrt()
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1 - self.alphas_cumprod).sqrt()
        self.posterior_variance = self.betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    return gather_broadcast(a, t, len(x_shape))
