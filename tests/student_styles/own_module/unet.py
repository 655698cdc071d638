# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
from torch import nn

from .mymath import append_dims, modulate, timestep_embedding


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        return timestep_embedding(time, 2 * half_dim)


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, 3, 1, 1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            x = modulate(x, *scale_shift)
        return self.act(x)


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        scale_shift = None
        if self.mlp is not None and time_emb is not None:
            scale_shift = tuple(append_dims(self.mlp(time_emb), x.ndim).chunk(2, dim=1))
        return self.block2(self.block1(x, scale_shift=scale_shift)) + self.res_conv(x)
