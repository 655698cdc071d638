"""The visible self-checks (solutions/checks.py, shipped as helpers/checks.py).

For every exercise: the reference passes, the stub gives "not implemented yet",
and each known mistake of contract section 5 that applies fails with a hint that names it.
The mistaken variants below are written here, in the tests, never in anything students get.
"""

import math
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.assignment import exercises
from autograder.paths import ROOT
from solutions import checks, ddim, forward, losses, posterior, sampling, schedules, unet
from solutions.schedules import extract

EXERCISES = exercises.EXERCISES  # the exercise table (autograder/assignment/exercises.py)


def fails_with(check, *fragments):
    """Run ``check``; it must raise CheckFailure whose message contains every fragment (case-insensitive)."""
    with pytest.raises(AssertionError) as info:
        check()
    message = str(info.value)
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in the message:\n{message}"
    return message


# --------------------------------------------------------------------------- basics


def test_every_exercise_has_a_check():
    from autograder.assignment.regions import module_by_exercise

    assert set(module_by_exercise()) == set(EXERCISES)
    assert set(checks.__all__[1:]) == {f"check_{name}" for name in EXERCISES}


@pytest.mark.parametrize("exercise", EXERCISES)
def test_reference_passes(exercise, capsys):
    getattr(checks, f"check_{exercise}")()
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", EXERCISES)
def test_stub_says_not_implemented(exercise):
    from autograder.assignment.regions import module_by_exercise

    helpers_checks = pytest.importorskip("helpers.checks")
    module = module_by_exercise()[exercise]
    if exercise == "ddim_step":  # in the released stubs, its first dependency (extract) is not written yet
        module = "schedules"
    message = fails_with(
        getattr(helpers_checks, f"check_{exercise}"), "not implemented yet", "COMPLETE THIS", f"helpers/{module}.py"
    )
    assert "Traceback" not in message and len(message.splitlines()) == 1


def test_expected_values_are_up_to_date():
    from autograder.authoring.self_check_values import refresh_expected

    assert refresh_expected(check=True), "run `python -m autograder helpers`"


def test_checks_do_not_leak_solutions():
    """No line of any solution region appears in a file students get or in a notebook."""
    from autograder.assignment.regions import scan
    from autograder.paths import SOLUTIONS

    solution_lines = set()
    for path in SOLUTIONS.glob("*.py"):
        lines = path.read_text().splitlines()
        for region in scan(path):
            for line in lines[region.begin : region.end - 1]:
                stripped = line.strip()
                if stripped and not stripped.startswith("#"):
                    solution_lines.add(stripped)
    shipped = [
        ROOT / "solutions" / "checks.py",
        ROOT / "solutions" / "checks_expected.py",
        *sorted((ROOT / "notebooks").glob("*.ipynb")),
    ]
    for path in shipped:
        text = path.read_text()
        lines = {line.strip().strip('",').replace('\\"', '"') for line in text.splitlines()}
        leaked = sorted(solution_lines & lines)
        assert not leaked, f"{path.name} contains solution lines: {leaked}"


def test_failure_message_is_short_in_ipython():
    """In a notebook the failure shows the message, not a wall of frames."""
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_cell('from helpers import checks')\n"
        "shell.run_cell('checks.check_q_sample()')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert "not implemented yet: q_sample (COMPLETE THIS in helpers/forward.py)" in output
    assert output.count("File ") + output.count("Cell In") <= 3, output


# --------------------------------------------------------------------------- 01 schedules


def _cosine(timesteps, s=0.008, max_beta=0.999, clip=None, shift=0, dtype=torch.float64):
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=dtype) + shift
    f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    betas = 1 - abar[1:] / abar[:-1]
    betas = betas.clamp(*clip) if clip else betas.clamp(max=max_beta)
    return betas.float()


def test_cosine_clipped_at_0_02(monkeypatch):
    monkeypatch.setattr(schedules, "cosine_beta_schedule", lambda T, s=0.008, max_beta=0.999: _cosine(T, clip=(1e-4, 0.02)))
    fails_with(checks.check_cosine_beta_schedule, "clipped at 0.02")


def test_cosine_returns_alphas_cumprod(monkeypatch):
    def wrong(T, s=0.008, max_beta=0.999):
        return torch.cumprod(1 - _cosine(T, s, max_beta).double(), 0).float()

    monkeypatch.setattr(schedules, "cosine_beta_schedule", wrong)
    fails_with(checks.check_cosine_beta_schedule, "returned abar_t")


def test_cosine_off_by_one(monkeypatch):
    monkeypatch.setattr(schedules, "cosine_beta_schedule", lambda T, s=0.008, max_beta=0.999: _cosine(T, s, max_beta, shift=1))
    fails_with(checks.check_cosine_beta_schedule, "off by one")


def test_cosine_wrong_length(monkeypatch):
    monkeypatch.setattr(schedules, "cosine_beta_schedule", lambda T, s=0.008, max_beta=0.999: _cosine(T + 1, s, max_beta))
    fails_with(checks.check_cosine_beta_schedule, "shape", "one beta per step")


def test_cosine_ignores_max_beta(monkeypatch):
    monkeypatch.setattr(schedules, "cosine_beta_schedule", lambda T, s=0.008, max_beta=0.999: _cosine(T, s, 0.999))
    fails_with(checks.check_cosine_beta_schedule, "max_beta")


