# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
from helpers.mymath import eps_to_mean


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        model_mean = eps_to_mean(
            x_t,
            eps,
            beta=extract(schedule.betas, t, x_t.shape),
            alpha=extract(schedule.alphas, t, x_t.shape),
            abar=extract(schedule.alphas_cumprod, t, x_t.shape),
        )
    if t_index > 0:
        model_mean = model_mean + extract(schedule.posterior_variance, t, x_t.shape).sqrt() * torch.randn_like(x_t)
    return model_mean


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    images = [img.cpu()]
    for step in steps:
        t = torch.full((shape[0],), step, device=device).long()
        img = p_sample(model, schedule, img, t, step, clip_denoised=clip_denoised)
        if return_all:
            images.append(img.cpu())
    return images if return_all else img
