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
    sqrt_abar, sqrt_one_minus = abar.sqrt(), (1 - abar).sqrt_()
    x0_hat = eps * sqrt_one_minus
    x0_hat.neg_().add_(x_t).div_(sqrt_abar)
    if clip_denoised:
        x0_hat.clamp_(-1.0, 1.0)
        eps = x0_hat * sqrt_abar
        eps.neg_().add_(x_t).div_(sqrt_one_minus)
    sigma = (1 - abar_prev).div_(1 - abar).sqrt_().mul_((1 - abar / abar_prev).sqrt_()).mul_(eta)
    x_prev = x0_hat.mul_(abar_prev.sqrt())
    x_prev.add_(eps * (1 - abar_prev - sigma * sigma).sqrt_())
    if eta > 0:
        x_prev.add_(torch.randn_like(x_t).mul_(sigma))
    return x_prev
