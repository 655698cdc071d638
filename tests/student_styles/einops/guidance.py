# ruff: noqa: F821 -- spliced into the stub module, whose names (q_sample, p_sample, _Estimate, ...) it uses
import torch


def p_losses_cfg(model, schedule, x_0, t, labels, p_uncond=0.1, noise=None, drop_mask=None):
    if noise is None:
        noise = torch.randn_like(x_0)
    if drop_mask is None:
        drop_mask = torch.rand(labels.shape[0]) < p_uncond
    kept = torch.where(drop_mask, torch.full_like(labels, model.num_classes), labels)
    x_t = q_sample(schedule, x_0, t, noise=noise)
    return ((model(x_t, t, kept) - noise) ** 2).mean()


@torch.no_grad()
def p_sample_guided(model, schedule, x_t, t, t_index, labels, w, clip_denoised=False):
    eps_c = model(x_t, t, labels)
    eps_u = model(x_t, t, None)
    eps = (1 + w) * eps_c - w * eps_u
    return p_sample(_Estimate(eps), schedule, x_t, t, t_index, clip_denoised=clip_denoised)
