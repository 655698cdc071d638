"""The catalogue's known mistakes of ``solutions/unet.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'SinusoidalPositionEmbeddings': (
        M('embedding_half_dim', 'scale = math.log(10000) / (half_dim - 1)', 'scale = math.log(10000) / half_dim', explain="", pitfall='half_dim instead of half_dim - 1 in the embeddings'),
        M('embedding_cos_sin', 'torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.cat((args.cos(), args.sin()), dim=-1)', explain="", pitfall='cos/sin swapped in the embeddings'),
        M('embedding_vaswani_interleaved', 'torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.stack((args.sin(), args.cos()), dim=-1).flatten(1)', explain=""),
        M('embedding_vaswani', 'scale = math.log(10000) / (half_dim - 1)', 'scale = math.log(10000) / half_dim\n        return torch.stack(((time.float()[:, None] * torch.exp(torch.arange(half_dim, device=time.device) * -scale)[None, :]).sin(), (time.float()[:, None] * torch.exp(torch.arange(half_dim, device=time.device) * -scale)[None, :]).cos()), dim=-1).flatten(1)', explain=""),
    ),
    'Block': (
        M('groupnorm_input', 'self.norm = nn.GroupNorm(groups, dim_out)', 'self.norm = nn.GroupNorm(groups, dim)', explain="", pitfall='GroupNorm over the input instead of the output channels'),
        M('block_relu', 'self.act = nn.SiLU()', 'self.act = nn.ReLU()', explain=""),
        M('block_scale_no_plus_one', 'x = x * (scale + 1) + shift', 'x = x * scale + shift', explain=""),
        M('block_act_before_norm', '        x = self.proj(x)\n        x = self.norm(x)\n', '        x = self.proj(x)\n        x = self.act(x)\n', explain=""),
    ),
    'ResnetBlock': (
        M('resnet_no_residual', 'return h + self.res_conv(x)', 'return h', explain=""),
        M('resnet_time_after', 'h = self.block1(x, scale_shift=scale_shift)\n        h = self.block2(h)', 'h = self.block1(x)\n        h = self.block2(h, scale_shift=scale_shift)', explain=""),
        M('resnet_time_added', 'h = self.block1(x, scale_shift=scale_shift)', 'h = self.block1(x) + (0 if scale_shift is None else scale_shift[0] + scale_shift[1])', explain=""),
        M('resnet_scale_shift_swapped', '"b c -> b c 1 1").chunk(2, dim=1)', '"b c -> b c 1 1").chunk(2, dim=1)[::-1]', explain=""),
    ),
}
# fmt: on