def _schedule_with(**changes):
    """A DiffusionSchedule whose constants are recomputed by the given mistaken formulas."""

    class Mistaken(schedules.DiffusionSchedule):
        def __init__(self, betas):
            super().__init__(betas)
            for name, formula in changes.items():
                setattr(self, name, formula(self))

    return Mistaken


SCHEDULE_MISTAKES = {
    "alphas_instead_of_cumprod": (
        dict(
            sqrt_alphas_cumprod=lambda s: torch.sqrt(s.alphas),
            sqrt_one_minus_alphas_cumprod=lambda s: torch.sqrt(1 - s.alphas),
        ),
        "alphas instead of alphas_cumprod",
    ),
    "cumprod_is_alphas": (dict(alphas_cumprod=lambda s: s.alphas), "alphas instead of alphas_cumprod"),
    "prev_starts_at_0": (
        dict(alphas_cumprod_prev=lambda s: F.pad(s.alphas_cumprod[:-1], (1, 0), value=0.0)),
        "must start at 1.0",
    ),
    "prev_not_shifted": (dict(alphas_cumprod_prev=lambda s: s.alphas_cumprod), "starting at 1.0"),
    "recip_alpha": (dict(sqrt_recip_alphas=lambda s: 1.0 / s.alphas), "1/alpha_t instead of 1/sqrt(alpha_t)"),
    "one_minus_abar": (
        dict(sqrt_one_minus_alphas_cumprod=lambda s: 1.0 - s.alphas_cumprod),
        "(1 - abar_t) instead of sqrt(1 - abar_t)",
    ),
    "posterior_std": (dict(posterior_variance=lambda s: torch.sqrt(s.posterior_variance)), "posterior_variance is a variance"),
    "off_by_one": (
        dict(alphas_cumprod=lambda s: torch.cumprod(torch.cat([torch.ones(1), s.alphas[:-1]]), 0)),
        "off by one",
    ),
}


@pytest.mark.parametrize("mistake", SCHEDULE_MISTAKES)
def test_diffusion_schedule_mistakes(mistake, monkeypatch):
    changes, hint = SCHEDULE_MISTAKES[mistake]
    monkeypatch.setattr(schedules, "DiffusionSchedule", _schedule_with(**changes))
    fails_with(checks.check_DiffusionSchedule, hint)


def test_extract_off_by_one(monkeypatch):
    monkeypatch.setattr(schedules, "extract", lambda a, t, x_shape: a[t - 1].reshape(len(t), *([1] * (len(x_shape) - 1))))
    fails_with(checks.check_extract, "off by one", "a[t - 1]")


def test_extract_wrong_shape(monkeypatch):
    monkeypatch.setattr(schedules, "extract", lambda a, t, x_shape: a[t])
    fails_with(checks.check_extract, "shape", "(4, 1, 1, 1)")


def test_extract_float64_is_named(monkeypatch):
    # issue 21: a float64 result surfaced only later, in notebook 03's training cell
    monkeypatch.setattr(schedules, "extract", lambda a, t, x_shape: extract(a, t, x_shape).double())
    message = fails_with(checks.check_extract, "extract(a, t, (4, 3, 8, 8)) has dtype torch.float64", "return float32")
    assert "largest difference" not in message


# --------------------------------------------------------------------------- 02 forward


def _q_sample_with(signal, noise_scale, shift=0):
    def q_sample(schedule, x_0, t, noise=None):
        noise = torch.randn_like(x_0) if noise is None else noise
        t = t + shift
        return extract(signal(schedule), t, x_0.shape) * x_0 + extract(noise_scale(schedule), t, x_0.shape) * noise

    return q_sample


Q_MISTAKES = {
    "one_minus_abar": (_q_sample_with(lambda s: s.sqrt_alphas_cumprod, lambda s: 1 - s.alphas_cumprod), "(1 - abar_t)"),
    "alphas": (_q_sample_with(lambda s: s.alphas.sqrt(), lambda s: (1 - s.alphas).sqrt()), "alphas instead of alphas_cumprod"),
    "t_minus_1": (_q_sample_with(lambda s: s.sqrt_alphas_cumprod, lambda s: s.sqrt_one_minus_alphas_cumprod, -1), "off by one"),
    "no_sqrt": (_q_sample_with(lambda s: s.alphas_cumprod, lambda s: 1 - s.alphas_cumprod), "square roots"),
}


@pytest.mark.parametrize("mistake", Q_MISTAKES)
def test_q_sample_mistakes(mistake, monkeypatch):
    wrong, hint = Q_MISTAKES[mistake]
    monkeypatch.setattr(forward, "q_sample", wrong)
    fails_with(checks.check_q_sample, hint)


def test_q_sample_ignores_given_noise(monkeypatch):
    # issue 21: caught, but not named ("largest difference ...")
    original = forward.q_sample
    monkeypatch.setattr(
        forward, "q_sample", lambda schedule, x_0, t, noise=None: original(schedule, x_0, t, torch.randn_like(x_0))
    )
    message = fails_with(
        checks.check_q_sample, "q_sample(schedule, x_0, t, noise) is wrong", "fresh noise although noise was given"
    )
    assert "largest difference" not in message


