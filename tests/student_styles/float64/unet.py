# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import math

import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        out_dtype = time.dtype if time.is_floating_point() else torch.get_default_dtype()
        i = torch.arange(half_dim, dtype=torch.float64, device=time.device)
        freqs = torch.exp(-math.log(10000.0) * i / (half_dim - 1))
        args = time.to(torch.float64)[:, None] * freqs[None, :]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1).to(out_dtype)


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, kernel_size=3, padding=1)
        self.norm = nn.GroupNorm(num_groups=groups, num_channels=dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = (x.double() * (1.0 + scale.double()) + shift.double()).to(x.dtype)
        return self.act(x)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        scale_shift = None
        if time_emb is not None and self.mlp is not None:
            emb = self.mlp(time_emb).double()[:, :, None, None]
            half = emb.shape[1] // 2
            scale_shift = (emb[:, :half].to(x.dtype), emb[:, half:].to(x.dtype))
        h = self.block1(x, scale_shift=scale_shift)
        h = self.block2(h)
        return (h.double() + self.res_conv(x).double()).to(h.dtype)
