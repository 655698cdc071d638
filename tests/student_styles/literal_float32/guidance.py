# ruff: noqa: F821 -- spliced into the stub module, whose names (q_sample, p_sample, _Estimate, ...) it uses
import torch


def p_losses_cfg(model, schedule, x_0, t, labels, p_uncond=0.1, noise=None, drop_mask=None):
    if noise is None:
        noise = torch.randn_like(x_0)
    if drop_mask is None:
        drop_mask = torch.bernoulli(torch.full(labels.shape, float(p_uncond))).bool()
    labels = labels.masked_fill(drop_mask, model.num_classes)
    predicted = model(q_sample(schedule, x_0, t, noise=noise), t, labels)
    return torch.nn.functional.mse_loss(predicted.double(), noise.double()).to(x_0.dtype)


@torch.no_grad()
def p_sample_guided(model, schedule, x_t, t, t_index, labels, w, clip_denoised=False):
    both = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, null_labels(model, labels)]))
    eps_c, eps_u = both.double().chunk(2)
    s = 1.0 + w  # the guidance scale of GLIDE and diffusers
    eps = (eps_u + s * (eps_c - eps_u)).to(x_t.dtype)
    return p_sample(_Estimate(eps), schedule, x_t, t, t_index, clip_denoised=clip_denoised)
