"""Notebook 10: the class-conditional U-Net, the guidance exercises, their self-checks and their grading wiring."""

import csv

import pytest
import torch

from autograder.assignment import exercises, mutants
from solutions import checks, guidance, training, unet
from solutions.schedules import DiffusionSchedule

SMALL = dict(dim=8, dim_mults=(1, 2), channels=1, resnet_block_groups=4)


# --------------------------------------------------------------------------- the U-Net


def test_unconditional_unet_is_unchanged():
    plain = unet.Unet(**SMALL)
    assert plain.num_classes is None and plain.class_emb is None
    assert not any("class_emb" in key for key in plain.state_dict())
    with pytest.raises(ValueError, match="unconditional"):
        plain(torch.randn(2, 1, 8, 8), torch.tensor([1, 2]), torch.tensor([0, 1]))


def test_conditional_unet_adds_one_embedding_row_per_class_plus_no_class():
    torch.manual_seed(0)
    plain, conditional = unet.Unet(**SMALL), unet.Unet(**SMALL, num_classes=10)
    time_dim = 4 * SMALL["dim"]
    extra = sum(p.numel() for p in conditional.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 11 * time_dim
    with torch.no_grad():  # a non-zero "no class" row, so the comparisons below mean something
        conditional.class_emb.weight.normal_()
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 5, 9])
    with torch.no_grad():
        none = conditional(x, t)
        token = conditional(x, t, torch.full((3,), 10))
        labelled = conditional(x, t, torch.tensor([1, 2, 3]))
    assert none.shape == x.shape
    torch.testing.assert_close(none, token)
    assert not torch.allclose(none, labelled)
    for bad in (torch.tensor([0, 11, 1]), torch.tensor([-1, 0, 1]), torch.tensor([0, 1])):
        with pytest.raises(ValueError, match="class_labels"):
            conditional(x, t, bad)


def test_conditional_training_and_guided_sampling_run():
    config = training.config_for("cpu", fast=True, conditional=True)
    config.max_steps = 3
    state = training.build_state(config, "cpu")
    images, labels = torch.rand(64, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (64,))
    training.train(state, images, labels=labels, progress=False)
    assert state.step == 3 and len(state.losses) == 3
    with pytest.raises(ValueError, match="labels"):
        training.train(state, images, progress=False, max_steps=4)
    for bad in (10, -1):  # 10 is the "no class" token: a data set's label never is
        with pytest.raises(ValueError, match=r"labels must lie in 0 \.\.\. 9"):
            training.train(state, images, labels=torch.cat([labels[:-1], torch.tensor([bad])]), progress=False, max_steps=4)
    assert state.step == 3
    out = guidance.sample_guided(state.ema.model, state.schedule, torch.arange(2), 3.0, progress=False)
    assert out.shape == (2, 1, 28, 28) and out.abs().max() <= 1.0 + 1e-6


