# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        alpha = extract(schedule.alphas, t, x_t.shape)
        beta = extract(schedule.betas, t, x_t.shape)
        abar = extract(schedule.alphas_cumprod, t, x_t.shape)
        # 1/sqrt(alpha) (x - beta/sqrt(1 - abar) eps) = rsqrt(alpha) x - beta rsqrt(alpha (1 - abar)) eps
        model_mean = torch.rsqrt(alpha) * x_t - beta * torch.rsqrt(alpha * (1 - abar)) * eps
    if t_index == 0:
        return model_mean
    std = extract(schedule.posterior_variance, t, x_t.shape).pow(0.5)
    return model_mean + std * torch.randn_like(x_t)


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    trajectory = [img.cpu()]
    for t_index in steps:
        t = torch.tensor([t_index] * shape[0], device=device)
        img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)
        if return_all:
            trajectory.append(img.cpu())
    return trajectory if return_all else img
