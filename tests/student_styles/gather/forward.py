# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_sample(schedule, x_0, t, noise=None):
    if noise is None:
        noise = torch.randn_like(x_0)
    if noise.shape != x_0.shape:
        raise ValueError(f"noise shape {tuple(noise.shape)} must equal x_0 shape {tuple(x_0.shape)}")
    idx = t.to(schedule.sqrt_alphas_cumprod.device)
    mean_coef = schedule.sqrt_alphas_cumprod.gather(0, idx).to(x_0.device)
    std = schedule.sqrt_one_minus_alphas_cumprod.gather(0, idx).to(x_0.device)
    for _ in range(x_0.ndim - 1):
        mean_coef = mean_coef.unsqueeze(-1)
        std = std.unsqueeze(-1)
    return mean_coef * x_0 + std * noise
