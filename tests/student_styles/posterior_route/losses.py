# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
import torch.nn.functional as F


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    x_t = q_sample(schedule, x_0, t, noise=noise)
    eps_theta = model(x_t, t)
    match loss_type:
        case "l1":
            return F.l1_loss(eps_theta, noise, reduction="mean")
        case "l2":
            return F.mse_loss(eps_theta, noise, reduction="mean")
        case _:
            return F.huber_loss(eps_theta, noise, reduction="mean", delta=1.0)
