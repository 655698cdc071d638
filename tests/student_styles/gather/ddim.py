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
    x0_hat = (x_t - torch.sqrt(1 - abar) * eps) / torch.sqrt(abar)
    if clip_denoised:
        x0_hat = torch.clamp(x0_hat, -1.0, 1.0)
        eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1 - abar)
    # one square root of the product
    sigma = eta * torch.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
    x_prev = torch.sqrt(abar_prev) * x0_hat + torch.sqrt(1 - abar_prev - sigma.pow(2)) * eps
    if eta > 0:
        x_prev = x_prev + sigma * torch.randn_like(x_t)
    return x_prev
