"""Schedules and their constants against independent computations (float64 closed
forms, diffusers' DDPMScheduler) and against the contract §5 pitfalls."""

import math

import pytest
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler

from solutions.schedules import (
    DiffusionSchedule,
    cosine_beta_schedule,
    extract,
    linear_beta_schedule,
    quadratic_beta_schedule,
    sigmoid_beta_schedule,
)


def cosine_abar_closed_form(T, s=0.008):
    """abar at paper steps 1..T from Nichol & Dhariwal eq. 17, in Python floats (float64)."""
    f = [math.cos(((t / T) + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    return torch.tensor([f[t] / f[0] for t in range(1, T + 1)], dtype=torch.float64)


def assert_cosine_betas(betas, T):
    """What a correct cosine schedule must satisfy."""
    assert betas.shape == (T,) and betas.dtype == torch.float32
    abar = torch.cumprod(1 - betas.double(), 0)
    expected = cosine_abar_closed_form(T)
    unclipped = betas < 0.999
    torch.testing.assert_close(abar[unclipped], expected[unclipped], rtol=1e-5, atol=1e-7)
    assert betas.max().item() == pytest.approx(0.999, abs=1e-6), "betas must be clipped at 0.999, not lower"


def wrong_cosine_clipped_at_002(T, s=0.008):
    """Seed 000's mistake: the right formula, clipped to [1e-4, 0.02]."""
    return torch.clip(cosine_beta_schedule(T, s), 1e-4, 0.02)


def wrong_cosine_float32(T, s=0.008):
    t = torch.linspace(0, T, T + 1, dtype=torch.float32)
    f = torch.cos(((t / T) + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    return torch.clamp(1 - abar[1:] / abar[:-1], max=0.999)


def wrong_cosine_off_by_one(T, s=0.008):
    """Index shifted by one step: betas of paper steps 2..T+1."""
    return cosine_beta_schedule(T + 1, s)[1:]


@pytest.mark.parametrize("T", [10, 50, 1000])
def test_cosine_matches_eq17(T):
    assert_cosine_betas(cosine_beta_schedule(T), T)


@pytest.mark.parametrize("mistake", [wrong_cosine_clipped_at_002, wrong_cosine_off_by_one])
def test_cosine_pitfalls_are_caught(mistake):
    with pytest.raises(AssertionError):
        assert_cosine_betas(mistake(1000), 1000)


def test_cosine_float32_loses_precision_at_small_t():
    """The reason the reference works in float64: beta_1 is ~4e-5 and float32 cancellation spoils it."""
    exact = 1 - cosine_abar_closed_form(1000)[0]
    assert abs(cosine_beta_schedule(1000)[0].double() - exact) / exact < 1e-5
    assert abs(wrong_cosine_float32(1000)[0].double() - exact) / exact > 1e-5


def test_linear_schedule_is_the_papers():
    betas = linear_beta_schedule(1000)
    assert betas.dtype == torch.float32 and betas.shape == (1000,)
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    torch.testing.assert_close(betas[1:] - betas[:-1], torch.full((999,), (0.02 - 1e-4) / 999), rtol=0, atol=1e-7)


def float64_scheduler(**kwargs):
    """diffusers' DDPMScheduler with its tensors in float64 (it builds them in float32)."""
    scheduler = DDPMScheduler(num_train_timesteps=1000, variance_type="fixed_small", clip_sample=False, **kwargs)
    scheduler.betas = scheduler.betas.double()
    scheduler.alphas = 1.0 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, 0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    return scheduler


@pytest.mark.parametrize("name", ["linear", "squaredcos_cap_v2"])
def test_betas_and_constants_agree_with_diffusers(name):
    ours = linear_beta_schedule(1000) if name == "linear" else cosine_beta_schedule(1000)
    theirs = float64_scheduler(beta_schedule=name)
    torch.testing.assert_close(ours.double(), theirs.betas.double(), rtol=1e-6, atol=1e-9)
    schedule = DiffusionSchedule(ours.double())
    reference = DiffusionSchedule(theirs.betas.double())
    torch.testing.assert_close(schedule.alphas_cumprod, torch.cumprod(1 - theirs.betas.double(), 0), rtol=1e-6, atol=1e-9)
    # diffusers' fixed_small variance at paper step t is beta~_t (index t) with its own formula
    variances = torch.stack([theirs._get_variance(t) for t in range(1, 1000)]).double()
    torch.testing.assert_close(schedule.posterior_variance[1:], variances, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(schedule.posterior_variance, reference.posterior_variance)


@pytest.mark.parametrize("schedule_fn", [quadratic_beta_schedule, sigmoid_beta_schedule])
def test_extra_schedules_span_the_linear_range(schedule_fn):
    betas = schedule_fn(100)
    assert betas.shape == (100,) and betas.dtype == torch.float32
    assert bool((betas[1:] >= betas[:-1]).all())
    assert 1e-4 * (1 - 1e-5) <= betas.min().item() and betas.max().item() <= 0.02 * (1 + 1e-5)
    assert betas[-1].item() == pytest.approx(0.02, rel=0.01)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_schedules_reject_bad_timesteps(bad):
    for schedule_fn in (linear_beta_schedule, cosine_beta_schedule):
        with pytest.raises(ValueError, match="positive int"):
            schedule_fn(bad)


# --- DiffusionSchedule -------------------------------------------------------


def recompute_constants(betas):
    """Each constant from its definition, one element at a time, in float64."""
    betas = [float(b) for b in betas]
    abar, running = [], 1.0
    for beta in betas:
        running *= 1 - beta
        abar.append(running)
    prev = [1.0, *abar[:-1]]
    return {
        "alphas": [1 - b for b in betas],
        "alphas_cumprod": abar,
        "alphas_cumprod_prev": prev,
        "sqrt_recip_alphas": [1 / math.sqrt(1 - b) for b in betas],
        "sqrt_alphas_cumprod": [math.sqrt(a) for a in abar],
        "sqrt_one_minus_alphas_cumprod": [math.sqrt(1 - a) for a in abar],
        "posterior_variance": [b * (1 - p) / (1 - a) for b, p, a in zip(betas, prev, abar)],
    }


def assert_constants(schedule, rtol=1e-6):
    for name, values in recompute_constants(schedule.betas).items():
        torch.testing.assert_close(
            getattr(schedule, name).double(), torch.tensor(values, dtype=torch.float64), rtol=rtol, atol=1e-9, msg=name
        )


class NoSqrtRecip(DiffusionSchedule):
    def __init__(self, betas):
        super().__init__(betas)
        self.sqrt_recip_alphas = 1.0 / self.alphas  # 1/alpha_t instead of 1/sqrt(alpha_t)


class PrevWithoutOne(DiffusionSchedule):
    def __init__(self, betas):
        super().__init__(betas)
        self.alphas_cumprod_prev = F.pad(self.alphas_cumprod[:-1], (1, 0), value=0.0)


class AlphasForCumprod(DiffusionSchedule):
    def __init__(self, betas):
        super().__init__(betas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas)  # alphas instead of alphas_cumprod
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1 - self.alphas)


class PosteriorStdStored(DiffusionSchedule):
    def __init__(self, betas):
        super().__init__(betas)
        self.posterior_variance = torch.sqrt(self.posterior_variance)


@pytest.mark.parametrize("name", ["linear", "cosine", "quadratic", "sigmoid"])
def test_constants_match_definitions(name):
    schedule = DiffusionSchedule.from_name(name, 300)
    assert_constants(DiffusionSchedule(schedule.betas.double()))
    assert schedule.posterior_variance.dtype == torch.float32
    assert_constants(schedule, rtol=2e-3)  # float32: 1 - abar loses digits when abar is near 1


@pytest.mark.parametrize("mistake", [NoSqrtRecip, PrevWithoutOne, AlphasForCumprod, PosteriorStdStored])
def test_constant_pitfalls_are_caught(mistake):
    with pytest.raises(AssertionError):
        assert_constants(mistake(linear_beta_schedule(100)))


def test_index_convention():
    """Index 0 is paper step 1: abar_prev starts at 1, the posterior variance at index 0 is 0
    (x_0 is known exactly given x_1 and x_0), and abar at index T-1 is the paper's abar_T."""
    schedule = DiffusionSchedule(linear_beta_schedule(1000).double())
    assert schedule.alphas_cumprod_prev[0].item() == 1.0
    assert schedule.posterior_variance[0].item() == 0.0
    assert schedule.alphas_cumprod[0].item() == pytest.approx(1 - 1e-4)
    assert schedule.alphas_cumprod[-1].item() == pytest.approx(
        math.prod(1 - b for b in linear_beta_schedule(1000).double().tolist())
    )
    torch.testing.assert_close(schedule.alphas_cumprod_prev[1:], schedule.alphas_cumprod[:-1])


@pytest.mark.parametrize("T, expected", [(200, 0.13), (300, 0.05)])
def test_short_linear_schedule_leaves_signal_at_T(T, expected):
    """The §5 pitfall: 1e-4..0.02 over a short T leaves abar_T far from 0, so x_T is not N(0, I)."""
    short = DiffusionSchedule(linear_beta_schedule(T))
    assert short.alphas_cumprod[-1].item() == pytest.approx(expected, abs=0.01)
    assert not short.reaches_noise()
    assert DiffusionSchedule(cosine_beta_schedule(T)).reaches_noise()
    assert DiffusionSchedule(linear_beta_schedule(1000)).reaches_noise()


def test_schedule_rejects_bad_betas():
    with pytest.raises(ValueError, match="1-D"):
        DiffusionSchedule(torch.ones(2, 3) * 0.1)
    with pytest.raises(TypeError, match="float"):
        DiffusionSchedule(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        DiffusionSchedule(torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError, match="unknown schedule"):
        DiffusionSchedule.from_name("cosin", 10)


def test_schedule_to_moves_every_constant():
    schedule = DiffusionSchedule.from_name("cosine", 10).to("meta")
    tensors = [value for value in vars(schedule).values() if torch.is_tensor(value)]
    assert len(tensors) == 8 and all(value.device.type == "meta" for value in tensors)


# --- extract -----------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(4, 1, 28, 28), (4, 3, 8, 8), (4, 5), (4, 2, 3, 4, 5)])
def test_extract_picks_and_reshapes(x_shape):
    a = torch.arange(10, dtype=torch.float32) * 1.5
    t = torch.tensor([0, 9, 3, 3])
    out = extract(a, t, x_shape)
    assert out.shape == (4,) + (1,) * (len(x_shape) - 1)
    assert out.flatten().tolist() == [0.0, 13.5, 4.5, 4.5]
    assert (out * torch.ones(x_shape)).shape == x_shape


def test_extract_rejects_bad_indices():
    a = torch.arange(5.0)
    with pytest.raises(IndexError, match="0 ... 4"):
        extract(a, torch.tensor([5]), (1, 1))  # index T: the off-by-one of 1-based code
    with pytest.raises(ValueError, match=r"\(B,\)"):
        extract(a, torch.tensor([[1]]), (1, 1))
    with pytest.raises(TypeError, match="integer"):
        extract(a, torch.tensor([1.0]), (1, 1))
