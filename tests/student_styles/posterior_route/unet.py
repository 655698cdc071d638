# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        # 10000 ** (-i / (half_dim - 1)) for i = 0 ... half_dim - 1 = 10 ** (0 ... -4), evenly spaced exponents
        freqs = torch.logspace(0.0, -4.0, steps=half_dim, base=10.0, device=time.device)
        args = (time[:, None] if time.is_floating_point() else time[:, None].to(freqs.dtype)) * freqs
        return torch.cat((torch.sin(args), torch.cos(args)), dim=1)


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        self.proj = nn.Conv2d(dim, dim_out, kernel_size=3, padding=(1, 1))
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is None:
            return self.act(x)
        scale, shift = scale_shift
        return self.act(torch.add(x * scale.add(1), shift))


class ResnetBlock(nn.Module):
    def forward(self, x, time_emb=None):
        if not (self.mlp is None or time_emb is None):
            scale, shift = torch.tensor_split(self.mlp(time_emb).unsqueeze(-1).unsqueeze(-1), 2, dim=1)
            h = self.block1(x, scale_shift=(scale, shift))
        else:
            h = self.block1(x)
        return torch.add(self.block2(h), self.res_conv(x))
