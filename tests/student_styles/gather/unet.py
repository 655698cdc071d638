# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import math

import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        # exp of evenly spaced exponents from 0 down to -ln(10000): w_i = exp(-i ln(10000) / (half_dim - 1))
        freqs = torch.exp(torch.linspace(0.0, -math.log(10000.0), half_dim, device=time.device))
        if not time.is_floating_point():
            time = time.float()
        args = time.unsqueeze(1) * freqs.unsqueeze(0)
        return torch.cat([args.sin(), args.cos()], dim=1)


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, (3, 3), stride=1, padding="same")
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.proj(x)
        x = self.norm(x)
        if scale_shift is not None:
            scale, shift = scale_shift
            x = torch.addcmul(shift, x, scale + 1)
        return self.act(x)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        if time_emb is not None and self.mlp is not None:
            emb = self.mlp(time_emb)
            emb = emb.view(emb.shape[0], 2, emb.shape[1] // 2, 1, 1)
            h = self.block1(x, scale_shift=(emb[:, 0], emb[:, 1]))
        else:
            h = self.block1(x)
        h = self.block2(h)
        return h + self.res_conv(x)
