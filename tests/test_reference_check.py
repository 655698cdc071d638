"""autograder.authoring.reference_check: the reference passes its independent checks, and realistic
mistakes in the reference are reported under the right name."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import reference_check
from autograder.authoring.reference_checks.closed_forms import diffusers_scheduler
from autograder.paths import ROOT
from solutions import forward

EXERCISES = [
    "cosine_beta_schedule", "DiffusionSchedule", "extract", "q_sample", "p_losses", "q_posterior",
    "SinusoidalPositionEmbeddings", "Block", "ResnetBlock", "p_sample", "p_sample_loop", "vlb_term", "ddim_step",
    "p_losses_cfg", "p_sample_guided",
]  # fmt: skip

# (id, module, text in solutions/<module>.py, its mistaken replacement, the name the report must carry)
MISTAKES = [
    ("cosine_no_square", "schedules",
     "f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2) ** 2",
     "f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2)",
     "solutions.schedules.cosine_beta_schedule"),
    ("posterior_abar_t", "schedules",
     "betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)",
     "betas * (1.0 - self.alphas_cumprod) / (1.0 - self.alphas_cumprod)",
     "solutions.schedules.DiffusionSchedule"),
    ("recip_alpha_no_sqrt", "schedules",
     "self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)",
     "self.sqrt_recip_alphas = 1.0 / self.alphas",
     "solutions.schedules.DiffusionSchedule"),
    ("embedding_cos_sin", "unet",
     "torch.cat((args.sin(), args.cos()), dim=-1)",
     "torch.cat((args.cos(), args.sin()), dim=-1)",
     "solutions.unet.SinusoidalPositionEmbeddings"),
    ("q_posterior_alpha_no_sqrt", "posterior",
     "coef_xt = torch.sqrt(alpha_t) *", "coef_xt = alpha_t *",
     "solutions.posterior.q_posterior"),
    ("q_posterior_variance_beta", "posterior",
     "variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)", "variance = beta_t",
     "solutions.posterior.q_posterior"),
    ("block_relu", "unet", "self.act = nn.SiLU()", "self.act = nn.ReLU()", "solutions.unet.Block"),
    ("resnet_no_residual", "unet", "return h + self.res_conv(x)", "return h", "solutions.unet.ResnetBlock"),
    ("variance_as_std", "sampling",
     "model_mean + torch.sqrt(posterior_variance_t) * torch.randn_like(x_t)",
     "model_mean + posterior_variance_t * torch.randn_like(x_t)",
     "solutions.sampling.p_sample"),
    ("noise_at_index_0", "sampling", "    if t_index == 0:\n        return model_mean\n", "", "solutions.sampling.p_sample"),
    ("ddim_sigma_no_sqrt", "ddim",
     "* torch.sqrt(1.0 - abar / abar_prev)",
     "* (1.0 - abar / abar_prev)",
     "solutions.ddim.ddim_step"),
    ("q_sample_variance_not_std", "forward",
     "sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)",
     "sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)",
     "solutions.forward.q_sample"),
    ("extract_off_by_one", "schedules", "out = a[t.to(a.device)]", "out = a[(t - 1).to(a.device)]",
     "solutions.schedules.extract"),
    ("l1_is_mse", "losses", "return F.l1_loss(predicted_noise, noise)", "return F.mse_loss(predicted_noise, noise)",
     "solutions.losses.p_losses"),
    ("loop_ascending", "sampling",
     "for t_index in steps:",
     "for t_index in range(schedule.timesteps):",
     "solutions.sampling.p_sample_loop"),
    ("guidance_sign_flipped", "guidance",
     "eps = (1.0 + w) * eps_cond - w * eps_uncond",
     "eps = (1.0 - w) * eps_cond + w * eps_uncond",
     "solutions.guidance.p_sample_guided"),
    ("dropout_probability_inverted", "guidance",
     "drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond",
     "drop_mask = torch.rand(labels.shape[0], device=labels.device) < 1 - p_uncond",
     "solutions.guidance.p_losses_cfg"),
]  # fmt: skip

SCRIPT = """
import sys
if sys.argv[1] == "no-diffusers":
    sys.modules["diffusers"] = None  # diffusers' import costs ~2 s; its comparisons are then skipped
import autograder
import solutions
print("SOLUTIONS", solutions.__file__)
print("AUTOGRADER", autograder.__file__)
from autograder.authoring import reference_check
print("\\n".join(reference_check.problems()))
"""


def _mutated_copy(tmp_path, module, old, new):
    """tmp_path/solutions: a copy of the repository's solutions/ with one text replacement."""
    target = tmp_path / "solutions"
    shutil.copytree(ROOT / "solutions", target, ignore=shutil.ignore_patterns("__pycache__"))
    path = target / f"{module}.py"
    source = path.read_text()
    assert source.count(old) == 1, f"the text to mutate is no longer in solutions/{module}.py: {old!r}"
    mutated = source.replace(old, new)
    assert mutated != source
    path.write_text(mutated)
    return target


def _report(tmp_path, diffusers=False):
    """problems() in a fresh interpreter where `solutions` is tmp_path's copy; returns its lines."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    mode = "with-diffusers" if diffusers else "no-diffusers"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert Path(lines[0].split(" ", 1)[1]).resolve().is_relative_to((tmp_path / "solutions").resolve()), lines[0]
    assert Path(lines[1].split(" ", 1)[1]).resolve().is_relative_to(ROOT / "autograder"), lines[1]
    return [line for line in lines[2:] if line]


def test_checks_cover_every_exercise():
    assert list(reference_check.CHECKS) == EXERCISES
    assert set(reference_check.MODULES) == set(EXERCISES)


def test_the_reference_agrees_with_the_papers():
    assert reference_check.problems() == []


def test_without_diffusers_the_comparisons_are_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)
    assert diffusers_scheduler(10) is None
    assert reference_check.problems() == []


def test_an_exception_becomes_a_problem_line(monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("broken on purpose")

    monkeypatch.setattr(forward, "q_sample", broken)
    found = reference_check.problems()
    assert found == ["solutions.forward.q_sample: check raised TypeError: broken on purpose"]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_in_the_reference_is_named(tmp_path, mistake):
    _, module, old, new, name = mistake
    _mutated_copy(tmp_path, module, old, new)
    found = _report(tmp_path)
    assert found, "the mutated reference passed every check"
    named = [line for line in found if line.startswith(f"{name}: ")]
    assert named, found
    assert not any(" check raised " in line for line in named), named  # a wrong number, not a crash


def test_a_wrong_cosine_schedule_also_disagrees_with_diffusers(tmp_path):
    pytest.importorskip("diffusers")
    _, module, old, new, name = MISTAKES[0]
    _mutated_copy(tmp_path, module, old, new)
    found = _report(tmp_path, diffusers=True)
    assert any(line.startswith(f"{name}: ") and "eq. 17 of Nichol & Dhariwal" in line for line in found), found
    assert any(line.startswith(f"{name}: ") and "diffusers DDPMScheduler" in line for line in found), found
