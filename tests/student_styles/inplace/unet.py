# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import math

import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        freqs = torch.arange(half_dim, device=time.device, dtype=torch.float32)
        freqs.mul_(-math.log(10000) / (half_dim - 1)).exp_()
        args = time[:, None] * freqs[None, :]  # a new tensor
        out = torch.empty(len(time), self.dim, device=time.device, dtype=args.dtype)
        torch.sin(args, out=out[:, :half_dim])
        torch.cos(args, out=out[:, half_dim:])
        return out


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x.mul_(scale + 1).add_(shift)
        return self.act(x)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        scale_shift = None
        if self.mlp is not None and time_emb is not None:
            scale_shift = self.mlp(time_emb)[:, :, None, None].chunk(2, dim=1)
        h = self.block1(x, scale_shift)
        h = self.block2(h)
        h += self.res_conv(x)
        return h
