# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
from einops import rearrange, reduce


@torch.no_grad()
def ddim_step(model, schedule, x_t, t, t_prev, eta=0.0, clip_denoised=True):
    eps = model(x_t, t)
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    if t_prev >= 0:
        abar_prev = extract(schedule.alphas_cumprod, torch.full_like(t, t_prev), x_t.shape)
    else:
        abar_prev = torch.ones_like(abar)
    # per-image scalars of shape (B,), broadcast back with rearrange when used
    a, ap = reduce(abar, "b ... -> b", "mean"), reduce(abar_prev, "b ... -> b", "mean")
    expand = "b -> b" + " 1" * (x_t.ndim - 1)
    x0_hat = (x_t - rearrange((1 - a).sqrt(), expand) * eps) / rearrange(a.sqrt(), expand)
    if clip_denoised:
        x0_hat = x0_hat.clamp(min=-1, max=1)
        eps = (x_t - rearrange(a.sqrt(), expand) * x0_hat) / rearrange((1 - a).sqrt(), expand)
    sigma = eta * ((1 - ap) / (1 - a)).sqrt() * (1 - a / ap).sqrt()
    direction = (1 - ap - sigma**2).sqrt()
    x_prev = rearrange(ap.sqrt(), expand) * x0_hat + rearrange(direction, expand) * eps
    if eta > 0:
        x_prev = x_prev + rearrange(sigma, expand) * torch.randn_like(x_t)
    return x_prev
