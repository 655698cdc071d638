"""The catalogue's known mistakes of ``solutions/unet.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from dataclasses import replace

from autograder.assignment.catalogue.entry import A, M

# the reference embedding's body, which the variants combining two changes replace as a whole
_EMBEDDING = "scale = math.log(10000) / (half_dim - 1)\n        freqs = torch.exp(torch.arange(half_dim, device=time.device, dtype=torch.float32) * -scale)\n        args = time.float()[:, None] * freqs[None, :]\n        return torch.cat((args.sin(), args.cos()), dim=-1)"
_VASWANI_GRID = _EMBEDDING.replace("(half_dim - 1)", "half_dim")
_ASKED = "This exercise asks for the variant in Ho et al.'s code: all sines, then all cosines (torch.cat((sin, cos), dim=-1)), with ln(10000) divided by half_dim - 1 so that w runs from 1 down to exactly 1/10000."

# the reference Block.forward's body after the convolution
_BLOCK_TAIL = "x = self.norm(x)\n        if scale_shift is not None:\n            scale, shift = scale_shift\n            x = x * (scale + 1) + shift\n        return self.act(x)"

# fmt: off
ENTRIES = {
    'SinusoidalPositionEmbeddings': (
        # valid variants of the papers' code: named as alternatives, never as wrong (they still earn no credit)
        A('embedding_vaswani', _EMBEDDING, _VASWANI_GRID.replace('torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.stack((args.sin(), args.cos()), dim=-1).flatten(1)'), explain="This is exactly the encoding of Vaswani et al. (2017, Section 3.5): sin in the even dimensions, cos in the odd ones, frequencies 10000^(-2i/dim) = 10000^(-i/half_dim). " + _ASKED),
        replace(A('embedding_half_dim', 'scale = math.log(10000) / (half_dim - 1)', 'scale = math.log(10000) / half_dim', explain="Your frequencies are 10000^(-i/half_dim) = 10000^(-2i/dim), those of Vaswani et al. (2017, Section 3.5), whose lowest one is above 1/10000. Divide ln(10000) by half_dim - 1, not half_dim: " + _ASKED), pitfall='half_dim instead of half_dim - 1 in the embeddings'),
        A('embedding_vaswani_interleaved', 'torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.stack((args.sin(), args.cos()), dim=-1).flatten(1)', explain="You interleaved sin and cos (sin in the even dimensions, cos in the odd ones), the layout of Vaswani et al. (2017, Section 3.5). " + _ASKED),
        A('embedding_nichol_dhariwal', _EMBEDDING, _VASWANI_GRID.replace('(args.sin(), args.cos())', '(args.cos(), args.sin())'), explain="Cosines first with frequencies 10000^(-i/half_dim) is the layout of Nichol & Dhariwal's code. " + _ASKED),
        replace(A('embedding_cos_sin', 'torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.cat((args.cos(), args.sin()), dim=-1)', explain="sin and cos are swapped: the cosines come first. The network learns the same from either order (a linear layer reads the embedding), but this exercise asks for the sines first, then the cosines."), pitfall='cos/sin swapped in the embeddings'),
    ),
    'Block': (
        M('groupnorm_input', 'self.norm = nn.GroupNorm(groups, dim_out)', 'self.norm = nn.GroupNorm(groups, dim)', explain="Your GroupNorm normalizes the block's input channels (dim): it normalizes the convolution's output, a GroupNorm over dim_out channels.", pitfall='GroupNorm over the input instead of the output channels'),
        M('block_relu', 'self.act = nn.SiLU()', 'self.act = nn.ReLU()', explain="Your activation is ReLU: the block uses SiLU (x * sigmoid(x), nn.SiLU()), as the U-Net of Ho et al. (Swish) and annotated-diffusion do."),
        M('block_no_act', 'return self.act(x)', 'return x', explain="The SiLU activation is missing: conv -> norm -> (scale, shift) -> SiLU."),
        M('block_act_before_norm', _BLOCK_TAIL, _BLOCK_TAIL.replace('x = self.norm(x)', 'x = self.norm(self.act(x))').replace('return self.act(x)', 'return x'), explain="The order is conv -> GroupNorm -> SiLU: you applied SiLU before the norm."),
        M('block_ignores_scale_shift', 'x = x * (scale + 1) + shift', 'pass', explain="scale_shift was ignored: after the norm, multiply by (scale + 1), then add shift."),
        M('block_scale_no_plus_one', 'x = x * (scale + 1) + shift', 'x = x * scale + shift', explain="Multiply by (scale + 1), not by scale: a scale of 0 must leave x unchanged."),
        M('block_shift_only', 'x = x * (scale + 1) + shift', 'x = x + shift', explain="Only the shift was applied, the scale was ignored: FiLM multiplies by (scale + 1), then adds shift, x * (scale + 1) + shift."),
        M('block_scale_shift_after_act', _BLOCK_TAIL, 'x = self.act(self.norm(x))\n        if scale_shift is not None:\n            scale, shift = scale_shift\n            x = x * (scale + 1) + shift\n        return x', explain="Apply scale and shift after the norm and before the SiLU."),
    ),
    'ResnetBlock': (
        M('resnet_no_residual', 'return h + self.res_conv(x)', 'return h', explain="The residual is missing: add self.res_conv(x) (a 1x1 conv, or the identity when dim == dim_out) to the output of block2."),
        M('resnet_ignores_time', 'h = self.block1(x, scale_shift=scale_shift)', 'h = self.block1(x)', explain="The time embedding is ignored: pass scale_shift = self.mlp(time_emb), reshaped to (B, 2C, 1, 1) and chunked in two, to block1."),
        M('resnet_time_after', 'h = self.block1(x, scale_shift=scale_shift)\n        h = self.block2(h)', 'h = self.block1(x)\n        h = self.block2(h, scale_shift=scale_shift)', explain="The scale and shift go to block1 (after its norm), not to block2."),
        M('resnet_time_added', 'h = self.block1(x, scale_shift=scale_shift)', 'h = self.block1(x) + (0 if scale_shift is None else scale_shift[0] + scale_shift[1])', explain="You added the time embedding to block1's output: this block scales and shifts the features (FiLM). Pass scale_shift to block1, which applies x * (scale + 1) + shift after its norm."),
        M('resnet_scale_shift_swapped', '"b c -> b c 1 1").chunk(2, dim=1)', '"b c -> b c 1 1").chunk(2, dim=1)[::-1]', explain="Scale and shift are swapped: the first half of mlp(time_emb) is the scale, the second the shift."),
    ),
}
# fmt: on
