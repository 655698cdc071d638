# ruff: noqa: F821 -- spliced into the stub module, whose names (q_sample, p_sample, _Estimate, ...) it uses
import torch


def p_losses_cfg(model, schedule, x_0, t, labels, p_uncond=0.1, noise=None, drop_mask=None):
    if noise is None:
        noise = torch.randn_like(x_0)
    if drop_mask is None:
        drop_mask = torch.rand(len(labels), device=labels.device).lt(p_uncond)
    null = torch.tensor(model.num_classes, dtype=labels.dtype, device=labels.device)
    labels = drop_mask.long() * null + (1 - drop_mask.long()) * labels
    diff = model(q_sample(schedule, x_0, t, noise=noise), t, labels).sub(noise)
    return diff.pow(2).sum() / diff.numel()


@torch.no_grad()
def p_sample_guided(model, schedule, x_t, t, t_index, labels, w, clip_denoised=False):
    eps_cond = model(x_t, t, class_labels=labels)
    eps_none = model(x_t, t, class_labels=torch.full_like(labels, model.num_classes))
    eps = eps_cond + w * (eps_cond - eps_none)
    return p_sample(_Estimate(eps), schedule, x_t, t, t_index, clip_denoised=clip_denoised)