def test_class_accuracy_counts_agreement(monkeypatch):
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 2]), 10).float()

    from solutions import evaluate

    monkeypatch.setattr(evaluate, "classifier", lambda **kwargs: Fixed())
    accuracy, predicted = guidance.class_accuracy(torch.zeros(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    assert accuracy == 0.75 and predicted.tolist() == [0, 1, 2, 2]


# --------------------------------------------------------------------------- the self-checks name the mistakes


def _mutated(mutant_id):
    """``solutions.guidance`` with one mutant of the exercise table applied, as a fresh module."""
    import types

    mutant = next(m for m in exercises.MUTANTS if m.id == mutant_id)
    source = mutants.apply(mutant, open(guidance.__file__).read())
    module = types.ModuleType("solutions.guidance_mutant")
    module.__package__ = "solutions"
    module.__file__ = guidance.__file__
    exec(compile(source, guidance.__file__, "exec"), module.__dict__)
    return getattr(module, mutant.exercise)


NAMED = {
    "cfg_mask_inverted": ("p_losses_cfg", "where drop_mask is False"),
    "cfg_p_inverted": ("p_losses_cfg", "dropout probability is inverted"),
    "cfg_no_dropout": ("p_losses_cfg", "No label was dropped"),
    "cfg_null_is_class_0": ("p_losses_cfg", "became class 0"),
    "cfg_target_x0": ("p_losses_cfg", "not x_0"),
    "cfg_model_on_x0": ("p_losses_cfg", "The model saw the clean x_0"),
    "cfg_null_is_last_class": ("p_losses_cfg", "model.num_classes - 1"),
    "cfg_mask_ignored": ("p_losses_cfg", "drop_mask was ignored"),
    "cfg_first_labels_dropped": ("p_losses_cfg", "not random"),
    "cfg_fresh_noise": ("p_losses_cfg", "only the random seed changed"),
    "guidance_weights_swapped": ("p_sample_guided", "two estimates are swapped"),
    "guidance_uncond_added": ("p_sample_guided", "unconditional estimate is added"),
    "guidance_sign_flipped": ("p_sample_guided", "sign is flipped"),
    "guidance_w_on_uncond": ("p_sample_guided", "eps(c) + w * eps(no class)"),
    "guidance_scale_convention": ("p_sample_guided", "other convention"),
    "guidance_uncond_real_label": ("p_sample_guided", "unconditional pass was given the real labels"),
    "guidance_dropout_at_sampling": ("p_sample_guided", "Label dropout applied at sampling time"),
    "guidance_conditional_only": ("p_sample_guided", "conditional estimate alone"),
}


@pytest.mark.parametrize("mutant_id", NAMED)
def test_self_check_names_the_mistake(mutant_id, monkeypatch):
    exercise, hint = NAMED[mutant_id]
    monkeypatch.setattr(guidance, exercise, _mutated(mutant_id))
    with pytest.raises(checks.CheckFailure) as failure:
        getattr(checks, f"check_{exercise}")()
    assert hint in str(failure.value)


def test_every_guidance_mutant_is_named_by_a_self_check():
    listed = {m.id for m in exercises.MUTANTS if m.module == "guidance"}
    assert listed == set(NAMED)


def test_batched_guidance_passes(monkeypatch):
    """One model call on both halves (labels, then the no-class token) is as correct as two calls."""

    def batched(model, schedule, x_t, t, t_index, labels, w, clip_denoised=False):
        both = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, guidance.null_labels(model, labels)]))
        eps_c, eps_u = both.chunk(2)
        eps = eps_u + (1 + w) * (eps_c - eps_u)
        return guidance.p_sample(guidance._Estimate(eps), schedule, x_t, t, t_index, clip_denoised=clip_denoised)

    monkeypatch.setattr(guidance, "p_sample_guided", batched)
    checks.check_p_sample_guided()


def test_bernoulli_dropout_passes(monkeypatch):
    """Any way of drawing the mask with probability p_uncond passes the check."""

    def bernoulli(model, schedule, x_0, t, labels, p_uncond=0.1, noise=None, drop_mask=None):
        noise = torch.randn_like(x_0) if noise is None else noise
        if drop_mask is None:
            drop_mask = torch.bernoulli(torch.full(labels.shape, float(p_uncond))).bool()
        labels = labels.masked_fill(drop_mask, model.num_classes)
        x_t = guidance.q_sample(schedule, x_0, t, noise=noise)
        return ((model(x_t, t, labels) - noise) ** 2).mean()

    monkeypatch.setattr(guidance, "p_losses_cfg", bernoulli)
    checks.check_p_losses_cfg()


def test_guided_step_with_w_0_is_the_conditional_step():
    schedule = DiffusionSchedule.from_name("cosine", 20)
    model = checks.ClassEpsNet()
    x_t, t, labels = torch.randn(2, 1, 4, 4), torch.full((2,), 7), torch.tensor([1, 2])
    torch.manual_seed(3)
    guided = guidance.p_sample_guided(model, schedule, x_t, t, 7, labels, 0.0)
    torch.manual_seed(3)
    plain = guidance.p_sample(lambda x, s: model(x, s, labels), schedule, x_t, t, 7)
    torch.testing.assert_close(guided, plain)


# --------------------------------------------------------------------------- grading


def test_guidance_exercises_are_bonus_columns_of_grades_csv(tmp_path):
    from autograder.reporting import grades_csv

    assert exercises.BONUS == ["ddim_step", "p_losses_cfg", "p_sample_guided"]
    assert "p_losses_cfg" not in exercises.REQUIRED and "p_sample_guided" not in exercises.REQUIRED
    # the CSV writer alone: its columns come from the exercise table
    (tmp_path / "grades.csv").write_text(grades_csv.grades_csv([], list(exercises.REQUIRED), list(exercises.BONUS)))
    header = next(csv.reader(open(tmp_path / "grades.csv")))
    assert header[-6:] == ["max_total", "ddim_step", "p_losses_cfg", "p_sample_guided", "adjustments", "flags"]
    assert exercises.MAX_TOTAL == sum(exercises.POINTS[e] for e in exercises.REQUIRED)


def test_reference_check_covers_guidance():
    from autograder.authoring import reference_check

    assert reference_check.check_p_losses_cfg() == []
    assert reference_check.check_p_sample_guided() == []
