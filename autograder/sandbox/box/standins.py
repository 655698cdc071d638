"""Public stand-ins shared by the trusted grader and the sandbox.

Nothing here is secret or a solution: a schedule made of plain tensors, a
deterministic toy noise-prediction model and a fake ``p_sample`` used to test
``p_sample_loop`` in isolation. This file is copied into every sandbox, so it
imports nothing but ``torch`` and ``numpy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

SCHEDULE_ATTRS = (
    "betas",
    "alphas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_recip_alphas",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "posterior_variance",
)


class ScheduleData:
    """A ``DiffusionSchedule`` look-alike built from reference arrays (no student code inside)."""

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor
    sqrt_recip_alphas: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    posterior_variance: torch.Tensor

    def __init__(self, arrays: dict[str, Any]) -> None:
        for name in SCHEDULE_ATTRS:
            setattr(self, name, torch.as_tensor(np.asarray(arrays[name]), dtype=torch.float32))
        self.timesteps = int(self.betas.shape[0])

    def to(self, device: torch.device | str) -> ScheduleData:
        for name in SCHEDULE_ATTRS:
            setattr(self, name, getattr(self, name).to(device))
        return self

    def __repr__(self) -> str:
        return f"ScheduleData(timesteps={self.timesteps})"


class StandInModel(nn.Module):
    """A deterministic ``eps_theta(x_t, t)``: a fixed 1x1 mixing of the channels, squashed,
    plus a term in ``t``. It consumes no random numbers when called."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1234 + channels)
        self.weight = nn.Parameter(torch.randn(channels, channels, generator=g) * 0.7, requires_grad=False)
        self.bias = nn.Parameter(torch.randn(channels, generator=g) * 0.1, requires_grad=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        mixed = torch.einsum("oc,bchw->bohw", self.weight.to(x.dtype), x) + self.bias.to(x.dtype)[None, :, None, None]
        return torch.tanh(mixed) + 0.01 * torch.sin(t.to(x.dtype) * 0.37)[:, None, None, None]


def standin_p_sample(
    model: nn.Module, schedule: Any, x_t: torch.Tensor, t: torch.Tensor, t_index: int, clip_denoised: bool = False
) -> torch.Tensor:
    """A fake reverse step whose output depends on every argument, so ``p_sample_loop`` can be
    checked without a correct ``p_sample``: it is not the DDPM update."""
    t_index = int(t_index)
    if not torch.is_tensor(t) or t.shape != (x_t.shape[0],) or bool((t != t_index).any()):
        raise ValueError(f"t must be a (B,) tensor filled with t_index={t_index}")
    beta = schedule.betas[t_index].to(x_t.dtype)
    out = 0.9 * x_t + 0.01 * (t_index + 1) + beta
    if clip_denoised:
        out = out.clamp(-1.5, 1.5) + 0.05
    return out


class StandInClassModel(nn.Module):
    """A deterministic class-conditional ``eps_theta(x_t, t, class_labels)`` for classifier-free guidance:
    ``StandInModel`` with a per-class offset (row ``num_classes`` is the "no class" token; None means it
    for the whole batch) inside the squashing. It records the labels of every call in ``calls``."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(4321 + 31 * channels + num_classes)
        self.num_classes = int(num_classes)
        self.weight = nn.Parameter(torch.randn(channels, channels, generator=g) * 0.7, requires_grad=False)
        self.bias = nn.Parameter(torch.randn(channels, generator=g) * 0.1, requires_grad=False)
        self.offset = nn.Parameter(torch.randn(num_classes + 1, channels, generator=g) * 0.8, requires_grad=False)
        self.calls: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        if class_labels is None:
            class_labels = torch.full((x.shape[0],), self.num_classes, dtype=torch.long)
        labels = torch.as_tensor(class_labels).to("cpu")
        if labels.shape != (x.shape[0],) or labels.is_floating_point():
            raise ValueError(f"class_labels must be an integer tensor of shape ({x.shape[0]},), got {tuple(labels.shape)}")
        labels = labels.long()
        if bool(((labels < 0) | (labels > self.num_classes)).any()):
            raise ValueError(f"class_labels must lie in 0 ... {self.num_classes} ({self.num_classes}: no class)")
        self.calls.append(labels.clone())
        offset = self.offset.to(x.dtype)[labels.to(x.device)]
        mixed = torch.einsum("oc,bchw->bohw", self.weight.to(x.dtype), x) + (self.bias.to(x.dtype) + offset)[:, :, None, None]
        return torch.tanh(mixed) + 0.01 * torch.sin(t.to(x.dtype) * 0.37)[:, None, None, None]
