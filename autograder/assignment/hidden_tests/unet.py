"""The hidden tests of ``unet``: ``SinusoidalPositionEmbeddings``, ``Block``, ``ResnetBlock``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from autograder.assignment.hidden_tests.common import (
    Arrays,
    Float64,
    all_cases_check,
    as_numpy,
    as_tensor,
    case_inputs,
    cases_of,
    f64,
    state_dict_arrays,
)
from solutions import tolerance

# ----------------------------------------------------------------------------- U-Net pieces


def make_embeddings(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    dims = [4, 16, 32, 2 * int(rng.integers(3, 40))]
    for i, dim in enumerate(dims):
        B = int(rng.integers(2, 9))
        t = rng.integers(0, 1000, size=B)
        t[0], t[1] = 0, 999
        out[f"c{i}/dim"] = np.array(dim)
        out[f"c{i}/time"] = t.astype(np.int64) if i % 2 == 0 else (t + rng.uniform(0, 1, size=B)).astype(np.float32)
        out[f"c{i}/label"] = np.array(f"dim={dim}, {'integer' if i % 2 == 0 else 'float'} times")
    return out


def embedding_scale(time: Any, dim: int) -> np.ndarray:
    """Error scale of ``[sin(t w), cos(t w)]``: the argument ``t w`` carries the rounding error of
    ``w = exp(-i ln(10000) / (half - 1))`` (relative ``|ln w|`` from the exponential) and of the product."""
    half = dim // 2
    w = np.exp(-np.arange(half) * math.log(10000) / (half - 1))
    args = np.abs(np.asarray(time, dtype=np.float64))[:, None] * w[None, :]
    scale = tolerance.trig_scale(args * (3.0 + np.abs(np.log(w))))
    return np.concatenate([scale, scale], axis=1)


def ref_embeddings(inputs: Arrays) -> Arrays:
    from solutions.unet import SinusoidalPositionEmbeddings

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        with Float64():
            time = as_tensor(ci["time"]) if ci["time"].dtype.kind in "iu" else f64(ci["time"])
            out[f"{c}/out"] = as_numpy(SinusoidalPositionEmbeddings(int(ci["dim"]))(time))
        out[f"{c}/out.scale"] = embedding_scale(ci["time"], int(ci["dim"]))
    return out


BLOCK_CONFIGS = ((4, 8, 4), (8, 8, 8), (6, 16, 8), (16, 8, 2))


def make_block(rng: np.random.Generator) -> Arrays:
    from solutions.unet import Block

    out: Arrays = {}
    for i, (dim, dim_out, groups) in enumerate(BLOCK_CONFIGS):
        torch.manual_seed(int(rng.integers(1 << 30)))
        block = Block(dim, dim_out, groups=groups)
        with torch.no_grad():  # non-trivial norm parameters
            block.norm.weight.normal_(1.0, 0.3)
            block.norm.bias.normal_(0.0, 0.3)
        state_dict_arrays(block, out, f"c{i}")
        B, H, W = int(rng.integers(1, 4)), int(rng.integers(3, 8)), int(rng.integers(3, 8))
        out[f"c{i}/config"] = np.array([dim, dim_out, groups], dtype=np.int64)
        out[f"c{i}/x"] = rng.standard_normal((B, dim, H, W)).astype(np.float32)
        out[f"c{i}/scale"] = (0.5 * rng.standard_normal((B, dim_out, 1, 1))).astype(np.float32)
        out[f"c{i}/shift"] = (0.5 * rng.standard_normal((B, dim_out, 1, 1))).astype(np.float32)
        out[f"c{i}/label"] = np.array(f"Block({dim}, {dim_out}, groups={groups})")
    return out


def _load_block(ci: Arrays, cls: Any, *args: Any, **kwargs: Any) -> Any:
    module = cls(*args, **kwargs)
    sd = {k[3:]: torch.from_numpy(np.array(v)) for k, v in ci.items() if k.startswith("sd.")}
    module.load_state_dict(sd, strict=True)
    return module.eval().double()


def block_scale(block: Any, x: Any, x_scale: Any | None = None, scale_shift: Any | None = None) -> np.ndarray:
    """Error scale of ``Block`` (conv 3x3 -> GroupNorm -> scale/shift -> SiLU) on float64 ``x`` whose
    elements carry errors of scale ``x_scale``, elementwise in the units of the output: the
    convolution's sum of |w||x| (sqrt(fan-in) for a sum of mixed signs) plus the input's errors
    through |w|, divided by the group's standard deviation by the norm, whose mean and variance
    are sums over the group; then the affine terms."""
    conv, norm = block.proj, block.norm
    x = x.to(torch.float64)
    fan = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    h = conv(x)
    h_err = torch.nn.functional.conv2d(x.abs(), conv.weight.abs(), conv.bias.abs(), padding=conv.padding) * math.sqrt(fan)
    if x_scale is not None:
        h_err = h_err + torch.nn.functional.conv2d(torch.as_tensor(x_scale), conv.weight.abs(), padding=conv.padding)
    B = h.shape[0]
    groups = h.reshape(B, norm.num_groups, -1)
    std = torch.sqrt(groups.var(-1, unbiased=False) + norm.eps)[:, :, None]
    normed = ((groups - groups.mean(-1, keepdim=True)) / std).reshape(h.shape)
    normed_err = (h_err.reshape(B, norm.num_groups, -1) / std).reshape(h.shape)
    normed_err = normed_err + math.sqrt(groups.shape[-1]) * (normed.abs() + 1.0)
    gamma, beta = norm.weight.abs()[None, :, None, None], norm.bias.abs()[None, :, None, None]
    if scale_shift is None:
        mult, shift = torch.ones(()), torch.zeros(())
    else:
        mult, shift = (scale_shift[0].to(torch.float64) + 1.0).abs(), scale_shift[1].to(torch.float64).abs()
    y = gamma * (normed.abs() + normed_err) * mult + beta * mult + shift
    return as_numpy(1.1 * y + 2.0 * block(x, scale_shift=scale_shift).abs())


def ref_block(inputs: Arrays) -> Arrays:
    from solutions.unet import Block

    out: Arrays = {}
    with torch.no_grad():
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            dim, dim_out, groups = (int(v) for v in ci["config"])
            block = _load_block(ci, Block, dim, dim_out, groups=groups)
            x = f64(ci["x"])
            ss = (f64(ci["scale"]), f64(ci["shift"]))
            with Float64():
                out[f"{c}/out"] = as_numpy(block(x))
                out[f"{c}/out_scale_shift"] = as_numpy(block(x, scale_shift=ss))
            out[f"{c}/out.scale"] = block_scale(block, x)
            out[f"{c}/out_scale_shift.scale"] = block_scale(block, x, scale_shift=ss)
    return out


RESNET_CONFIGS = ((8, 16, 12, 4, True), (8, 8, 20, 8, True), (4, 8, None, 4, False), (16, 8, 6, 2, False))


def make_resnet(rng: np.random.Generator) -> Arrays:
    from solutions.unet import ResnetBlock

    out: Arrays = {}
    for i, (dim, dim_out, temb, groups, pass_time) in enumerate(RESNET_CONFIGS):
        torch.manual_seed(int(rng.integers(1 << 30)))
        block = ResnetBlock(dim, dim_out, time_emb_dim=temb, groups=groups)
        state_dict_arrays(block, out, f"c{i}")
        B, H, W = int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
        out[f"c{i}/config"] = np.array([dim, dim_out, temb or 0, groups, int(pass_time)], dtype=np.int64)
        out[f"c{i}/x"] = rng.standard_normal((B, dim, H, W)).astype(np.float32)
        out[f"c{i}/time_emb"] = rng.standard_normal((B, temb or 4)).astype(np.float32)
        out[f"c{i}/label"] = np.array(
            f"ResnetBlock({dim}, {dim_out}, time_emb_dim={temb}, groups={groups}), time_emb {'given' if pass_time else 'None'}"
        )
    return out


def resnet_scale(block: Any, x: Any, time_emb: Any) -> np.ndarray:
    """Error scale of ``ResnetBlock``: block1's with the FiLM scale and shift, plus the time MLP's
    sums (rounding of the scale acts on the normalized features, of the shift directly), carried
    through block2, plus the residual path's."""
    scale_shift = None
    if block.mlp is not None and time_emb is not None:
        linear = block.mlp[1]
        act = torch.nn.functional.silu(time_emb.to(torch.float64)).abs()
        mlp_abs = (act @ linear.weight.abs().T + linear.bias.abs()) * (math.sqrt(linear.in_features) + 2.0)
        scale_err, shift_err = mlp_abs[:, :, None, None].chunk(2, dim=1)
        scale_shift = block.mlp(time_emb.to(torch.float64))[:, :, None, None].chunk(2, dim=1)
    h_scale = torch.as_tensor(block_scale(block.block1, x, scale_shift=scale_shift))
    if scale_shift is not None:
        normed = block.block1.norm(block.block1.proj(x.to(torch.float64))).abs()
        h_scale = h_scale + scale_err * (normed + 1.0) + shift_err
    h = block.block1(x, scale_shift=scale_shift)
    out = block_scale(block.block2, h, h_scale)
    if isinstance(block.res_conv, torch.nn.Conv2d):
        conv = block.res_conv
        bias = conv.bias.abs() if conv.bias is not None else None
        res = torch.nn.functional.conv2d(x.abs(), conv.weight.abs(), bias) * (math.sqrt(conv.in_channels) + 1.0)
        return out + as_numpy(res)
    return out + as_numpy(x.abs())


def ref_resnet(inputs: Arrays) -> Arrays:
    from solutions.unet import ResnetBlock

    out: Arrays = {}
    with torch.no_grad():
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            dim, dim_out, temb, groups, pass_time = (int(v) for v in ci["config"])
            block = _load_block(ci, ResnetBlock, dim, dim_out, time_emb_dim=temb or None, groups=groups)
            x, time_emb = f64(ci["x"]), (f64(ci["time_emb"]) if pass_time else None)
            with Float64():
                out[f"{c}/out"] = as_numpy(block(x, time_emb))
            out[f"{c}/out.scale"] = resnet_scale(block, x, time_emb)
    return out


def block_forward_check(inputs: Arrays, reference: Arrays, student: Arrays) -> tuple[bool, str]:
    ok1, msg1 = all_cases_check("out")(inputs, reference, student)
    ok2, msg2 = all_cases_check("out_scale_shift")(inputs, reference, student)
    return ok1 and ok2, (msg1 or ("with scale_shift: " + msg2 if msg2 else ""))
