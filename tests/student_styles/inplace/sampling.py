# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        coef = extract(schedule.betas, t, x_t.shape).div_(extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape))
        model_mean = eps * coef  # a new tensor: neither eps nor x_t is modified below
        model_mean.neg_().add_(x_t).mul_(extract(schedule.sqrt_recip_alphas, t, x_t.shape))
    if t_index == 0:
        return model_mean
    noise = torch.randn_like(x_t)
    noise.mul_(extract(schedule.posterior_variance, t, x_t.shape).sqrt_())
    return model_mean.add_(noise)


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    imgs = [img.cpu()]
    t = torch.empty(shape[0], dtype=torch.long, device=device)
    for t_index in steps:
        img = p_sample(model, schedule, img, t.fill_(t_index).clone(), t_index, clip_denoised=clip_denoised)
        if return_all:
            imgs.append(img.cpu())
    return imgs if return_all else img
