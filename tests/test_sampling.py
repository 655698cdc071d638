"""The reverse process: p_sample against eq. 11 / eq. 7 and diffusers, p_sample_loop,
and the sampling pitfalls of §5."""

import pytest
import torch

from solutions import sampling
from solutions.sampling import p_sample, p_sample_loop, sample
from solutions.schedules import DiffusionSchedule, extract
from tests.conftest import LinearEps
from tests.test_schedules import float64_scheduler


def expected_step(model, schedule, x_t, t, t_index, noise):
    """Algorithm 2, line 4, from the raw betas in float64."""
    betas = schedule.betas.double()
    abar = torch.cumprod(1 - betas, 0)
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    beta, alpha = betas[t_index], 1 - betas[t_index]
    mean = (x_t - beta / (1 - abar[t_index]).sqrt() * model(x_t, t)) / alpha.sqrt()
    if t_index == 0:
        return mean
    sigma = (beta * (1 - abar_prev[t_index]) / (1 - abar[t_index])).sqrt()
    return mean + sigma * noise


def assert_p_sample(p_sample_fn, schedule, t_index, seed=5):
    model = LinearEps()
    x_t = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    t = torch.full((3,), t_index)
    torch.manual_seed(seed)
    noise = torch.randn_like(x_t)
    torch.manual_seed(seed)
    got = p_sample_fn(model, schedule, x_t, t, t_index)
    torch.testing.assert_close(got, expected_step(model, schedule, x_t, t, t_index, noise), rtol=1e-7, atol=1e-9)
    if t_index == 0:  # the last step is deterministic, whatever the random state
        torch.testing.assert_close(p_sample_fn(model, schedule, x_t, t, t_index), got)


def variance_as_std(model, schedule, x_t, t, t_index, clip_denoised=False):
    """Seed 000's mistake: posterior variance used as the noise scale."""
    eps = model(x_t, t)
    mean = extract(schedule.sqrt_recip_alphas, t, x_t.shape) * (
        x_t - extract(schedule.betas, t, x_t.shape) / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * eps
    )
    if t_index == 0:
        return mean
    return mean + extract(schedule.posterior_variance, t, x_t.shape) * torch.randn_like(x_t)


def recip_alpha(model, schedule, x_t, t, t_index, clip_denoised=False):
    """Seed 004's mistake: 1/alpha_t instead of 1/sqrt(alpha_t) in the mean."""
    eps = model(x_t, t)
    mean = extract(1 / schedule.alphas, t, x_t.shape) * (
        x_t - extract(schedule.betas, t, x_t.shape) / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * eps
    )
    if t_index == 0:
        return mean
    return mean + extract(schedule.posterior_variance.sqrt(), t, x_t.shape) * torch.randn_like(x_t)


def noise_at_zero(model, schedule, x_t, t, t_index, clip_denoised=False):
    """Noise added at the last step too (Algorithm 2 sets z = 0 at t = 1), here with scale sqrt(beta_1)."""
    mean = p_sample(model, schedule, x_t, t, 0)
    if t_index > 0:
        return p_sample(model, schedule, x_t, t, t_index)
    return mean + extract(schedule.betas.sqrt(), t, x_t.shape) * torch.randn_like(x_t)


def beta_noise(model, schedule, x_t, t, t_index, clip_denoised=False):
    """sqrt(beta_t) as the noise scale: valid in the paper, but not the posterior variance the contract asks for."""
    mean = p_sample(model, schedule, x_t, t, 0)
    if t_index == 0:
        return mean
    return mean + extract(schedule.betas.sqrt(), t, x_t.shape) * torch.randn_like(x_t)


@pytest.mark.parametrize("t_index", [0, 1, 10, 499])
def test_p_sample_matches_algorithm_2(t_index, schedule_name):
    schedule = DiffusionSchedule.from_name(schedule_name, 500)
    schedule = DiffusionSchedule(schedule.betas.double())
    assert_p_sample(p_sample, schedule, t_index)


@pytest.mark.parametrize(
    "mistake, t_index",
    [(variance_as_std, 10), (recip_alpha, 10), (recip_alpha, 0), (noise_at_zero, 0), (beta_noise, 10)],
)
def test_p_sample_pitfalls_are_caught(mistake, t_index):
    schedule = DiffusionSchedule(DiffusionSchedule.from_name("linear", 500).betas.double())
    with pytest.raises(AssertionError):
        assert_p_sample(mistake, schedule, t_index)


