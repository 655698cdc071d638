# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    x_t = q_sample(schedule, x_0, t, noise=noise)
    diff = noise - model(x_t, t)
    abs_diff = diff.abs()
    if loss_type == "l1":
        return abs_diff.mean()
    if loss_type == "l2":
        return (diff * diff).mean()
    # smooth L1 with beta = 1: quadratic inside |d| < 1, linear outside
    return torch.where(abs_diff < 1.0, 0.5 * diff * diff, abs_diff - 0.5).mean()