def test_q_sample_float64_is_named(monkeypatch):
    original = forward.q_sample
    monkeypatch.setattr(forward, "q_sample", lambda schedule, x_0, t, noise=None: original(schedule, x_0, t, noise).double())
    fails_with(checks.check_q_sample, "q_sample(schedule, x_0, t, noise) has dtype torch.float64", "return float32")


# --------------------------------------------------------------------------- 03 losses


def _p_losses_with(model_input="x_t", target="noise", reduce="mean", swap_l1_l2=False, per_image_sum=False):
    def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
        if loss_type not in ("l1", "l2", "huber"):
            raise ValueError(loss_type)
        noise = torch.randn_like(x_0) if noise is None else noise
        x_t = forward.q_sample(schedule, x_0, t, noise=noise)
        predicted = model(x_t if model_input == "x_t" else x_0, t)
        goal = noise if target == "noise" else x_0
        if swap_l1_l2 and loss_type != "huber":
            loss_type = {"l1": "l2", "l2": "l1"}[loss_type]
        fn = {"l1": F.l1_loss, "l2": F.mse_loss, "huber": F.smooth_l1_loss}[loss_type]
        if per_image_sum:  # eq. 14's norm over each image's pixels, averaged over the batch
            return fn(predicted, goal, reduction="none").flatten(1).sum(1).mean()
        return fn(predicted, goal, reduction=reduce)

    return p_losses


LOSS_MISTAKES = {
    "model_on_x0": (_p_losses_with(model_input="x_0"), "clean x_0"),
    "sum": (_p_losses_with(reduce="sum"), "summed instead of averaging"),
    "l1_l2_swapped": (_p_losses_with(swap_l1_l2=True), "That is the l1 loss"),
}


@pytest.mark.parametrize("mistake", LOSS_MISTAKES)
def test_p_losses_mistakes(mistake, monkeypatch):
    wrong, hint = LOSS_MISTAKES[mistake]
    monkeypatch.setattr(losses, "p_losses", wrong)
    fails_with(checks.check_p_losses, hint)


VALID_LOSSES = {
    "target_x0": (_p_losses_with(target="x_0"), "predict x_0", "target should be the noise"),
    "per_image_sum": (_p_losses_with(per_image_sum=True), "summed over each image's pixels", "eq. 14"),
}


@pytest.mark.parametrize("variant", VALID_LOSSES)
def test_p_losses_valid_alternatives_are_not_called_wrong(variant, monkeypatch):
    allowed, *fragments = VALID_LOSSES[variant]
    monkeypatch.setattr(losses, "p_losses", allowed)
    message = fails_with(checks.check_p_losses, "valid alternative, but not what this exercise asks", *fragments)
    assert "is wrong" not in message and "no credit" in message


def _p_losses_drawing(redraw_in_p_losses):
    """p_losses that ignores the given noise: drawn in p_losses itself, or by q_sample called without it."""

    def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
        fn = {"l1": F.l1_loss, "l2": F.mse_loss, "huber": F.smooth_l1_loss}[loss_type]
        if redraw_in_p_losses:
            noise = torch.randn_like(x_0)
            return fn(model(forward.q_sample(schedule, x_0, t, noise=noise), t), noise)
        return fn(model(forward.q_sample(schedule, x_0, t), t), torch.randn_like(x_0) if noise is None else noise)

    return p_losses


@pytest.mark.parametrize("redraw_in_p_losses", [True, False])
def test_p_losses_fresh_noise_is_named(redraw_in_p_losses, monkeypatch):
    # issue 21: caught, but not named
    monkeypatch.setattr(losses, "p_losses", _p_losses_drawing(redraw_in_p_losses))
    message = fails_with(checks.check_p_losses, "drew its own noise although noise was given", "as the target")
    assert "largest difference" not in message and "fix q_sample first" not in message


def test_p_losses_model_at_t_plus_1_is_named(monkeypatch):
    # issue 21: model(x_t, t + 1) was caught, but not named
    def p_losses(model, schedule, x_0, t, noise=None, loss_type="l2"):
        fn = {"l1": F.l1_loss, "l2": F.mse_loss, "huber": F.smooth_l1_loss}[loss_type]
        return fn(model(forward.q_sample(schedule, x_0, t, noise=noise), t + 1), noise)

    monkeypatch.setattr(losses, "p_losses", p_losses)
    message = fails_with(checks.check_p_losses, "The model got t + 1", "same 0-based index t")
    assert "largest difference" not in message


def test_p_losses_float64_is_named(monkeypatch):
    original = losses.p_losses
    monkeypatch.setattr(losses, "p_losses", lambda *args, **kwargs: original(*args, **kwargs).double())
    fails_with(checks.check_p_losses, "p_losses(loss_type='l2') has dtype torch.float64", "return float32")


def test_q_posterior_float64_is_named(monkeypatch):
    original = posterior.q_posterior
    monkeypatch.setattr(posterior, "q_posterior", lambda *args: tuple(v.double() for v in original(*args)))
    fails_with(checks.check_q_posterior, "q_posterior(...) mean has dtype torch.float64", "return float32")


def test_p_losses_with_unfinished_q_sample(monkeypatch):
    def stub(*args, **kwargs):
        raise NotImplementedError("COMPLETE THIS: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise")

    monkeypatch.setattr(losses, "q_sample", stub)
    fails_with(checks.check_p_losses, "relies on q_sample", "not implemented yet: q_sample", "helpers/forward.py")


