# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        view = (-1,) + (1,) * (x_t.ndim - 1)
        recip = schedule.sqrt_recip_alphas.gather(0, t).view(view)
        beta = schedule.betas.gather(0, t).view(view)
        sd = schedule.sqrt_one_minus_alphas_cumprod.gather(0, t).view(view)
        model_mean = recip * (x_t - beta / sd * eps)
    noise = torch.randn_like(x_t)
    # improved-diffusion style: a mask that is 0 where t == 0, so no noise at the last step
    nonzero_mask = (t != 0).float().view(-1, *([1] * (x_t.ndim - 1)))
    sigma = extract(schedule.posterior_variance, t, x_t.shape).sqrt()
    return model_mean + nonzero_mask * sigma * noise


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    all_images = [img.cpu()]
    for t_index in steps:
        t = torch.ones(shape[0], dtype=torch.long, device=device) * t_index
        img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)
        if return_all:
            all_images.append(img.cpu())
    if return_all:
        return all_images
    return img