@pytest.mark.parametrize("t_index", [0, 3, 700, 999])
@pytest.mark.parametrize("name", ["linear", "squaredcos_cap_v2"])
def test_p_sample_agrees_with_diffusers(t_index, name):
    scheduler = float64_scheduler(beta_schedule=name)
    schedule = DiffusionSchedule(scheduler.betas)
    model = LinearEps()
    x_t = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    t = torch.full((2,), t_index)
    torch.manual_seed(11)
    ours = p_sample(model, schedule, x_t, t, t_index)
    theirs = scheduler.step(model(x_t, t), t_index, x_t, generator=torch.Generator().manual_seed(11)).prev_sample
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-8)


def test_clipped_mean_equals_eq11_when_nothing_is_clamped():
    """eq. 7 around x0_hat is eq. 11 rewritten: identical unless the clamp bites."""
    schedule = DiffusionSchedule(DiffusionSchedule.from_name("cosine", 200).betas.double())
    model = LinearEps()
    t_index = 50
    t = torch.full((2,), t_index)
    x_t = torch.randn(2, 1, 4, 4, dtype=torch.float64) * 0.1
    assert sampling.predict_x0(schedule, x_t, t, model(x_t, t)).abs().max() < 1
    torch.testing.assert_close(p_sample(model, schedule, x_t, t, 0), p_sample(model, schedule, x_t, t, 0, clip_denoised=True))
    x_far = x_t + 20
    assert sampling.predict_x0(schedule, x_far, t, model(x_far, t)).abs().max() > 1
    assert not torch.allclose(p_sample(model, schedule, x_far, t, 0), p_sample(model, schedule, x_far, t, 0, clip_denoised=True))


def test_predict_x0_inverts_q_sample():
    schedule = DiffusionSchedule(DiffusionSchedule.from_name("cosine", 100).betas.double())
    x_0 = torch.rand(4, 1, 3, 3, dtype=torch.float64) * 2 - 1
    noise = torch.randn_like(x_0)
    t = torch.tensor([0, 20, 60, 99])
    from solutions.forward import q_sample

    x_t = q_sample(schedule, x_0, t, noise)
    torch.testing.assert_close(sampling.predict_x0(schedule, x_t, t, noise), x_0)
    # the true posterior mean (eq. 7) from the true x_0 is what eq. 11 gives with the true noise
    torch.testing.assert_close(sampling.posterior_mean(schedule, x_t, t, x_0), p_sample(lambda x, s: noise, schedule, x_t, t, 0))


class BoundedOracle(torch.nn.Module):
    """The exact noise predictor for data concentrated at x0 = 0.5, squashed by tanh: like a trained
    network, its predictions stay in a bounded range even for inputs unlike its training data."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x, t):
        abar = extract(self.schedule.alphas_cumprod, t, x.shape)
        return torch.tanh((x - abar.sqrt() * 0.5) / (1 - abar).sqrt())


def test_unclipped_cosine_sampling_saturates_and_clipping_fixes_it():
    """§5: under the cosine schedule the last betas reach 0.999, so the unclipped mean multiplies
    the model's error by up to 1/sqrt(alpha_t) ~ 31.6 and samples blow up; clipping x0_hat does not."""
    schedule = DiffusionSchedule.from_name("cosine", 1000)
    model = BoundedOracle(schedule)
    torch.manual_seed(0)
    clipped = p_sample_loop(model, schedule, (8, 1, 6, 6), clip_denoised=True, progress=False)
    torch.manual_seed(0)
    unclipped = p_sample_loop(model, schedule, (8, 1, 6, 6), clip_denoised=False, progress=False)
    assert (clipped.abs() > 1).float().mean() < 0.01 and (clipped.mean() - 0.5).abs() < 0.2
    assert (unclipped.abs() > 1).float().mean() > 0.5


def test_training_generates_with_clipping_by_default():
    import inspect

    from solutions import training

    assert inspect.signature(training.generate).parameters["clip_denoised"].default is True


class Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, x, t):
        self.seen.append(t.tolist())
        return torch.zeros_like(x)


def test_p_sample_loop_visits_every_index_from_T_minus_1_to_0():
    schedule = DiffusionSchedule.from_name("cosine", 12)
    model = Recorder()
    out = p_sample_loop(model, schedule, (3, 1, 4, 4), progress=False)
    assert out.shape == (3, 1, 4, 4) and torch.isfinite(out).all()
    assert model.seen == [[i] * 3 for i in reversed(range(12))]
    frames = p_sample_loop(model, schedule, (3, 1, 4, 4), return_all=True, progress=False)
    assert len(frames) == 13 and all(f.shape == (3, 1, 4, 4) for f in frames)


def test_sample_returns_finite_images_of_the_right_shape():
    from solutions.unet import Unet

    model = Unet(dim=8, dim_mults=(1, 2), channels=3, resnet_block_groups=4)
    images = sample(model, DiffusionSchedule.from_name("cosine", 5), image_size=8, batch_size=2, channels=3, progress=False)
    assert images.shape == (2, 3, 8, 8) and torch.isfinite(images).all()
