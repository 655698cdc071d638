# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        i = torch.arange(half_dim, device=time.device, dtype=torch.float32)
        freqs = 1 / 10000 ** (i / (half_dim - 1))
        time = time if time.is_floating_point() else time.float()
        args = torch.outer(time, freqs.to(time.dtype))
        # (B, 2, half_dim) flattened row by row: all sines, then all cosines
        return torch.stack((torch.sin(args), torch.cos(args)), dim=1).flatten(start_dim=1)


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, kernel_size=3, padding=1, bias=True)
        self.norm = nn.GroupNorm(groups, dim_out, affine=True)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x + x * scale + shift
        return self.act(x)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        film = None
        if time_emb is not None and self.mlp is not None:
            emb = self.mlp(time_emb)
            emb = emb.reshape(*emb.shape, 1, 1)
            film = torch.split(emb, emb.shape[1] // 2, dim=1)
        out = self.block1(x, scale_shift=film)
        return self.res_conv(x) + self.block2(out)
