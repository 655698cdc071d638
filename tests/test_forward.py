"""q_sample and p_losses: closed forms, statistics and the §5 pitfalls."""

import pytest
import torch
import torch.nn.functional as F

from solutions.forward import q_sample, q_sample_chain
from solutions.losses import p_losses
from solutions.schedules import DiffusionSchedule, cosine_beta_schedule, extract


def assert_q_sample(q_sample_fn, schedule):
    """Elementwise against the float64 closed form of eq. 4, on random t including 0 and T-1."""
    x_0 = torch.rand(6, 2, 5, 5, dtype=torch.float64) * 2 - 1
    noise = torch.randn_like(x_0)
    t = torch.tensor([0, schedule.timesteps - 1, 1, 17, 500, 999])
    abar = torch.cumprod(1 - schedule.betas.double(), 0)[t][:, None, None, None]
    expected = abar.sqrt() * x_0 + (1 - abar).sqrt() * noise
    torch.testing.assert_close(q_sample_fn(schedule, x_0, t, noise=noise), expected, rtol=1e-7, atol=1e-9)


def q_sample_variance_for_std(schedule, x_0, t, noise=None):
    """Seed 004's mistake: (1 - abar) instead of sqrt(1 - abar) on the noise."""
    return extract(schedule.sqrt_alphas_cumprod, t, x_0.shape) * x_0 + extract(1 - schedule.alphas_cumprod, t, x_0.shape) * noise


def q_sample_alphas(schedule, x_0, t, noise=None):
    """alphas instead of alphas_cumprod."""
    return extract(schedule.alphas.sqrt(), t, x_0.shape) * x_0 + extract((1 - schedule.alphas).sqrt(), t, x_0.shape) * noise


def q_sample_one_based(schedule, x_0, t, noise=None):
    """Paper step used as an index: one step too far (clamped so it runs)."""
    return q_sample(schedule, x_0, (t + 1).clamp(max=schedule.timesteps - 1), noise=noise)


def test_q_sample_matches_eq4(schedule64):
    assert_q_sample(q_sample, schedule64)


@pytest.mark.parametrize("mistake", [q_sample_variance_for_std, q_sample_alphas, q_sample_one_based])
def test_q_sample_pitfalls_are_caught(mistake, schedule64):
    with pytest.raises(AssertionError):
        assert_q_sample(mistake, schedule64)


def test_q_sample_draws_noise_when_none_given():
    schedule = DiffusionSchedule.from_name("linear", 10)
    x_0 = torch.zeros(2, 1, 4, 4)
    torch.manual_seed(3)
    a = q_sample(schedule, x_0, torch.tensor([5, 5]))
    torch.manual_seed(3)
    b = q_sample(schedule, x_0, torch.tensor([5, 5]), noise=torch.randn_like(x_0))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="noise shape"):
        q_sample(schedule, x_0, torch.tensor([5, 5]), noise=torch.randn(2, 1, 4, 3))


def test_q_sample_at_last_step_is_standard_normal(schedule_name):
    """x_T of a T=1000 schedule is N(0, I) whatever x_0 is: the start of sampling."""
    schedule = DiffusionSchedule.from_name(schedule_name, 1000)
    x_0 = torch.ones(4000, 1, 4, 4) * 0.8
    x_T = q_sample(schedule, x_0, torch.full((4000,), 999))
    assert abs(x_T.mean().item()) < 0.02
    assert x_T.std().item() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("t_stop", [0, 9, 49])
def test_step_by_step_chain_matches_closed_form_in_distribution(t_stop):
    """Running eq. 2 step by step gives the distribution eq. 4 gives in one shot."""
    schedule = DiffusionSchedule(cosine_beta_schedule(50).double())
    x_0 = torch.linspace(-1, 1, 8, dtype=torch.float64).repeat(20000, 1)
    generator = torch.Generator().manual_seed(1)
    chain = q_sample_chain(schedule, x_0, t_stop, generator=generator)
    closed = q_sample(schedule, x_0, torch.full((20000,), t_stop))
    abar = schedule.alphas_cumprod[t_stop]
    for samples in (chain, closed):
        torch.testing.assert_close(samples.mean(0), abar.sqrt() * x_0[0], atol=0.03, rtol=0)
        torch.testing.assert_close(samples.std(0), (1 - abar).sqrt().expand(8), atol=0.02, rtol=0)


# --- p_losses ----------------------------------------------------------------


class Echo(torch.nn.Module):
    """Predicts eps as a fixed function of (x_t, t), so the loss has a closed form."""

    def forward(self, x, t):
        return 0.5 * x + 0.01 * t[:, None, None, None].float()


@pytest.mark.parametrize("loss_type, fn", [("l2", F.mse_loss), ("l1", F.l1_loss), ("huber", F.smooth_l1_loss)])
def test_p_losses_compares_noise_with_prediction(loss_type, fn):
    schedule = DiffusionSchedule.from_name("cosine", 100)
    x_0 = torch.rand(4, 1, 6, 6) * 2 - 1
    noise = torch.randn_like(x_0) * 3  # large, so huber and l2 differ
    t = torch.tensor([0, 10, 50, 99])
    x_t = (
        schedule.sqrt_alphas_cumprod[t][:, None, None, None] * x_0
        + schedule.sqrt_one_minus_alphas_cumprod[t][:, None, None, None] * noise
    )
    expected = fn(Echo()(x_t, t), noise)
    loss = p_losses(Echo(), schedule, x_0, t, noise=noise, loss_type=loss_type)
    assert loss.ndim == 0
    torch.testing.assert_close(loss, expected)


def test_p_losses_default_is_the_papers_l2():
    schedule = DiffusionSchedule.from_name("linear", 10)
    x_0, noise, t = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2), torch.tensor([1, 2])
    assert p_losses(Echo(), schedule, x_0, t, noise=noise) == p_losses(Echo(), schedule, x_0, t, noise=noise, loss_type="l2")


def test_p_losses_rejects_unknown_loss_type():
    schedule = DiffusionSchedule.from_name("linear", 10)
    with pytest.raises(ValueError, match="'l1', 'l2', 'huber'"):
        p_losses(Echo(), schedule, torch.zeros(1, 1, 2, 2), torch.tensor([0]), loss_type="mse")


def test_p_losses_backpropagates_into_the_model():
    model = torch.nn.Conv2d(1, 1, 3, padding=1)
    schedule = DiffusionSchedule.from_name("cosine", 20)
    p_losses(lambda x, t: model(x), schedule, torch.rand(3, 1, 8, 8), torch.tensor([0, 5, 19])).backward()
    assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0
