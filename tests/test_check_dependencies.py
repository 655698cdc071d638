"""Dependencies first (issue 21): one mistake is reported once, where it is. When an exercise's self-check
fails and an exercise it calls fails its own check, the message names that one ("p_losses calls your
q_sample, which fails its own check: fix q_sample first") instead of calling the caller wrong; when the
callee is right, the caller's own mistake is still reported as before.
"""

import pytest
import torch

from solutions import checks, forward, guidance, likelihood, losses, posterior, sampling, schedules
from solutions.schedules import extract


def wrong_q_sample(schedule, x_0, t, noise=None):
    """A student's q_sample with the noise scaled by the variance (1 - abar_t) instead of its root."""
    noise = torch.randn_like(x_0) if noise is None else noise
    abar = extract(schedule.alphas_cumprod, t, x_0.shape)
    return abar.sqrt() * x_0 + (1 - abar) * noise


def wrong_extract(a, t, x_shape):
    """A student's extract one index late (a[t + 1])."""
    return extract(a, (t + 1).clamp(max=len(a) - 1), x_shape)


def message_of(check):
    with pytest.raises(AssertionError) as info:
        check()
    return str(info.value)


@pytest.mark.parametrize(
    ("check", "calls"),
    [(checks.check_p_losses, "p_losses"), (checks.check_vlb_term, "vlb_term"), (checks.check_p_losses_cfg, "p_losses_cfg")],
)
def test_a_wrong_q_sample_is_reported_where_it_is(monkeypatch, check, calls):
    for module in (forward, losses, likelihood, guidance):  # a student's helpers/forward.py, as every module imports it
        monkeypatch.setattr(module, "q_sample", wrong_q_sample)
    message = message_of(check)
    assert message.startswith(f"{calls} calls your q_sample, which fails its own check: fix q_sample first"), message
    assert "is wrong." not in message and "largest difference" not in message
    assert "fix q_sample first" not in message_of(checks.check_q_sample)  # the callee's own check names the mistake


def test_a_wrong_extract_is_reported_by_p_sample_as_its_callee(monkeypatch):
    for module in (schedules, sampling, posterior):  # a student's helpers/schedules.py, as the modules import it
        monkeypatch.setattr(module, "extract", wrong_extract)
    assert "p_sample calls your extract, which fails its own check" in message_of(checks.check_p_sample)


def test_the_callers_own_mistake_is_still_named_when_its_callees_pass(monkeypatch):
    original = losses.p_losses

    def clean_input(model, schedule, x_0, t, noise=None, loss_type="l2"):  # the model sees x_0, not x_t
        return original(lambda x_t, steps: model(x_0, steps), schedule, x_0, t, noise=noise, loss_type=loss_type)

    monkeypatch.setattr(losses, "p_losses", clean_input)
    message = message_of(checks.check_p_losses)
    assert "calls your" not in message and "p_losses" in message


def test_dependencies_come_from_the_exercise_table():
    from solutions import checks_expected

    assert checks_expected.DEPENDS["p_losses"] == ["q_sample"]
    assert "q_posterior" in checks_expected.DEPENDS["p_sample"] and checks_expected.DEPENDS["p_sample_guided"] == ["p_sample"]
