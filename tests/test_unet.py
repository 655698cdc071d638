"""The U-Net and its parts: embeddings against closed forms and diffusers, blocks,
shapes and gradients for several sizes, and the §5 pitfalls."""

import math

import pytest
import torch
from diffusers.models.embeddings import get_timestep_embedding
from torch import nn

from solutions.unet import (
    Attention,
    Block,
    ConvNextBlock,
    LinearAttention,
    PreNorm,
    Residual,
    ResnetBlock,
    SinusoidalPositionEmbeddings,
    Unet,
)


def embedding_closed_form(t, dim):
    """[sin(t w_i)..., cos(t w_i)...], w_i = 10000^(-i / (half - 1)), computed per element in float64."""
    half = dim // 2
    rows = []
    for step in t.tolist():
        freqs = [10000 ** (-i / (half - 1)) for i in range(half)]
        rows.append([math.sin(step * w) for w in freqs] + [math.cos(step * w) for w in freqs])
    return torch.tensor(rows, dtype=torch.float64)


def assert_embedding(module_cls, dim):
    t = torch.tensor([0, 1, 7, 250, 999])
    out = module_cls(dim)(t)
    assert out.shape == (5, dim)
    torch.testing.assert_close(out.double(), embedding_closed_form(t, dim), rtol=0, atol=2e-4)


class HalfDimEmbeddings(SinusoidalPositionEmbeddings):
    """half_dim instead of half_dim - 1 in the frequency scale."""

    def forward(self, time):
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half) * -(math.log(10000) / half))
        args = time.float()[:, None] * freqs[None]
        return torch.cat((args.sin(), args.cos()), dim=-1)


class SwappedEmbeddings(SinusoidalPositionEmbeddings):
    """cos first, then sin."""

    def forward(self, time):
        return super().forward(time).roll(self.dim // 2, dims=-1)


@pytest.mark.parametrize("dim", [4, 16, 28, 64])
def test_embeddings_match_closed_form(dim):
    assert_embedding(SinusoidalPositionEmbeddings, dim)


@pytest.mark.parametrize("mistake", [HalfDimEmbeddings, SwappedEmbeddings])
def test_embedding_pitfalls_are_caught(mistake):
    with pytest.raises(AssertionError):
        assert_embedding(mistake, 32)


def test_embeddings_agree_with_diffusers():
    t = torch.arange(0, 1000, 37)
    ours = SinusoidalPositionEmbeddings(32)(t)
    theirs = get_timestep_embedding(t, 32, flip_sin_to_cos=False, downscale_freq_shift=1)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


def test_embeddings_reject_bad_input():
    with pytest.raises(ValueError, match="even"):
        SinusoidalPositionEmbeddings(7)
    with pytest.raises(ValueError, match=r"\(B,\)"):
        SinusoidalPositionEmbeddings(8)(torch.zeros(2, 1))


# --- Block and ResnetBlock ---------------------------------------------------


def assert_block(block_cls):
    """Conv 3x3 -> GroupNorm over the *output* channels -> (scale, shift) -> SiLU."""
    block = block_cls(4, 16, groups=8)
    assert isinstance(block.proj, nn.Conv2d) and block.proj.kernel_size == (3, 3) and block.proj.padding == (1, 1)
    assert isinstance(block.norm, nn.GroupNorm) and block.norm.num_channels == 16 and block.norm.num_groups == 8
    x = torch.randn(3, 4, 9, 9)
    out = block(x)
    assert out.shape == (3, 16, 9, 9)
    pre = nn.functional.group_norm(block.proj(x), 8, block.norm.weight, block.norm.bias, block.norm.eps)
    torch.testing.assert_close(out, nn.functional.silu(pre))
    scale, shift = torch.randn(3, 16, 1, 1), torch.randn(3, 16, 1, 1)
    torch.testing.assert_close(block(x, (scale, shift)), nn.functional.silu(pre * (scale + 1) + shift))


class InputNormBlock(Block):
    """GroupNorm over the input channels: built on dim, not dim_out."""

    def __init__(self, dim, dim_out, groups=8):
        super().__init__(dim, dim_out, groups)
        self.norm = nn.GroupNorm(1, dim)


class NormBeforeConvBlock(Block):
    def forward(self, x, scale_shift=None):
        return self.act(self.proj(x))


def test_block_is_conv_norm_silu():
    assert_block(Block)


@pytest.mark.parametrize("mistake", [InputNormBlock, NormBeforeConvBlock])
def test_block_pitfalls_are_caught(mistake):
    with pytest.raises((AssertionError, RuntimeError)):
        assert_block(mistake)


def test_block_rejects_groups_that_do_not_divide():
    with pytest.raises(ValueError, match="divisible"):
        Block(4, 12, groups=8)


def test_resnet_block_modulates_block1_by_film_and_keeps_a_residual():
    """FiLM: the first half of mlp(time_emb) scales block1's normalized features (times scale + 1),
    the second half shifts them; an additive time term fails here."""
    block = ResnetBlock(8, 16, time_emb_dim=12, groups=4)
    x, emb = torch.randn(2, 8, 6, 6), torch.randn(2, 12)
    assert block.mlp[1].out_features == 2 * 16
    scale, shift = block.mlp(emb)[:, :, None, None].chunk(2, dim=1)
    h = block.block1.act(block.block1.norm(block.block1.proj(x)) * (scale + 1) + shift)
    expected = block.block2(h) + block.res_conv(x)
    torch.testing.assert_close(block(x, emb), expected)
    assert isinstance(block.res_conv, nn.Conv2d) and block.res_conv.kernel_size == (1, 1)
    same = ResnetBlock(8, 8, groups=4)
    assert isinstance(same.res_conv, nn.Identity) and same.mlp is None
    torch.testing.assert_close(same(x), same.block2(same.block1(x)) + x)
    # an MLP that outputs zeros leaves the block as it is without a time step
    with torch.no_grad():
        block.mlp[1].weight.zero_()
        block.mlp[1].bias.zero_()
    torch.testing.assert_close(block(x, emb), block(x, None))
    with torch.no_grad():
        block.mlp[1].bias[:16] = 1.0  # scale 1: block1's features doubled before its SiLU
    doubled = block.block1.act(2 * block.block1.norm(block.block1.proj(x)))
    torch.testing.assert_close(block(x, emb), block.block2(doubled) + block.res_conv(x))


def test_convnext_block_shapes_and_time():
    block = ConvNextBlock(8, 16, time_emb_dim=12)
    x, emb = torch.randn(2, 8, 6, 6), torch.randn(2, 12)
    assert block(x, emb).shape == (2, 16, 6, 6)
    assert not torch.allclose(block(x, emb), block(x, emb * 2))


@pytest.mark.parametrize("attention", [Attention, LinearAttention])
def test_attention_keeps_shape_and_mixes_pixels(attention):
    module = Residual(PreNorm(16, attention(16, heads=2, dim_head=8)))
    x = torch.randn(2, 16, 5, 5, requires_grad=True)
    out = module(x)
    assert out.shape == x.shape
    out[0, :, 0, 0].sum().backward()  # one output pixel depends on far-away input pixels
    assert x.grad[0, :, 4, 4].abs().sum() > 0 and x.grad[1].abs().sum() == 0


def test_attention_is_softmax_attention():
    attn = Attention(8, heads=1, dim_head=4)
    x = torch.randn(1, 8, 3, 3)
    q, k, v = attn.to_qkv(x).reshape(3, 4, 9)
    weights = torch.softmax(q.T @ k / 2.0, dim=-1)  # (pixels, pixels), scale 1/sqrt(4)
    expected = attn.to_out((weights @ v.T).T.reshape(1, 4, 3, 3))
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-6)


