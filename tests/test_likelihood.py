"""vlb_term (notebook 05): the reference's properties, its self-check's named mistakes, and its hidden test's tolerance."""

import math

import numpy as np
import pytest
import torch

from autograder.assignment.hidden_tests import common
from autograder.assignment.hidden_tests import likelihood as likelihood_tests
from autograder.sandbox.box import standins
from solutions import checks, forward, likelihood, posterior, schedules

from .test_checks import fails_with


def _batch(T=50, kind="cosine"):
    sched = schedules.DiffusionSchedule.from_name(kind, T)
    g = torch.Generator().manual_seed(0)
    x_0 = torch.rand((4, 1, 5, 5), generator=g) * 2 - 1
    noise = torch.randn(x_0.shape, generator=g)
    return sched, x_0, torch.tensor([1, 2, T // 2, T - 1]), noise


def test_a_perfect_eps_gives_zero_with_the_posterior_variance_and_the_variance_gap_with_beta():
    sched, x_0, t, noise = _batch()
    perfect = lambda x_t, steps: noise  # noqa: E731 - the noise that made x_t
    zero = likelihood.vlb_term(perfect, sched, x_0, t, noise=noise, variance="posterior")
    assert zero.shape == (4,) and zero.abs().max() < 1e-5
    gap = likelihood.vlb_term(perfect, sched, x_0, t, noise=noise, variance="beta")
    b, bt = sched.betas[t], sched.posterior_variance[t]
    assert torch.allclose(gap, 0.5 * (torch.log(b / bt) + bt / b - 1) / math.log(2), rtol=1e-4)
    assert bool((gap > 0).all()) and gap[0] > gap[-1]  # the variances differ most at small t


def test_a_wrong_eps_costs_bits_and_index_0_and_unknown_variances_are_refused():
    sched, x_0, t, noise = _batch()
    assert bool((likelihood.vlb_term(lambda x, s: 0 * x, sched, x_0, t, noise=noise) > 0).all())
    with pytest.raises(ValueError, match="discrete decoder"):
        likelihood.vlb_term(lambda x, s: x, sched, x_0, torch.tensor([0, 3, 4, 5]))
    with pytest.raises(ValueError, match="posterior"):
        likelihood.vlb_term(lambda x, s: x, sched, x_0, t, variance="learned")


def test_prior_term_and_vlb_terms_shapes():
    sched, x_0, _t, _noise = _batch(T=20)
    prior = likelihood.prior_term(sched, x_0)
    assert prior.shape == (4,) and bool((prior >= 0).all()) and prior.max() < 1e-3  # abar_T ~ 0 for the cosine schedule
    terms = likelihood.vlb_terms(lambda x, s: 0 * x, sched, x_0, generator=torch.Generator().manual_seed(1))
    assert terms.shape == (19, 4) and bool((terms >= 0).all())


def _vlb_with(mistake):
    """vlb_term with one known slip, written independently of the reference."""

    def wrong(model, schedule, x_0, t, noise=None, variance="posterior"):
        x_t = forward.q_sample(schedule, x_0, t, noise=noise)
        m_q, v_q = posterior.q_posterior(schedule, x_0, x_t, t)
        shape = x_t.shape
        eps = model(x_0 if mistake == "model_on_x0" else x_t, t)
        m_p = (x_t - schedules.extract(schedule.betas / schedule.sqrt_one_minus_alphas_cumprod, t, shape) * eps) / (
            schedules.extract(schedule.alphas, t, shape).sqrt()
        )
        v_p = v_q if variance == "posterior" or mistake == "posterior_for_beta" else schedules.extract(schedule.betas, t, shape)
        if mistake == "variance_as_std":
            v_p = v_p.sqrt()
        if mistake == "swapped":
            m_q, v_q, m_p, v_p = m_p, v_p, m_q, v_q
        kl = 0.5 * (torch.log(v_p / v_q) + (v_q + (m_q - m_p) ** 2) / v_p - 1)
        per_image = kl.flatten(1).sum(1) if mistake == "sum_dims" else kl.flatten(1).mean(1)
        return per_image if mistake == "nats" else per_image / math.log(2)

    return wrong


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("nats", "divide by ln 2"),
        ("sum_dims", "summed over the dimensions"),
        ("swapped", "arguments are swapped"),
        ("variance_as_std", "used as a standard deviation"),
        ("model_on_x0", "model(x_t, t)"),
        ("posterior_for_beta", "sigma_t^2 = beta_t"),
    ],
)
def test_check_vlb_term_names_the_mistake(monkeypatch, mistake, hint):
    monkeypatch.setattr(likelihood, "vlb_term", _vlb_with(mistake))
    fails_with(checks.check_vlb_term, hint)


def test_check_vlb_term_passes_an_independent_correct_version(monkeypatch, capsys):
    monkeypatch.setattr(likelihood, "vlb_term", _vlb_with(None))
    checks.check_vlb_term()
    assert "vlb_term: all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 1])
def test_hidden_test_accepts_other_float32_arrangements_and_rejects_the_mistakes(seed):
    inputs = likelihood_tests.make_vlb_term(np.random.default_rng(seed))
    reference = likelihood_tests.ref_vlb_term(inputs)

    def outputs(function):
        out = {}
        for case in common.cases_of(inputs):
            ci = common.case_inputs(inputs, case)
            model = standins.StandInModel(ci["x_0"].shape[1])
            args = (model, common.schedule_from(ci), torch.tensor(ci["x_0"]), torch.tensor(ci["t"]))
            out[f"{case}/out"] = common.as_numpy(function(*args, noise=torch.tensor(ci["noise"]), variance=str(ci["variance"])))
        return out

    check = common.all_cases_check()
    assert check(inputs, reference, outputs(likelihood.vlb_term)) == (True, "")
    assert check(inputs, reference, outputs(_vlb_with(None)))[0]  # eq. 11 through alphas.sqrt(), means subtracted last
    for mistake in ("nats", "sum_dims", "swapped", "variance_as_std", "model_on_x0", "posterior_for_beta"):
        assert not check(inputs, reference, outputs(_vlb_with(mistake)))[0], mistake
