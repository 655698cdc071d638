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
    a, ap = abar.double(), abar_prev.double()
    x, e = x_t.double(), eps.double()
    x0 = (x - torch.sqrt(1.0 - a) * e) / torch.sqrt(a)
    if clip_denoised:
        x0 = x0.clamp(-1.0, 1.0)
        e = (x - torch.sqrt(a) * x0) / torch.sqrt(1.0 - a)
    sigma = eta * torch.sqrt((1.0 - ap) / (1.0 - a)) * torch.sqrt(1.0 - a / ap)
    out = torch.sqrt(ap) * x0 + torch.sqrt(1.0 - ap - sigma**2) * e
    if eta > 0:
        out = out + sigma * torch.randn_like(x_t).double()
    return out.to(x_t.dtype)
