# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        b_t = extract(schedule.betas, t, x_t.shape)
        s_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape)
        r_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)
        model_mean = r_t * (x_t - b_t / s_t * eps)
    sigma = torch.sqrt(torch.clip(extract(schedule.posterior_variance, t, x_t.shape), min=0.0))
    z = torch.randn_like(x_t)
    last = (t == 0).reshape(-1, *[1] * (x_t.ndim - 1))
    return torch.where(last, model_mean, model_mean + sigma * z)


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    frames = [img.cpu()]
    for t_index in steps:
        t = torch.full((shape[0],), t_index, device=device, dtype=torch.long)
        img = p_sample(model, schedule, img, t, t_index, clip_denoised)
        frames += [img.cpu()] if return_all else []
    return frames if return_all else img