# --------------------------------------------------------------------------- 04 U-Net parts


class _Embeddings(nn.Module):
    def __init__(self, dim, divisor_offset=-1, cos_first=False, interleave=False, shift=0.0):
        super().__init__()
        self.dim, self.divisor_offset, self.cos_first = dim, divisor_offset, cos_first
        self.interleave, self.shift = interleave, shift

    def forward(self, time):
        half = self.dim // 2
        w = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half + self.divisor_offset)))
        angles = (time.float() + self.shift)[:, None] * w[None, :]
        parts = (angles.cos(), angles.sin()) if self.cos_first else (angles.sin(), angles.cos())
        if self.interleave:  # Vaswani et al.: sin in the even dimensions, cos in the odd ones
            return torch.stack(parts, dim=-1).flatten(1)
        return torch.cat(parts, dim=-1)


VALID_EMBEDDINGS = {
    # Vaswani et al. 2017, Section 3.5 exactly: interleaved, frequencies 10000^(-2i/dim)
    "vaswani": (dict(divisor_offset=0, interleave=True), "exactly the encoding of Vaswani", "even dimensions"),
    # the section 5 pitfall "half_dim instead of half_dim - 1": Vaswani's frequencies
    "half_dim": (dict(divisor_offset=0), "Vaswani", "10000^(-2i/dim)", "half_dim - 1, not half_dim"),
    "interleaved": (dict(interleave=True), "interleaved sin and cos", "Vaswani", "all sines, then all cosines"),
    "nichol_dhariwal": (dict(divisor_offset=0, cos_first=True), "Nichol & Dhariwal", "half_dim - 1"),
    # the section 5 pitfall "cos/sin swapped"
    "cos_sin": (dict(cos_first=True), "swapped", "sines first"),
}


@pytest.mark.parametrize("variant", VALID_EMBEDDINGS)
def test_embeddings_valid_alternatives_are_not_called_wrong(variant, monkeypatch):
    options, *fragments = VALID_EMBEDDINGS[variant]
    monkeypatch.setattr(unet, "SinusoidalPositionEmbeddings", lambda dim: _Embeddings(dim, **options))
    message = fails_with(
        checks.check_SinusoidalPositionEmbeddings, "valid alternative, but not what this exercise asks", *fragments
    )
    assert "is wrong" not in message and "no credit" in message


def test_embeddings_real_mistake_is_still_wrong(monkeypatch):
    # steps counted from 1: no paper's embedding, so no "valid alternative" either
    monkeypatch.setattr(unet, "SinusoidalPositionEmbeddings", lambda dim: _Embeddings(dim, shift=1.0))
    message = fails_with(checks.check_SinusoidalPositionEmbeddings, "is wrong: largest difference")
    assert "valid alternative" not in message


def test_embeddings_variant_passes(monkeypatch):
    monkeypatch.setattr(unet, "SinusoidalPositionEmbeddings", lambda dim: _Embeddings(dim))
    checks.check_SinusoidalPositionEmbeddings()


def test_embeddings_float64_is_named(monkeypatch):
    class Float64Embeddings(_Embeddings):
        def forward(self, time):
            return super().forward(time).double()

    monkeypatch.setattr(unet, "SinusoidalPositionEmbeddings", lambda dim: Float64Embeddings(dim))
    fails_with(checks.check_SinusoidalPositionEmbeddings, "SinusoidalPositionEmbeddings(16)(t) has dtype torch.float64")


def test_embeddings_long_time_float64_is_named(monkeypatch):
    # the LongTensor call's result was compared after .float(): a float64 result there went unseen
    class LongToFloat64(_Embeddings):
        def forward(self, time):
            out = super().forward(time)
            return out if time.is_floating_point() else out.double()

    monkeypatch.setattr(unet, "SinusoidalPositionEmbeddings", lambda dim: LongToFloat64(dim))
    fails_with(checks.check_SinusoidalPositionEmbeddings, "(t as LongTensor) has dtype torch.float64")


class _Block(nn.Module):
    def __init__(self, dim, dim_out, groups=8, norm_channels=None, act=True, plus_one=True, act_module=nn.SiLU, scale=True):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, norm_channels or dim_out)
        self.act = act_module() if act else nn.Identity()
        self.plus_one, self.scale = plus_one, scale

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            if not self.scale:  # FiLM reduced to its shift: x * 1 + shift
                scale = torch.zeros_like(scale) if self.plus_one else torch.ones_like(scale)
            x = x * (scale + 1 if self.plus_one else scale) + shift
        return self.act(x)


def test_block_groupnorm_over_input_channels(monkeypatch):
    monkeypatch.setattr(unet, "Block", lambda dim, dim_out, groups=8: _Block(dim, dim_out, groups, norm_channels=dim))
    message = fails_with(checks.check_Block, "GroupNorm over 4 channels", "input", "dim_out")
    assert "valid alternative" not in message


class _PreActivationBlock(_Block):
    """Ho et al.'s order: GroupNorm over the input -> SiLU -> conv."""

    def forward(self, x, scale_shift=None):
        return self.proj(self.act(self.norm(x)))


