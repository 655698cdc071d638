# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
import torch.nn.functional as F


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    x_noisy = q_sample(schedule, x_0, t, noise)
    predicted = model(x_noisy, t)
    if loss_type == "huber":
        return F.smooth_l1_loss(predicted, noise, beta=1.0)
    diff = predicted - noise
    if loss_type == "l1":
        return diff.abs_().mean()
    return diff.pow_(2).mean()
