# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


@torch.no_grad()
def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
    eps = model(x_t, t)
    if clip_denoised:
        x0_hat = predict_x0(schedule, x_t, t, eps).clamp(-1.0, 1.0)
        model_mean = posterior_mean(schedule, x_t, t, x0_hat)
    else:
        beta = extract(schedule.betas, t, x_t.shape).double()
        abar = extract(schedule.alphas_cumprod, t, x_t.shape).double()
        alpha = 1.0 - beta
        mean = (x_t.double() - beta / torch.sqrt(1.0 - abar) * eps.double()) / torch.sqrt(alpha)
        model_mean = mean.to(x_t.dtype)
    if t_index == 0:
        return model_mean
    z = torch.randn_like(x_t)
    var = extract(schedule.posterior_variance, t, x_t.shape).double()
    return (model_mean.double() + torch.sqrt(var) * z.double()).to(x_t.dtype)


@torch.no_grad()
def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = tqdm(reversed(range(schedule.timesteps)), total=schedule.timesteps, desc="sampling", disable=not progress)
    history = [img.cpu()] if return_all else None
    for t_index in steps:
        t = torch.full((shape[0],), t_index, dtype=torch.long, device=device)
        img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)
        if history is not None:
            history.append(img.cpu())
    return history if return_all else img