def test_block_pre_activation_is_a_valid_alternative(monkeypatch):
    monkeypatch.setattr(
        unet, "Block", lambda dim, dim_out, groups=8: _PreActivationBlock(dim, dim_out, groups, norm_channels=dim)
    )
    message = fails_with(checks.check_Block, "valid alternative, but not what this exercise asks", "pre-activation", "Ho et al.")
    assert "no credit" in message


def test_block_without_activation(monkeypatch):
    monkeypatch.setattr(unet, "Block", lambda dim, dim_out, groups=8: _Block(dim, dim_out, groups, act=False))
    fails_with(checks.check_Block, "SiLU activation is missing")


def test_block_scale_without_plus_one(monkeypatch):
    monkeypatch.setattr(unet, "Block", lambda dim, dim_out, groups=8: _Block(dim, dim_out, groups, plus_one=False))
    fails_with(checks.check_Block, "(scale + 1)", "shift")


def test_block_relu_is_named(monkeypatch):
    # issue 21: ReLU for SiLU was caught, but not named
    monkeypatch.setattr(unet, "Block", lambda dim, dim_out, groups=8: _Block(dim, dim_out, groups, act_module=nn.ReLU))
    message = fails_with(checks.check_Block, "Block(x) is wrong", "activation is ReLU", "SiLU")
    assert "largest difference" not in message


@pytest.mark.parametrize("plus_one", [True, False])
def test_block_shift_only_film_is_named(plus_one, monkeypatch):
    # issue 21: shift-only FiLM (x * 1 + shift, the scale ignored) was caught, but not named
    monkeypatch.setattr(
        unet, "Block", lambda dim, dim_out, groups=8: _Block(dim, dim_out, groups, plus_one=plus_one, scale=False)
    )
    message = fails_with(checks.check_Block, "Only the shift was applied", "x * (scale + 1) + shift")
    assert "largest difference" not in message


def test_block_variant_passes(monkeypatch):
    monkeypatch.setattr(unet, "Block", lambda dim, dim_out, groups=8: _Block(dim, dim_out, groups))
    checks.check_Block()


def _resnet_forward(use_time=True, residual=True, swap=False, into_block2=False):
    def forward_(self, x, time_emb=None):
        film = None
        if use_time and self.mlp is not None and time_emb is not None:
            film = self.mlp(time_emb)[:, :, None, None].chunk(2, dim=1)
            film = film[::-1] if swap else film
        h = self.block1(x, scale_shift=None if into_block2 else film)
        h = self.block2(h, scale_shift=film if into_block2 else None)
        return h + self.res_conv(x) if residual else h

    return forward_


def test_resnet_block_ignores_time(monkeypatch):
    monkeypatch.setattr(unet.ResnetBlock, "forward", _resnet_forward(use_time=False))
    fails_with(checks.check_ResnetBlock, "time embedding is ignored")


def test_resnet_block_without_residual(monkeypatch):
    monkeypatch.setattr(unet.ResnetBlock, "forward", _resnet_forward(residual=False))
    fails_with(checks.check_ResnetBlock, "residual is missing")


def test_resnet_block_swaps_scale_and_shift(monkeypatch):
    monkeypatch.setattr(unet.ResnetBlock, "forward", _resnet_forward(swap=True))
    fails_with(checks.check_ResnetBlock, "Scale and shift are swapped")


def test_resnet_block_modulates_block2(monkeypatch):
    monkeypatch.setattr(unet.ResnetBlock, "forward", _resnet_forward(into_block2=True))
    fails_with(checks.check_ResnetBlock, "go to block1")


def test_resnet_block_with_unfinished_block(monkeypatch):
    class Stub(nn.Module):
        def __init__(self, *args, **kwargs):
            raise NotImplementedError("COMPLETE THIS: self.proj (3x3 conv), self.norm (GroupNorm), self.act (SiLU)")

    monkeypatch.setattr(unet, "Block", Stub)
    fails_with(checks.check_ResnetBlock, "relies on Block", "helpers/unet.py")


# --------------------------------------------------------------------------- 05 sampling


def _p_sample_with(recip=lambda s: s.sqrt_recip_alphas, sigma=lambda s: s.posterior_variance.sqrt(), noise_at_0=False,
                   shift=0, noise_std=lambda s: s.sqrt_one_minus_alphas_cumprod, last_noisy_index=1):  # fmt: skip
    @torch.no_grad()
    def p_sample(model, schedule, x_t, t, t_index, clip_denoised=False):
        eps = model(x_t, t)
        t = t + shift
        if clip_denoised:
            x0 = sampling.predict_x0(schedule, x_t, t, eps).clamp(-1, 1)
            mean = sampling.posterior_mean(schedule, x_t, t, x0)
        else:
            coef = extract(schedule.betas, t, x_t.shape) / extract(noise_std(schedule), t, x_t.shape)
            mean = extract(recip(schedule), t, x_t.shape) * (x_t - coef * eps)
        if t_index < last_noisy_index and not noise_at_0:
            return mean
        return mean + extract(sigma(schedule), t, x_t.shape) * torch.randn_like(x_t)

    return p_sample


