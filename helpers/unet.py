# Generated from solutions/unet.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""The noise-prediction network eps_theta(x_t, t): a U-Net with time embeddings.

Architecture after the annotated-diffusion U-Net (itself after Phil Wang's
``denoising-diffusion-pytorch``): a stem convolution, a downsampling path of
ResNet blocks with linear attention, a middle with full attention, an
upsampling path fed by skip connections, and a 1x1 output convolution.
The time step enters every ResNet block through a sinusoidal embedding.
"""

import math
from functools import partial

import torch
from einops import rearrange
from einops.layers.torch import Rearrange
from torch import einsum, nn


class SinusoidalPositionEmbeddings(nn.Module):
    """Sinusoidal embedding of the time step, the variant in Ho et al.'s code (2020, Section 4 and
    Appendix B) of the Transformer's positional encoding.

    For ``half_dim = dim // 2`` frequencies ``w_i = exp(-i * ln(10000) / (half_dim - 1))``,
    ``i = 0 ... half_dim - 1`` (from 1 down to exactly 1/10000), the embedding of ``t`` is
    ``[sin(t * w_0), ..., sin(t * w_{half-1}), cos(t * w_0), ..., cos(t * w_{half-1})]``.
    Vaswani et al. (2017, Section 3.5) interleave instead (sin in the even dimensions, cos in the
    odd ones) with frequencies ``10000^(-2i/dim) = 10000^(-i/half_dim)``: an equally valid
    embedding, but not the one this exercise asks for.

    Shapes: ``time`` ``(B,)`` (int or float) -> ``(B, dim)`` float, values in ``[-1, 1]``.

    Hints:
        1. ``torch.arange(half_dim, device=time.device)`` gives the i.
        2. ``time[:, None] * freqs[None, :]`` is the ``(B, half_dim)`` outer product.
        3. ``torch.cat((sin, cos), dim=-1)``: sines first.
    """

    def __init__(self, dim):
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError(f"dim must be an even number >= 4, got {dim}")
        self.dim = dim

    def forward(self, time):
        if time.ndim != 1:
            raise ValueError(f"time must have shape (B,), got {tuple(time.shape)}")
        half_dim = self.dim // 2
        # COMPLETE THIS: frequencies, outer product with time, then [sin, cos]
        raise NotImplementedError('COMPLETE THIS: frequencies, outer product with time, then [sin, cos]')


class Block(nn.Module):
    """Conv2d 3x3 (padding 1) -> GroupNorm(groups, dim_out) -> optional scale/shift -> SiLU.

    The order of the annotated-diffusion U-Net (after Phil Wang's code). Ho et al.'s ResNet blocks
    use the pre-activation order of Wide ResNets instead, GroupNorm -> Swish (= SiLU) -> conv, whose
    norm sees the block's input.

    Shapes: ``(B, dim, H, W)`` -> ``(B, dim_out, H, W)``.
    ``scale_shift``, when given, is a pair of ``(B, dim_out, 1, 1)`` tensors
    applied after the norm as ``x * (scale + 1) + shift``.

    Hints:
        1. In ``__init__``: ``self.proj``, ``self.norm`` and ``self.act``.
        2. GroupNorm normalizes the convolution's *output*: ``dim_out`` channels.
    """

    def __init__(self, dim, dim_out, groups=8):
        super().__init__()
        if dim_out % groups:
            raise ValueError(f"dim_out ({dim_out}) must be divisible by groups ({groups})")
        # COMPLETE THIS: self.proj (3x3 conv), self.norm (GroupNorm), self.act (SiLU)
        raise NotImplementedError('COMPLETE THIS: self.proj (3x3 conv), self.norm (GroupNorm), self.act (SiLU)')

    def forward(self, x, scale_shift=None):
        # COMPLETE THIS: conv, norm, optional x * (scale + 1) + shift, activation
        raise NotImplementedError('COMPLETE THIS: conv, norm, optional x * (scale + 1) + shift, activation')


class ResnetBlock(nn.Module):
    """Two ``Block``s with the time step injected in between by FiLM, plus a residual path
    (He et al. 2016). Ho et al.'s Wide-ResNet blocks differ: pre-activation order (see ``Block``) and the
    time embedding added to the features (a shift only), where this block also scales them.

    FiLM (feature-wise linear modulation, Perez et al. 2018): the time embedding sets a scale and
    a shift per channel, ``scale, shift = mlp(time_emb)`` split in two halves of ``dim_out``
    channels, and ``block1`` applies them after its norm as ``h * (scale + 1) + shift``
    (your ``Block.forward(x, scale_shift)``). Then ``h = block2(h)``, and the output is
    ``h + res_conv(x)`` where ``res_conv`` is a 1x1 conv when ``dim != dim_out`` and the
    identity otherwise. Because of the ``+ 1``, an MLP that outputs zeros leaves the block as
    it is without a time step.

    Shapes: ``x`` ``(B, dim, H, W)``, ``time_emb`` ``(B, time_emb_dim)`` or None
    -> ``(B, dim_out, H, W)``; ``mlp(time_emb)`` is ``(B, 2 * dim_out)``.

    Hints:
        1. The layers are built for you in ``__init__``.
        2. Reshape the MLP's output to ``(B, 2 * dim_out, 1, 1)`` so it broadcasts over pixels,
           then ``.chunk(2, dim=1)``: the first half is the scale, the second the shift.
        3. No time term (``self.mlp`` is None or ``time_emb`` is None): ``block1(x)`` as it is.
    """

    def __init__(self, dim, dim_out, *, time_emb_dim=None, groups=8):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2)) if time_emb_dim else None
        self.block1 = Block(dim, dim_out, groups=groups)
        self.block2 = Block(dim_out, dim_out, groups=groups)
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, time_emb=None):
        # COMPLETE THIS: scale and shift from the time embedding into block1, block2, add the residual
        raise NotImplementedError('COMPLETE THIS: scale and shift from the time embedding into block1, block2, add the residual')


class ConvNextBlock(nn.Module):
    """A block after ConvNeXt (Liu et al. 2022), as in the annotated-diffusion U-Net, as an
    alternative to ``ResnetBlock``: depthwise 7x7 conv, time term added, then
    GroupNorm(1) -> 3x3 conv (to ``mult * dim_out`` channels) -> GELU -> GroupNorm(1) -> 3x3 conv,
    plus a residual (a 1x1 conv when ``dim != dim_out``).

    Liu et al.'s block is depthwise 7x7 conv -> LayerNorm -> 1x1 conv (4x channels) -> GELU -> 1x1 conv,
    with layer scale and a residual. This variant adds the time embedding (GELU -> Linear, one value
    per channel) after the depthwise conv; normalises with GroupNorm(1, C), which is LayerNorm over
    C, H and W rather than over the channels of each pixel; widens by ``mult = 2``; uses 3x3 convs
    where Liu uses 1x1; adds a second norm after the GELU; has no layer scale; and keeps the
    residual when the channel count changes with a 1x1 conv."""

    def __init__(self, dim, dim_out, *, time_emb_dim=None, mult=2, norm=True):
        super().__init__()
        self.mlp = nn.Sequential(nn.GELU(), nn.Linear(time_emb_dim, dim)) if time_emb_dim else None
        self.ds_conv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.net = nn.Sequential(
            nn.GroupNorm(1, dim) if norm else nn.Identity(),
            nn.Conv2d(dim, dim_out * mult, 3, padding=1),
            nn.GELU(),
            nn.GroupNorm(1, dim_out * mult),
            nn.Conv2d(dim_out * mult, dim_out, 3, padding=1),
        )
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, time_emb=None):
        h = self.ds_conv(x)
        if time_emb is not None and self.mlp is not None:
            h = h + self.mlp(time_emb)[:, :, None, None]
        return self.net(h) + self.res_conv(x)


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (Vaswani et al. 2017)."""

    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.scale = dim_head**-0.5
        self.heads = heads
        hidden_dim = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden_dim, dim, 1)

    def forward(self, x):
        _, _, h, w = x.shape
        q, k, v = (rearrange(part, "b (h c) x y -> b h c (x y)", h=self.heads) for part in self.to_qkv(x).chunk(3, dim=1))
        sim = einsum("b h d i, b h d j -> b h i j", q * self.scale, k)
        attn = sim.softmax(dim=-1)
        out = einsum("b h i j, b h d j -> b h i d", attn, v)
        return self.to_out(rearrange(out, "b h (x y) d -> b (h d) x y", x=h, y=w))