# --- Unet --------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 1, 28, 28), dict(dim=8, dim_mults=(1, 2, 4), channels=1, resnet_block_groups=4)),
        ((2, 1, 28, 28), dict(dim=8, dim_mults=(1, 2), channels=1, resnet_block_groups=1)),
        ((2, 3, 32, 32), dict(dim=8, dim_mults=(1, 2, 4, 8), channels=3, resnet_block_groups=8)),
        ((2, 3, 32, 32), dict(dim=8, dim_mults=(1, 2), channels=3, resnet_block_groups=2, use_convnext=True)),
    ],
)
def test_unet_shape_and_gradients(shape, kwargs):
    model = Unet(**kwargs)
    x = torch.randn(shape)
    t = torch.randint(0, 1000, (shape[0],))
    out = model(x, t)
    assert out.shape == shape and torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no gradient for {missing}"
    assert model.init_conv.weight.grad.abs().sum() > 0 and model.time_mlp[1].weight.grad.abs().sum() > 0


def test_unet_depends_on_time():
    model = Unet(dim=8, dim_mults=(1, 2), channels=1, resnet_block_groups=4)
    x = torch.randn(2, 1, 16, 16)
    assert not torch.allclose(model(x, torch.tensor([0, 0])), model(x, torch.tensor([900, 900])))


def test_unet_out_dim_and_clear_errors():
    model = Unet(dim=8, dim_mults=(1, 2, 4), channels=1, out_dim=2, resnet_block_groups=4)
    assert model(torch.randn(1, 1, 28, 28), torch.tensor([3])).shape == (1, 2, 28, 28)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.randn(1, 3, 28, 28), torch.tensor([3]))
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.randn(1, 1, 30, 30), torch.tensor([3]))