P_SAMPLE_MISTAKES = {
    "variance_as_std": (_p_sample_with(sigma=lambda s: s.posterior_variance), "sqrt(posterior_variance_t), not by the variance"),
    "recip_alpha": (_p_sample_with(recip=lambda s: 1 / s.alphas), "1/alpha_t where eq. 11 has 1/sqrt(alpha_t)"),
    "noise_at_0": (_p_sample_with(noise_at_0=True), "t_index == 0 return the mean alone"),
    "off_by_one": (_p_sample_with(shift=-1), "off by one"),
    "alphas_not_cumprod": (_p_sample_with(noise_std=lambda s: (1 - s.alphas).sqrt()), "alphas instead of alphas_cumprod"),
}


@pytest.mark.parametrize("mistake", P_SAMPLE_MISTAKES)
def test_p_sample_mistakes(mistake, monkeypatch):
    wrong, hint = P_SAMPLE_MISTAKES[mistake]
    monkeypatch.setattr(sampling, "p_sample", wrong)
    fails_with(checks.check_p_sample, hint)


def test_p_sample_without_noise_at_t_index_1_too(monkeypatch):
    # issue 21: `if t_index <= 1: return mean` passed every case (none was at index 1)
    monkeypatch.setattr(sampling, "p_sample", _p_sample_with(last_noisy_index=2))
    message = fails_with(checks.check_p_sample, "No noise was added at t_index 1", "t_index == 0", "t_index=1")
    assert "No noise was added: for t_index > 0" not in message  # not the mistake of never adding noise


def test_p_sample_without_any_noise(monkeypatch):
    monkeypatch.setattr(sampling, "p_sample", _p_sample_with(last_noisy_index=10**6))
    message = fails_with(checks.check_p_sample, "No noise was added: for t_index > 0")
    assert "at t_index 1" not in message


def test_p_sample_beta_variance_is_a_valid_alternative(monkeypatch):
    # sigma_t^2 = beta_t: Ho et al. (Section 3.2) found it works as well as the posterior variance
    monkeypatch.setattr(sampling, "p_sample", _p_sample_with(sigma=lambda s: s.betas.sqrt()))
    message = fails_with(
        checks.check_p_sample, "valid alternative, but not what this exercise asks", "sqrt(beta_t)", "Section 3.2"
    )
    assert "is wrong" not in message and "no credit" in message


def test_p_sample_variant_passes(monkeypatch):
    monkeypatch.setattr(sampling, "p_sample", _p_sample_with())
    checks.check_p_sample()


def _p_sample_loop_with(indices, chain=True, return_x_T=False):
    @torch.no_grad()
    def p_sample_loop(model, schedule, shape, clip_denoised=False, return_all=False, progress=True, generator=None):
        img = torch.randn(shape, generator=generator)
        start = img
        images = [img]
        for t_index in indices(schedule.timesteps):
            t = torch.full((shape[0],), t_index, dtype=torch.long)
            out = sampling.p_sample(model, schedule, img if chain else start, t, t_index, clip_denoised=clip_denoised)
            img = out
            images.append(img)
        if return_x_T:
            return start
        return images if return_all else img

    return p_sample_loop


LOOP_MISTAKES = {
    "stops_at_1": (_p_sample_loop_with(lambda T: range(T - 1, 0, -1)), "must go down to t_index 0"),
    "forwards": (_p_sample_loop_with(lambda T: range(T)), "runs forwards"),
    "not_chained": (_p_sample_loop_with(lambda T: reversed(range(T)), chain=False), "feed each step's result"),
    "returns_x_T": (_p_sample_loop_with(lambda T: reversed(range(T)), return_x_T=True), "return x_0"),
}


@pytest.mark.parametrize("mistake", LOOP_MISTAKES)
def test_p_sample_loop_mistakes(mistake, monkeypatch):
    wrong, hint = LOOP_MISTAKES[mistake]
    monkeypatch.setattr(sampling, "p_sample_loop", wrong)
    fails_with(checks.check_p_sample_loop, hint)


def test_p_sample_loop_variant_passes(monkeypatch):
    monkeypatch.setattr(sampling, "p_sample_loop", _p_sample_loop_with(lambda T: reversed(range(T))))
    checks.check_p_sample_loop()


# --------------------------------------------------------------------------- 05 the likelihood (vlb_term)


BITS = 1 / math.log(2)


def _vlb_term_with(log=torch.log, log_sign=1.0, to_bits=BITS, reduce="mean", std=False, dtype=None):
    """vlb_term written out here, with one slip at a time."""

    def vlb_term(model, schedule, x_0, t, noise=None, variance="posterior"):
        x_t = forward.q_sample(schedule, x_0, t, noise=noise)
        m_q, v_q = posterior.q_posterior(schedule, x_0, x_t, t)
        eps = model(x_t, t)
        coef = extract(schedule.betas, t, x_t.shape) / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape)
        m_p = extract(schedule.sqrt_recip_alphas, t, x_t.shape) * (x_t - coef * eps)
        v_p = v_q if variance == "posterior" else extract(schedule.betas, t, x_t.shape)
        if std:
            v_p = v_p.sqrt()
        kl = 0.5 * (log_sign * log(v_p / v_q) + (v_q + (m_q - m_p) ** 2) / v_p - 1)
        per_image = kl.mean() if reduce == "batch" else kl.flatten(1).mean(1)
        out = per_image * to_bits
        return out.to(dtype) if dtype is not None else out

    return vlb_term


