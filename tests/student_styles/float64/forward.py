# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_sample(schedule, x_0, t, noise=None):
    if noise is None:
        noise = torch.randn_like(x_0)
    if noise.shape != x_0.shape:
        raise ValueError(f"noise shape {tuple(noise.shape)} must equal x_0 shape {tuple(x_0.shape)}")
    abar = extract(schedule.alphas_cumprod, t, x_0.shape).double()
    x_t = abar.sqrt() * x_0.double() + (1.0 - abar).sqrt() * noise.double()
    return x_t.to(x_0.dtype)
