"""helpers/ is generated from solutions/: fresh, stubbed everywhere, and leaking no solution line."""

import importlib
import sys
from pathlib import Path

import pytest
import torch

from autograder.assignment import regions
from autograder.authoring import stubs
from autograder.paths import ROOT
from solutions import schedules as ref_schedules
from solutions import unet as ref_unet


def test_helpers_are_up_to_date():
    assert stubs.stale_helpers() == [], "helpers/ is stale: run `python -m autograder helpers`"


def test_helpers_check_command_detects_drift(tmp_path, monkeypatch):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "m.py").write_text("def f():\n    # BEGIN SOLUTION: return one\n    return 1\n    # END SOLUTION\n")
    monkeypatch.setattr(stubs, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(stubs, "HELPERS", tmp_path / "helpers")
    assert stubs.main() == 0 and stubs.main(check=True) == 0
    (tmp_path / "helpers" / "m.py").write_text("edited by hand\n")
    assert stubs.main(check=True) == 1
    (tmp_path / "helpers" / "extra.py").write_text("")
    assert stubs.stale_helpers(tmp_path / "solutions", tmp_path / "helpers") == ["m.py", "extra.py"]
    stubs.main()
    assert stubs.main(check=True) == 0 and not (tmp_path / "helpers" / "extra.py").exists()


def test_generated_files_say_so():
    for path in sorted(stubs.HELPERS.glob("*.py")):
        assert path.read_text().startswith(f"# Generated from solutions/{path.name}"), path


def test_exercise_ids_in_course_order():
    """The regions, in course order (schedules, forward, ... ddim), are the table's exercises in its order."""
    from autograder.assignment import exercises

    assert list(regions.module_by_exercise()) == exercises.EXERCISES


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f():\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n", "BEGIN SOLUTION: <what"),
        ("def f():\n    # BEGIN SOLUTION: x\n    pass\n", "never closed"),
        ("def f():\n    pass\n    # END SOLUTION\n", "without BEGIN"),
        ("def f():\n    # BEGIN SOLUTION: x\n    # BEGIN SOLUTION: y\n    pass\n    # END SOLUTION\n", "inside the region"),
        ("# BEGIN SOLUTION: x\nX = 1\n# END SOLUTION\n", "inside a function"),
    ],
)
def test_malformed_regions_are_refused(tmp_path, source, message):
    (tmp_path / "m.py").write_text(source)
    with pytest.raises(regions.RegionError, match=message):
        regions.regions(tmp_path)


def _solution_lines():
    """Every meaningful line written between BEGIN and END SOLUTION (comments dropped)."""
    lines = {}
    for region in regions.regions():
        source = (stubs.SOLUTIONS / f"{region.module}.py").read_text().splitlines()[region.start : region.end - 1]
        for line in source:
            text = line.split("  # ")[0].strip()
            if len(text) >= 14 and not text.startswith("#"):
                lines.setdefault(text, region.exercise)
    return lines


def test_no_solution_line_reaches_students():
    """Not as a line, not inside a hint string: nothing students get spells out a solution line."""
    solution_lines = _solution_lines()
    assert len(solution_lines) > 30
    shipped = [*sorted(stubs.HELPERS.glob("*.py")), *sorted((ROOT / "notebooks").glob("*.ipynb"))]
    for path in shipped:
        text = path.read_text()
        leaked = [line for line in solution_lines if line in text]
        assert not leaked, f"{path.relative_to(ROOT)} spells out solution lines: {leaked}"


@pytest.fixture
def helpers():
    """A fresh import of the helpers package (the stubs)."""
    for name in [n for n in sys.modules if n == "helpers" or n.startswith("helpers.")]:
        del sys.modules[name]
    return importlib.import_module("helpers")