VLB_MISTAKES = {
    # issue 21: each of these was caught, but not named
    "log_sign": (_vlb_term_with(log_sign=-1.0), ["log term has the wrong sign", "never negative"]),
    "log10": (_vlb_term_with(log=torch.log10), ["uses log10", "natural logarithm"]),
    "times_ln2": (_vlb_term_with(to_bits=math.log(2)), ["multiplied by ln 2"]),
    "batch_averaged": (_vlb_term_with(reduce="batch"), ["averaged over the batch", "one KL per image"]),
    "variance_as_std": (_vlb_term_with(std=True), ["used as a standard deviation"]),
    # not caught before: a float64 result, which breaks training later
    "float64": (_vlb_term_with(dtype=torch.float64), ["torch.float64", "return float32"]),
}


@pytest.mark.parametrize("mistake", VLB_MISTAKES)
def test_vlb_term_mistakes(mistake, monkeypatch):
    from solutions import likelihood

    wrong, hints = VLB_MISTAKES[mistake]
    monkeypatch.setattr(likelihood, "vlb_term", wrong)
    message = fails_with(checks.check_vlb_term, *hints)
    assert "largest difference" not in message


def test_vlb_term_variant_passes(monkeypatch):
    from solutions import likelihood

    monkeypatch.setattr(likelihood, "vlb_term", _vlb_term_with())
    checks.check_vlb_term()


def test_vlb_term_negative_terms_are_pointed_out_even_unnamed(monkeypatch):
    from solutions import likelihood

    monkeypatch.setattr(likelihood, "vlb_term", lambda *args, **kwargs: _vlb_term_with()(*args, **kwargs) - 2.0)
    message = fails_with(checks.check_vlb_term, "is wrong", "never negative")
    assert "known mistake" not in message


# --------------------------------------------------------------------------- 08 DDIM (bonus)