class LinearAttention(nn.Module):
    """Attention whose cost is linear in the number of pixels (Shen et al. 2018):
    softmax over features for queries and over positions for keys."""

    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.scale = dim_head**-0.5
        self.heads = heads
        hidden_dim = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden_dim, dim, 1), nn.GroupNorm(1, dim))

    def forward(self, x):
        _, _, h, w = x.shape
        q, k, v = (rearrange(part, "b (h c) x y -> b h c (x y)", h=self.heads) for part in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        context = einsum("b h d n, b h e n -> b h d e", k, v)
        out = einsum("b h d e, b h d n -> b h e n", context, q)
        return self.to_out(rearrange(out, "b h c (x y) -> b (h c) x y", x=h, y=w))


class PreNorm(nn.Module):
    """GroupNorm with one group (a LayerNorm over C, H, W) before ``fn``."""

    def __init__(self, dim, fn):
        super().__init__()
        self.fn = fn
        self.norm = nn.GroupNorm(1, dim)

    def forward(self, x):
        return self.fn(self.norm(x))


class Residual(nn.Module):
    """``fn(x) + x``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, *args, **kwargs):
        return self.fn(x, *args, **kwargs) + x


def Downsample(dim, dim_out=None):
    """Halve H and W without losing pixels: fold each 2x2 patch into channels, then a 1x1 conv."""
    return nn.Sequential(
        Rearrange("b c (h p1) (w p2) -> b (c p1 p2) h w", p1=2, p2=2),
        nn.Conv2d(dim * 4, dim_out or dim, 1),
    )


def Upsample(dim, dim_out=None):
    """Double H and W: nearest-neighbour upsampling, then a 3x3 conv."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dim, dim_out or dim, 3, padding=1))


class Unet(nn.Module):
    """eps_theta(x_t, t): predicts the noise in ``x_t`` at step index ``t``.

    Args:
        dim: base channel count; level ``i`` has ``dim * dim_mults[i]`` channels.
        init_dim: channels after the stem convolution (default ``dim``).
        out_dim: output channels (default ``channels``).
        dim_mults: channel multipliers, one per resolution level. Each level
            but the last halves H and W, so H and W must be divisible by
            ``2 ** (len(dim_mults) - 1)`` (28x28 works with ``(1, 2, 4)``).
        channels: image channels (1 for Fashion-MNIST, 3 for colour).
        resnet_block_groups: GroupNorm groups in every ResNet block; every
            channel count must be divisible by it.
        use_convnext: use ``ConvNextBlock`` instead of ``ResnetBlock``.
        convnext_mult: expansion factor of the ConvNeXt blocks.
        num_classes: ``None`` (the default): an unconditional model, as in Ho et al.
            ``K``: a class-conditional one (notebook 10): a learned embedding
            ``nn.Embedding(K + 1, time_dim)`` of the class label is added to the time
            embedding; index ``K`` is the "no class" token (written ∅), which
            classifier-free guidance trains with and samples against.

    ``forward(x, t, class_labels=None)``: ``x`` ``(B, channels, H, W)``, ``t`` ``(B,)``,
    ``class_labels`` a LongTensor ``(B,)`` with values in ``0 ... K`` (``K``: ∅) or None
    (∅ for the whole batch; the only choice for an unconditional model) -> ``(B, out_dim, H, W)``.
    """

    def __init__(
        self,
        dim,
        init_dim=None,
        out_dim=None,
        dim_mults=(1, 2, 4, 8),
        channels=3,
        resnet_block_groups=8,
        use_convnext=False,
        convnext_mult=2,
        num_classes=None,
    ):
        super().__init__()
        self.channels = channels
        self.num_classes = num_classes
        self.downsample_factor = 2 ** (len(dim_mults) - 1)
        init_dim = init_dim or dim
        self.init_conv = nn.Conv2d(channels, init_dim, 7, padding=3)

        dims = [init_dim, *(dim * m for m in dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:]))
        if use_convnext:
            block_klass = partial(ConvNextBlock, mult=convnext_mult)
        else:
            block_klass = partial(ResnetBlock, groups=resnet_block_groups)

        time_dim = dim * 4
        self.time_mlp = nn.Sequential(
            SinusoidalPositionEmbeddings(dim),
            nn.Linear(dim, time_dim),
            nn.GELU(),
            nn.Linear(time_dim, time_dim),
        )
        # index num_classes is the "no class" token: created only for a conditional model, so an
        # unconditional one keeps exactly its parameters (and old checkpoints load)
        self.class_emb = None if num_classes is None else nn.Embedding(num_classes + 1, time_dim)

        self.downs = nn.ModuleList()
        for index, (dim_in, dim_out) in enumerate(in_out):
            is_last = index == len(in_out) - 1
            self.downs.append(
                nn.ModuleList(
                    [
                        block_klass(dim_in, dim_out, time_emb_dim=time_dim),
                        block_klass(dim_out, dim_out, time_emb_dim=time_dim),
                        Residual(PreNorm(dim_out, LinearAttention(dim_out))),
                        nn.Identity() if is_last else Downsample(dim_out),
                    ]
                )
            )

        mid_dim = dims[-1]
        self.mid_block1 = block_klass(mid_dim, mid_dim, time_emb_dim=time_dim)
        self.mid_attn = Residual(PreNorm(mid_dim, Attention(mid_dim)))
        self.mid_block2 = block_klass(mid_dim, mid_dim, time_emb_dim=time_dim)

        self.ups = nn.ModuleList()
        for dim_in, dim_out in reversed(in_out[1:]):
            self.ups.append(
                nn.ModuleList(
                    [
                        block_klass(dim_out * 2, dim_in, time_emb_dim=time_dim),
                        block_klass(dim_in, dim_in, time_emb_dim=time_dim),
                        Residual(PreNorm(dim_in, LinearAttention(dim_in))),
                        Upsample(dim_in),
                    ]
                )
            )

        self.out_dim = out_dim or channels
        self.final_block = block_klass(dims[1] * 2, dim, time_emb_dim=time_dim)
        self.final_conv = nn.Conv2d(dim, self.out_dim, 1)

    def class_embedding(self, class_labels, batch, device):
        """``(B, time_dim)``: the embedding of ``class_labels``, with None meaning ∅ for all ``batch`` images."""
        if class_labels is None:
            class_labels = torch.full((batch,), self.num_classes, dtype=torch.long, device=device)
        class_labels = torch.as_tensor(class_labels, device=device)
        if class_labels.shape != (batch,):
            raise ValueError(f"class_labels must have shape ({batch},), got {tuple(class_labels.shape)}")
        # a clear error instead of an indexing crash; on the CPU only, where checking costs no device sync
        # (training checks its labels once, before the loop)
        if class_labels.device.type == "cpu" and bool(((class_labels < 0) | (class_labels > self.num_classes)).any()):
            raise ValueError(f"class_labels must lie in 0 ... {self.num_classes} ({self.num_classes} is 'no class')")
        return self.class_emb(class_labels.long())

    def forward(self, x, time, class_labels=None):
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (B, {self.channels}, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % self.downsample_factor or x.shape[-2] % self.downsample_factor:
            raise ValueError(
                f"H and W ({x.shape[-2]}x{x.shape[-1]}) must be divisible by {self.downsample_factor}; "
                "use fewer dim_mults or resize the images"
            )
        x = self.init_conv(x)
        t = self.time_mlp(time)
        if self.class_emb is not None:
            t = t + self.class_embedding(class_labels, x.shape[0], x.device)
        elif class_labels is not None:
            raise ValueError("this Unet is unconditional (num_classes=None): it takes no class_labels")

        skips = []
        for block1, block2, attn, downsample in self.downs:
            x = block1(x, t)
            x = block2(x, t)
            x = attn(x)
            skips.append(x)
            x = downsample(x)

        x = self.mid_block1(x, t)
        x = self.mid_attn(x)
        x = self.mid_block2(x, t)

        for block1, block2, attn, upsample in self.ups:
            x = block1(torch.cat((x, skips.pop()), dim=1), t)
            x = block2(x, t)
            x = attn(x)
            x = upsample(x)

        x = self.final_block(torch.cat((x, skips.pop()), dim=1), t)
        return self.final_conv(x)
