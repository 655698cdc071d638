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
        clipped = torch.clip(x0_hat, -1.0, 1.0)
        changed = clipped != x0_hat
        # re-derive eps from the clamped x0_hat (only where the clamp changed anything)
        eps = torch.where(changed, (x_t - torch.sqrt(abar) * clipped) / torch.sqrt(1 - abar), eps)
        x0_hat = clipped
    sigma = eta * torch.sqrt((1 - abar_prev) / (1 - abar)) * torch.sqrt(1 - abar / abar_prev)
    x_prev = torch.sqrt(abar_prev) * x0_hat + torch.sqrt(torch.clamp(1 - abar_prev - sigma**2, min=0.0)) * eps
    z = torch.randn_like(x_t) if eta > 0 else torch.zeros_like(x_t)
    return x_prev + sigma * z