def _ddim_step_with(cumprod=lambda s: s.alphas_cumprod, clamp=True, rederive=True, noise=True, eta_factor=True,
                    eta_used=True, sigma_root=True, jump=True, sigma_power=2, direction="prev", x0_power=0.5,
                    noise_power=1):  # fmt: skip
    """ddim_step written out here, with one slip at a time."""

    @torch.no_grad()
    def ddim_step(model, schedule, x_t, t, t_prev, eta=0.0, clip_denoised=True):
        eps = model(x_t, t)
        abar = extract(cumprod(schedule), t, x_t.shape)
        abar_prev = extract(cumprod(schedule), torch.full_like(t, t_prev), x_t.shape) if t_prev >= 0 else torch.ones_like(abar)
        x0 = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
        if clip_denoised and clamp:
            x0 = x0.clamp(-1, 1)
            if rederive:
                eps = (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()
        ratio = (1 - abar / abar_prev) if jump else extract(schedule.betas, t, x_t.shape)
        sigma = ((1 - abar_prev) / (1 - abar)).sqrt() * (ratio.sqrt() if sigma_root else ratio)
        sigma = sigma * (eta if eta_factor else 1.0) * (1.0 if eta_used else 0.0)
        if direction == "prev":
            scale = (1 - abar_prev - sigma**sigma_power).clamp(min=0).sqrt()
        else:
            scale = {"no_sigma": (1 - abar_prev).sqrt(), "abar": (1 - abar).sqrt()}[direction]
        out = abar_prev**x0_power * x0 + scale * eps
        return out + sigma**noise_power * torch.randn_like(x_t) if eta > 0 and noise else out

    return ddim_step


DDIM_MISTAKES = {
    "no_clip": (_ddim_step_with(clamp=False), "clamp x0_hat"),
    "no_noise": (_ddim_step_with(noise=False), "add sigma * z"),
    # issue 21: each of these was caught, but not named
    "no_rederive": (_ddim_step_with(rederive=False), "eps was not re-derived after clipping"),
    "eta_missing": (_ddim_step_with(eta_factor=False), "sigma lacks the factor eta"),
    "eta_ignored": (_ddim_step_with(eta_used=False), "eta was ignored"),
    "sigma_no_sqrt": (_ddim_step_with(sigma_root=False), "second factor lacks its square root"),
    "beta_for_jump": (_ddim_step_with(jump=False), "sigma uses beta_t"),
    "sigma_for_sigma2": (_ddim_step_with(sigma_power=1), "subtracts sigma where it should subtract sigma^2"),
    "direction_no_sigma": (_ddim_step_with(direction="no_sigma"), "direction term ignores sigma"),
    "direction_abar": (_ddim_step_with(direction="abar"), "uses the current abar_t"),
    "x0_variance": (_ddim_step_with(x0_power=1.0), "scaled by abar_prev"),
    "noise_variance": (_ddim_step_with(noise_power=2), "noise term is sigma * z, not sigma^2 * z"),
}


@pytest.mark.parametrize("mistake", DDIM_MISTAKES)
def test_ddim_mistakes(mistake, monkeypatch):
    wrong, hint = DDIM_MISTAKES[mistake]
    monkeypatch.setattr(ddim, "ddim_step", wrong)
    fails_with(checks.check_ddim_step, hint)


def test_ddim_alphas_for_alphas_cumprod_is_caught(monkeypatch):
    # abar comes from the provided code above the solution region; rewritten with alphas it is still wrong
    monkeypatch.setattr(ddim, "ddim_step", _ddim_step_with(cumprod=lambda s: s.alphas))
    fails_with(checks.check_ddim_step, "is wrong")


def test_ddim_variant_passes(monkeypatch):
    monkeypatch.setattr(ddim, "ddim_step", _ddim_step_with())
    checks.check_ddim_step()


def test_ddim_with_eta_1_matches_ddpm_noise():
    schedule = checks.frozen_schedule()
    assert abs(checks.EXPECTED.DDIM["eta_1"][1] - float(schedule.posterior_variance[6].sqrt())) < 1e-6


# --------------------------------------------------------------------------- 10 classifier-free guidance (bonus)


def _p_losses_cfg_with(null=lambda model: model.num_classes, use_mask=True, draw=None):
    """p_losses_cfg written out here, with one slip at a time; ``draw(B, p)``: how the mask is drawn."""
    from solutions import guidance

    def p_losses_cfg(model, schedule, x_0, t, labels, p_uncond=0.1, noise=None, drop_mask=None):
        noise = torch.randn_like(x_0) if noise is None else noise
        if drop_mask is None or not use_mask:
            drop_mask = draw(len(labels), p_uncond) if draw else torch.rand(len(labels)) < p_uncond
        labels = labels.masked_fill(drop_mask, null(model))
        x_t = guidance.q_sample(schedule, x_0, t, noise=noise)
        return F.mse_loss(model(x_t, t, labels), noise)

    return p_losses_cfg


CFG_MISTAKES = {
    # issue 21: both read "No label was dropped"
    "null_is_last_class": (_p_losses_cfg_with(null=lambda model: model.num_classes - 1), "num_classes - 1, the last real class"),
    "mask_ignored": (_p_losses_cfg_with(use_mask=False), "drop_mask was ignored"),
    # issue 21: not caught (the share of dropped labels is right)
    "first_labels": (_p_losses_cfg_with(draw=lambda n, p: torch.arange(n) < round(p * n)), "first p_uncond * B labels"),
}


@pytest.mark.parametrize("mistake", CFG_MISTAKES)
def test_p_losses_cfg_mistakes(mistake, monkeypatch):
    from solutions import guidance

    wrong, hint = CFG_MISTAKES[mistake]
    monkeypatch.setattr(guidance, "p_losses_cfg", wrong)
    message = fails_with(checks.check_p_losses_cfg, hint)
    assert "No label was dropped" not in message


def test_p_losses_cfg_fixed_generator_is_not_random(monkeypatch):
    from solutions import guidance

    fixed = lambda n, p: torch.rand(n, generator=torch.Generator().manual_seed(0)) < p  # noqa: E731
    monkeypatch.setattr(guidance, "p_losses_cfg", _p_losses_cfg_with(draw=fixed))
    message = fails_with(checks.check_p_losses_cfg, "not random", "the same labels")
    assert "first p_uncond" not in message


def test_p_losses_cfg_variant_passes(monkeypatch):
    from solutions import guidance

    monkeypatch.setattr(guidance, "p_losses_cfg", _p_losses_cfg_with())
    checks.check_p_losses_cfg()


def _p_sample_guided_with(mix):
    """p_sample_guided written out here, with ``mix(eps_c, eps_u, w)`` for the guided estimate."""
    from solutions import guidance

    @torch.no_grad()
    def p_sample_guided(model, schedule, x_t, t, t_index, labels, w, clip_denoised=False):
        eps_c, eps_u = model(x_t, t, labels), model(x_t, t, None)
        eps = mix(eps_c, eps_u, w)
        return guidance.p_sample(lambda x, s: eps, schedule, x_t, t, t_index, clip_denoised=clip_denoised)

    return p_sample_guided


GUIDED_MISTAKES = {
    # issue 21: caught, not named
    "uncond_added": (lambda c, u, w: (1 + w) * c + w * u, "unconditional estimate is added"),
    # issue 21: named "the other convention" (both agree at w = 0, the first case)
    "weights_swapped": (lambda c, u, w: (1 + w) * u - w * c, "two estimates are swapped"),
    "scale_convention": (lambda c, u, w: u + w * (c - u), "other convention"),
}


@pytest.mark.parametrize("mistake", GUIDED_MISTAKES)
def test_p_sample_guided_mistakes(mistake, monkeypatch):
    from solutions import guidance

    mix, hint = GUIDED_MISTAKES[mistake]
    monkeypatch.setattr(guidance, "p_sample_guided", _p_sample_guided_with(mix))
    message = fails_with(checks.check_p_sample_guided, hint)
    if mistake != "scale_convention":
        assert "other convention" not in message


def test_p_sample_guided_variant_passes(monkeypatch):
    from solutions import guidance

    monkeypatch.setattr(guidance, "p_sample_guided", _p_sample_guided_with(lambda c, u, w: (1 + w) * c - w * u))
    checks.check_p_sample_guided()


def test_p_sample_guided_with_a_wrong_p_sample_blames_p_sample(monkeypatch):
    from solutions import guidance

    wrong = _p_sample_with(sigma=lambda s: s.posterior_variance)
    monkeypatch.setattr(sampling, "p_sample", wrong)
    monkeypatch.setattr(guidance, "p_sample", wrong)
    fails_with(checks.check_p_sample_guided, "calls your p_sample, which fails its own check")
