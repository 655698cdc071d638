# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        betas_t = extract(schedule.betas, t, x_t.shape)
        sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape)
        sqrt_recip_alphas_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)
        model_mean = sqrt_recip_alphas_t * (x_t - betas_t * eps / sqrt_one_minus_alphas_cumprod_t)
    if t_index == 0:
        return model_mean
    posterior_variance_t = extract(schedule.posterior_variance, t, x_t.shape)
    noise = torch.randn_like(x_t)
    return model_mean + torch.sqrt(posterior_variance_t) * noise


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    b = shape[0]
    imgs = [img.cpu()]
    for i in steps:
        img = p_sample(model, schedule, img, torch.full((b,), i, device=device, dtype=torch.long), i, clip_denoised)
        if return_all:
            imgs.append(img.cpu())
    if return_all:
        return imgs
    return img
