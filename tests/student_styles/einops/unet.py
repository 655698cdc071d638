# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import math

import torch
from einops import rearrange
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        scale = math.log(10000) / (half_dim - 1)
        freqs = torch.exp(torch.arange(half_dim, device=time.device, dtype=torch.float32) * -scale)
        time = time if time.is_floating_point() else time.float()
        args = rearrange(time, "b -> b 1") * rearrange(freqs, "d -> 1 d")
        both = torch.stack((args.sin(), args.cos()))
        return rearrange(both, "two b d -> b (two d)")


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
            height = x.shape[-2]
            flat = rearrange(x, "b c h w -> b c (h w)")
            flat = flat * (1 + rearrange(scale, "b c 1 1 -> b c 1")) + rearrange(shift, "b c 1 1 -> b c 1")
            x = rearrange(flat, "b c (h w) -> b c h w", h=height)
        return self.act(x)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        film = None
        if self.mlp is not None and time_emb is not None:
            film = rearrange(self.mlp(time_emb), "b (two c) -> two b c 1 1", two=2)
        h = self.block1(x, scale_shift=None if film is None else (film[0], film[1]))
        h = self.block2(h)
        return h + self.res_conv(x)
