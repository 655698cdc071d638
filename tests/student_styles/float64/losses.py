# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
import torch.nn.functional as F


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    x_t = q_sample(schedule, x_0, t, noise=noise)
    eps = model(x_t, t)
    diff = eps.double() - noise.double()
    if loss_type == "l2":
        loss = diff.pow(2).mean()
    elif loss_type == "l1":
        loss = diff.abs().mean()
    else:
        loss = F.smooth_l1_loss(eps.double(), noise.double())
    return loss.to(x_0.dtype)
