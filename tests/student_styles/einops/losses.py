# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
import torch.nn.functional as F
from einops import reduce


def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if noise is None:
        noise = torch.randn_like(x_0)
    x_t = q_sample(schedule, x_0, t, noise)
    predicted = model(x_t, t)
    if loss_type == "l2":
        per_element = (predicted - noise) ** 2
    elif loss_type == "l1":
        per_element = (predicted - noise).abs()
    else:
        per_element = F.huber_loss(predicted, noise, reduction="none", delta=1.0)
    per_image = reduce(per_element, "b ... -> b", "mean")
    return per_image.mean()
