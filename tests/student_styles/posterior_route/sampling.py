# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    # Both branches: predict x0 from eps, then the posterior mean of eq. 7.
    # Without clamping this equals eq. 11 exactly (in exact arithmetic).
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    beta = extract(schedule.betas, t, x_t.shape)
    alpha = extract(schedule.alphas, t, x_t.shape)
    x0_hat = (x_t - torch.sqrt(1 - abar) * eps) / torch.sqrt(abar)
    if clip_denoised:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    posterior_mean_coef1 = torch.sqrt(abar_prev) * beta / (1 - abar)
    posterior_mean_coef2 = torch.sqrt(alpha) * (1 - abar_prev) / (1 - abar)
    model_mean = posterior_mean_coef1 * x0_hat + posterior_mean_coef2 * x_t
    if t_index == 0:
        return model_mean
    posterior_std = torch.sqrt(extract(schedule.posterior_variance, t, x_t.shape))
    return model_mean + posterior_std * torch.randn_like(x_t)


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    out = [img.cpu()]
    t_index = schedule.timesteps - 1
    while t_index >= 0:
        t = torch.full((shape[0],), t_index, device=device, dtype=torch.long)
        img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)
        if return_all:
            out.append(img.cpu())
        steps.update(1)
        t_index -= 1
    steps.close()
    return out if return_all else img