def _calls(helpers, monkeypatch):
    """One call per solution region, with every other piece taken from the reference so that
    the call reaches exactly that region."""
    from helpers import ddim, forward, guidance, likelihood, losses, posterior, sampling, schedules, unet
    from solutions import forward as ref_forward
    from solutions import posterior as ref_posterior

    ref = ref_schedules.DiffusionSchedule(ref_schedules.linear_beta_schedule(10))
    x, t = torch.zeros(2, 1, 4, 4), torch.tensor([1, 2])
    for module in (forward, posterior, sampling, ddim, likelihood):
        monkeypatch.setattr(module, "extract", ref_schedules.extract)
    for module in (sampling, likelihood):
        monkeypatch.setattr(module, "q_posterior", ref_posterior.q_posterior)
    monkeypatch.setattr(likelihood, "q_sample", ref_forward.q_sample)
    monkeypatch.setattr(losses, "q_sample", lambda s, x0, t, noise=None: x0)
    stub_block = unet.Block
    monkeypatch.setattr(unet, "Block", ref_unet.Block)
    model = lambda x_t, t: torch.zeros_like(x_t)
    class_model = lambda x_t, t, class_labels=None: torch.zeros_like(x_t)
    conv = torch.nn.Conv2d(1, 1, 1)
    return {
        "cosine_beta_schedule": lambda: schedules.cosine_beta_schedule(10),
        "DiffusionSchedule": lambda: schedules.DiffusionSchedule(ref.betas),
        "extract": lambda: schedules.extract(ref.betas, t, x.shape),
        "q_sample": lambda: forward.q_sample(ref, x, t),
        "p_losses": lambda: losses.p_losses(model, ref, x, t),
        "q_posterior": lambda: posterior.q_posterior(ref, x, x, t),
        "SinusoidalPositionEmbeddings": lambda: unet.SinusoidalPositionEmbeddings(8)(t),
        "Block.__init__": lambda: stub_block(4, 8),
        "ResnetBlock": lambda: unet.ResnetBlock(8, 8, groups=4)(torch.zeros(1, 8, 4, 4)),
        "p_sample mean": lambda: sampling.p_sample(model, ref, x, t, 2),
        "p_sample noise": lambda: sampling.p_sample(model, ref, x, t, 2, clip_denoised=True),
        "p_sample_loop": lambda: sampling.p_sample_loop(conv, ref, (1, 1, 2, 2), progress=False),
        "vlb_term": lambda: likelihood.vlb_term(model, ref, x, t),
        "ddim_step": lambda: ddim.ddim_step(model, ref, x, t, 0),
        "p_losses_cfg": lambda: guidance.p_losses_cfg(class_model, ref, x, t, torch.tensor([0, 1])),
        "p_sample_guided": lambda: guidance.p_sample_guided(class_model, ref, x, t, 2, torch.tensor([0, 1]), 1.0),
    }


def test_every_stub_raises_complete_this(helpers, monkeypatch):
    stub_block_cls = importlib.import_module("helpers.unet").Block
    calls = _calls(helpers, monkeypatch)
    assert len(calls) == len(regions.regions()) - 1  # Block.forward is checked below
    for name, call in calls.items():
        try:
            call()
        except NotImplementedError as error:
            assert str(error).startswith("COMPLETE THIS: "), name
        else:
            pytest.fail(f"{name}: the stub did not raise NotImplementedError")
    # Block.forward: a stub instance whose __init__ is the reference one
    stub_block = stub_block_cls.__new__(stub_block_cls)
    torch.nn.Module.__init__(stub_block)
    reference = ref_unet.Block(4, 8)
    stub_block.proj, stub_block.norm, stub_block.act = reference.proj, reference.norm, reference.act
    with pytest.raises(NotImplementedError, match="COMPLETE THIS: conv, norm"):
        stub_block(torch.zeros(1, 4, 2, 2))


def test_helpers_import_without_running_stubs(helpers):
    for module in (
        "schedules",
        "forward",
        "losses",
        "unet",
        "sampling",
        "ddim",
        "data",
        "plotting",
        "runtime",
        "training",
        "checks",
    ):
        importlib.import_module(f"helpers.{module}")
    assert Path(helpers.__file__).parent == stubs.HELPERS
