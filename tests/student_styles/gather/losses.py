# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
import torch.nn.functional as F


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    noisy = q_sample(schedule, x_0, t, noise=noise)
    criterion = {"l1": F.l1_loss, "l2": F.mse_loss, "huber": F.huber_loss}[loss_type]
    return criterion(model(noisy, t), noise)
