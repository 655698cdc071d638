# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses

import torch
import torch.nn.functional as F
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        exponent = torch.arange(half_dim, device=time.device, dtype=torch.float32) / (half_dim - 1)
        freqs = torch.pow(10000.0, -exponent)
        dtype = time.dtype if time.is_floating_point() else torch.float32
        args = time.to(dtype)[:, None] * freqs
        return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(in_channels=dim, out_channels=dim_out, kernel_size=3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        h = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            h = h * (1 + scale) + shift
        return F.silu(h)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        use_time = self.mlp is not None and time_emb is not None
        film = self.mlp(time_emb)[..., None, None].chunk(2, dim=1) if use_time else None
        h = self.block1(x, scale_shift=film)
        return self.block2(h) + self.res_conv(x)
