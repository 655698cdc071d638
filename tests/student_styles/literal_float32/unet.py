# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import math

import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        device = time.device
        embeddings = math.log(10000) / (half_dim - 1)
        embeddings = torch.exp(torch.arange(half_dim, device=device) * -embeddings)
        embeddings = time[:, None] * embeddings[None, :]
        embeddings = torch.cat((embeddings.sin(), embeddings.cos()), dim=-1)
        return embeddings


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.proj(x)
        x = self.norm(x)
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        x = self.act(x)
        return x


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        scale_shift = None
        if self.mlp is not None and time_emb is not None:
            time_emb = self.mlp(time_emb)
            time_emb = time_emb[:, :, None, None]
            scale, shift = time_emb.chunk(2, dim=1)
            scale_shift = (scale, shift)
        h = self.block1(x, scale_shift=scale_shift)
        h = self.block2(h)
        return h + self.res_conv(x)
