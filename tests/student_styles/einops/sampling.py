# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
from einops import repeat


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        coef = extract(schedule.betas, t, x_t.shape) / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape)
        model_mean = extract(schedule.sqrt_recip_alphas, t, x_t.shape) * (x_t - coef * eps)
    if t_index == 0:
        return model_mean
    sigma = extract(schedule.posterior_variance, t, x_t.shape).sqrt()
    return model_mean + sigma * torch.randn_like(x_t)


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    frames = [img.cpu()]
    for t_index in steps:
        t = repeat(torch.tensor(t_index, dtype=torch.long, device=device), " -> b", b=shape[0])
        img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)
        if return_all:
            frames.append(img.cpu())
    return frames if return_all else img
