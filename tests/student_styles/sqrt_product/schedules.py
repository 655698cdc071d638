# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
# Student "sqrt_product": other algebraic arrangements of the same formulas: sqrt(a * b) for
# sqrt(a) * sqrt(b), rsqrt, pow(0.5), log-space products, reciprocals; numpy for the cosine schedule.
import numpy as np
import torch


def cosine_beta_schedule(timesteps, s=0.008, max_beta=0.999):
    _check_timesteps(timesteps)
    t = np.linspace(0, timesteps, timesteps + 1, dtype=np.float64)
    f = np.cos((t / timesteps + s) / (1 + s) * np.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = np.clip(1 - alphas_cumprod[1:] / alphas_cumprod[:-1], a_min=None, a_max=max_beta)
    return torch.from_numpy(betas).to(torch.float32)


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
        # the running product as the exponential of a running sum of logs
        self.alphas_cumprod = torch.exp(torch.cumsum(torch.log1p(-betas), dim=0))
        self.alphas_cumprod_prev = torch.cat([self.alphas_cumprod.new_tensor([1.0]), self.alphas_cumprod[:-1]])
        self.sqrt_recip_alphas = torch.rsqrt(self.alphas)
        self.sqrt_alphas_cumprod = self.alphas_cumprod.pow(0.5)
        self.sqrt_one_minus_alphas_cumprod = (-torch.expm1(torch.log(self.alphas_cumprod))).pow(0.5)
        # 1 / beta~_t = 1 / (1 - abar_{t-1}) + alpha_t / beta_t; at t = 0 the first term is inf, so beta~_0 = 0
        self.posterior_variance = 1 / (1 / (1 - self.alphas_cumprod_prev) + self.alphas / betas)


def extract(a, t, x_shape):
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an integer (Long) tensor of step indices, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(a)):
        raise IndexError(f"t must lie in 0 ... {len(a) - 1} (0-based step index), got {t.tolist()}")
    values = a[t.to(a.device)]
    return values[(...,) + (None,) * (len(x_shape) - 1)].to(t.device)
