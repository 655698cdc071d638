# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch

from .mymath import eps_to_x0, x0_to_eps


@torch.no_grad()
def ddim_step(model, schedule, x_t, t, t_prev, eta=0.0, clip_denoised=True):
    eps = model(x_t, t)
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    if t_prev >= 0:
        abar_prev = extract(schedule.alphas_cumprod, torch.full_like(t, t_prev), x_t.shape)
    else:
        abar_prev = torch.ones_like(abar)
    x0_hat = eps_to_x0(x_t, eps, abar)
    if clip_denoised:
        x0_hat = x0_hat.clamp(-1, 1)
        eps = x0_to_eps(x_t, x0_hat, abar)
    sigma = eta * ((1 - abar_prev) / (1 - abar)).sqrt() * (1 - abar / abar_prev).sqrt()
    x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev - sigma**2).sqrt() * eps
    if eta > 0:
        x_prev = x_prev + sigma * torch.randn_like(x_t)
    return x_prev
