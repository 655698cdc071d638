# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def ddim_step(model, schedule, x_t, t, t_prev, eta=0.0, clip_denoised=True):
    eps = model(x_t, t)
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    if t_prev >= 0:
        abar_prev = extract(schedule.alphas_cumprod, torch.full_like(t, t_prev), x_t.shape)
    else:
        abar_prev = torch.ones_like(abar)
    x0_hat = (x_t - (1 - abar).sqrt() * eps) * torch.rsqrt(abar)
    if clip_denoised:
        x0_hat = x0_hat.clamp(-1, 1)
        eps = (x_t - abar.sqrt() * x0_hat) * torch.rsqrt(1 - abar)
    # sigma^2 = eta^2 (1 - abar_prev) (abar_prev - abar) / ((1 - abar) abar_prev), one square root
    sigma = eta * torch.sqrt((1 - abar_prev) * (abar_prev - abar) / ((1 - abar) * abar_prev))
    x_prev = abar_prev.pow(0.5) * x0_hat + (1 - abar_prev - sigma.square()).pow(0.5) * eps
    if eta > 0:
        x_prev = x_prev + sigma * torch.randn_like(x_t)
    return x_prev
