# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_sample(schedule, x_0, t, noise=None):
    if noise is None:
        noise = torch.randn_like(x_0)
    if noise.shape != x_0.shape:
        raise ValueError(f"noise shape {tuple(noise.shape)} must equal x_0 shape {tuple(x_0.shape)}")
    sqrt_alphas_cumprod_t = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)
    return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise
