"""Reference checks of notebook 04: the U-Net parts, recomputed with plain torch functional ops from each
module's own ``state_dict`` (the timestep embeddings from their closed form)."""

import numpy as np
import torch
import torch.nn.functional as F

from autograder.authoring.reference_checks.closed_forms import (
    differs,
    f64,
    qualified,
    solution,
)

GROUPNORM_EPS = 1e-5  # torch's default, which the reference's nn.GroupNorm uses


def _sinusoidal(time, dim):
    half = dim // 2
    freqs = 10000.0 ** (-np.arange(half, dtype=np.float64) / (half - 1))
    args = np.asarray(time, dtype=np.float64)[:, None] * freqs[None, :]
    return np.concatenate((np.sin(args), np.cos(args)), axis=1)


def check_SinusoidalPositionEmbeddings() -> list[str]:  # noqa: N802 - named after the exercise
    name = qualified("SinusoidalPositionEmbeddings")
    _, Embeddings = solution("SinusoidalPositionEmbeddings")  # noqa: N806
    found = []
    times = {"int": torch.tensor([0, 1, 5, 250, 999]), "float": torch.tensor([0.5, 3.25, 42.0])}
    for dim in (4, 10, 32):
        module = Embeddings(dim)
        for kind, time in times.items():
            with torch.no_grad():
                got = module(time)
            what = (
                f"dim={dim}, {kind} times: differs from [sin(t w_i), cos(t w_i)], w_i = 10000^(-i/(half-1)) "
                "(Vaswani et al. 3.5, the course's layout: sines first)"
            )
            # float32 arithmetic: t * w_i carries a relative error ~1e-7, ~1e-5 at t = 999 (mistakes are O(1))
            found += differs(name, what, got, _sinusoidal(time.numpy(), dim), rtol=0, atol=1e-4)
    return found


def _group_norm(h, groups, weight, bias):
    b, c = h.shape[:2]
    grouped = h.reshape(b, groups, -1)
    mean = grouped.mean(dim=-1, keepdim=True)
    var = ((grouped - mean) ** 2).mean(dim=-1, keepdim=True)
    normed = ((grouped - mean) / torch.sqrt(var + GROUPNORM_EPS)).reshape(h.shape)
    return normed * weight.reshape(1, c, 1, 1) + bias.reshape(1, c, 1, 1)


def _block(params, prefix, x, groups, scale_shift=None):
    """Block as its docstring says: conv3x3 (padding 1) -> GroupNorm -> x (scale + 1) + shift -> SiLU."""
    h = F.conv2d(x, params[f"{prefix}proj.weight"], params[f"{prefix}proj.bias"], padding=1)
    h = _group_norm(h, groups, params[f"{prefix}norm.weight"], params[f"{prefix}norm.bias"])
    if scale_shift is not None:
        scale, shift = scale_shift
        h = h * (scale + 1.0) + shift
    return h * torch.sigmoid(h)


def _randomize(module, rng):
    """Give every parameter a random float64 value (GroupNorm's default 1 / 0 would hide mistakes)."""
    module.double()
    params = {}
    for key, value in module.state_dict().items():
        base = 1.0 if key.endswith("norm.weight") else 0.0
        params[key] = f64(base + 0.4 * rng.normal(size=tuple(value.shape)))
    module.load_state_dict(params)
    return params


def check_Block() -> list[str]:  # noqa: N802 - named after the exercise
    name = qualified("Block")
    _, Block = solution("Block")  # noqa: N806
    rng = np.random.default_rng(4)
    found = []
    for dim, dim_out, groups in ((3, 8, 4), (4, 6, 3)):
        block = Block(dim, dim_out, groups=groups)
        params = _randomize(block, rng)
        missing = sorted({"proj.weight", "proj.bias", "norm.weight", "norm.bias"} - set(params))
        if missing:
            return [f"{name}: state_dict lacks {missing} (the docstring's self.proj, self.norm, self.act)"]
        x = f64(rng.normal(size=(2, dim, 5, 6)))
        scale_shift = tuple(f64(0.5 * rng.normal(size=(2, dim_out, 1, 1))) for _ in range(2))
        for label, film in (("without scale_shift", None), ("with scale_shift", scale_shift)):
            with torch.no_grad():
                got = block(x, scale_shift=film) if film is not None else block(x)
            expected = _block(params, "", x, groups, film)
            what = (
                f"Block({dim}, {dim_out}, groups={groups}) {label} differs from "
                "conv3x3 -> GroupNorm -> x * (scale + 1) + shift -> SiLU"
            )
            found += differs(name, what, got, expected.numpy(), rtol=1e-9, atol=1e-10)
    return found


def check_ResnetBlock() -> list[str]:  # noqa: N802 - named after the exercise
    name = qualified("ResnetBlock")
    _, ResnetBlock = solution("ResnetBlock")  # noqa: N806
    rng = np.random.default_rng(5)
    found = []
    groups = 4
    for dim, dim_out, time_emb_dim in ((4, 8, 6), (8, 8, 6), (4, 8, None)):
        block = ResnetBlock(dim, dim_out, time_emb_dim=time_emb_dim, groups=groups)
        params = _randomize(block, rng)
        x = f64(rng.normal(size=(3, dim, 4, 5)))
        time_emb = f64(rng.normal(size=(3, time_emb_dim or 6)))
        for label, emb in (("with time_emb", time_emb), ("with time_emb=None", None)):
            with torch.no_grad():
                got = block(x, emb)
            film = None
            if time_emb_dim and emb is not None:
                # the provided self.mlp: SiLU, then Linear to 2 * dim_out; first half scale, second shift
                out = F.linear(emb * torch.sigmoid(emb), params["mlp.1.weight"], params["mlp.1.bias"])
                film = (out[:, :dim_out, None, None], out[:, dim_out:, None, None])
            h = _block(params, "block1.", x, groups, film)
            h = _block(params, "block2.", h, groups)
            residual = F.conv2d(x, params["res_conv.weight"], params["res_conv.bias"]) if dim != dim_out else x
            what = (
                f"ResnetBlock({dim}, {dim_out}, time_emb_dim={time_emb_dim}) {label} differs from "
                "block2(block1(x, FiLM scale/shift of mlp(time_emb))) + res_conv(x) (1x1 conv, or identity when dim == dim_out)"
            )
            found += differs(name, what, got, (h + residual).numpy(), rtol=1e-9, atol=1e-10)
    return found
