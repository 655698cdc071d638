"""Issue 18, rows 6 and 9: fair grading inside the runner.

Tampering is said only where the student's own code replaced a library function, never because an
honest import (torchvision, ``torch.compile``) makes the library wrap one of its own; and every part of
an exercise is compared with reference values, never with the student's own upstream output.
"""

import numpy as np
import pytest
import torch

from autograder.assignment.exercises import PARTS, POINTS
from autograder.assignment.hidden_tests import common, schedules
from autograder.authoring import stubs
from autograder.grading import scoring
from autograder.records import TaskResult
from autograder.sandbox.box import standins

SCHEDULE_EXERCISES = ("cosine_beta_schedule", "DiffusionSchedule", "extract")
SOLUTION = (stubs.SOLUTIONS / "schedules.py").read_text()


# ----------------------------------------------------------------------------- tampering (row 6)


@pytest.fixture(scope="module")
def grading_run():
    from autograder.grading.grading_run import GradingRun

    with GradingRun(seed=18, self_checks=False) as run:
        yield run


def _graded(run, appended):
    """A correct ``schedules.py`` with ``appended`` at its end, run in the sandbox:
    ``(replaced names of schedules, {exercise: (points, max)})``."""
    files = {"schedules.py": (SOLUTION + "\n\n" + appended.strip("\n") + "\n").encode()}
    sandbox = run.run(run.helpers_files(files), set(SCHEDULE_EXERCISES))
    verdicts = scoring.score({}, run.inputs, run.references, sandbox.results)
    assert not sandbox.imports.errors, (sandbox.imports, sandbox.events, sandbox.stderr)
    return sandbox.imports.replaced.get("schedules", []), {e: (verdicts[e].points, verdicts[e].max) for e in SCHEDULE_EXERCISES}


HONEST = {
    "torchvision": "import torchvision\n",
    # compiled and called at import (the eager backend: no C compiler needed on a CPU-only machine)
    "torch.compile": "_double = torch.compile(lambda x: 2 * x + 1, backend='eager')\nassert float(_double(torch.ones(1))) == 3\n",
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_library_import_is_no_tampering(grading_run, name):
    replaced, points = _graded(grading_run, HONEST[name])
    assert replaced == [], replaced
    assert all(got == full for got, full in points.values()), points


TAMPERED = {
    # the check's comparison itself
    "allclose": ("torch.allclose", "torch.allclose = lambda *args, **kwargs: True\n"),
    # a library that wraps manual_seed is imported, and the student replaces it with their own function
    "dynamo_then_own_seed": (
        "torch.manual_seed",
        "import functools\nimport torch._dynamo\n\n_seed = torch.manual_seed\n\n\n"
        "@functools.wraps(_seed)\ndef _my_seed(seed):\n    return _seed(0)\n\n\ntorch.manual_seed = _my_seed\n",
    ),
    # the student's function first, then the import of a library that wraps manual_seed in a clean interpreter
    "own_seed_then_dynamo": (
        "torch.manual_seed",
        "import functools\n\n_seed = torch.manual_seed\n\n\n@functools.wraps(_seed)\ndef _my_seed(seed):\n"
        "    return _seed(0)\n\n\ntorch.manual_seed = _my_seed\nimport torch._dynamo  # noqa: E402\n",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_replacing_a_library_function_is_still_tampering(grading_run, name):
    target, text = TAMPERED[name]
    replaced, _ = _graded(grading_run, text)
    assert replaced and replaced[0].split(" ")[0] == target, replaced
    assert all("not compared" not in entry for entry in replaced), replaced  # observed, not a fallback


def test_no_clean_import_means_flagged_with_a_note(grading_run):
    """When the clean child cannot run (here the module points ``sys.executable`` nowhere), a library import
    explains nothing: the replaced name is flagged with a note that says so, and grading goes on."""
    replaced, points = _graded(grading_run, "import sys\nimport torch._dynamo\n\nsys.executable = '/nonexistent/python'\n")
    assert replaced and replaced[0].startswith("torch.manual_seed (not compared with a clean import"), replaced
    assert all(got == full for got, full in points.values()), points


# ----------------------------------------------------------------------------- upstream values (row 9)


def _schedule_inputs(seed=9):
    inputs = schedules.make_diffusion_schedule(np.random.default_rng(seed))
    return inputs, schedules.ref_diffusion_schedule(inputs)


def _schedule_points(inputs, reference, outputs):
    """``(points, max, {part: ok})`` of DiffusionSchedule for these student outputs."""
    results = {"DiffusionSchedule": TaskResult("ok", "", outputs)}
    verdict = scoring.score({}, {"DiffusionSchedule": inputs}, {"DiffusionSchedule": reference}, results)
    verdict = verdict["DiffusionSchedule"]
    return verdict.points, verdict.max, {p.part: p.ok for p in verdict.parts}


def _student_schedule(inputs, dtype, **wrong):
    """What a correct ``DiffusionSchedule`` computed in ``dtype`` returns (as the runner sends it back),
    with the attributes in ``wrong`` replaced."""
    from solutions.schedules import DiffusionSchedule

    outputs = {}
    for case in common.cases_of(inputs):
        sched = DiffusionSchedule(torch.from_numpy(inputs[f"{case}/betas"]).to(dtype))
        for name in standins.SCHEDULE_ATTRS:
            value = wrong[name](sched) if name in wrong else getattr(sched, name)
            outputs[f"{case}/{name}"] = value.double().numpy()
    return outputs


def test_all_ones_schedule_earns_nothing():
    inputs, reference = _schedule_inputs()
    outputs = {
        f"{case}/{name}": np.ones(len(inputs[f"{case}/betas"]))
        for case in common.cases_of(inputs)
        for name in standins.SCHEDULE_ATTRS
    }
    points, _, parts = _schedule_points(inputs, reference, outputs)
    assert points == 0, parts


ALL_ONES = """
class DiffusionSchedule(DiffusionSchedule):
    def __init__(self, betas):
        super().__init__(betas)
        for name in ("alphas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_recip_alphas", "sqrt_alphas_cumprod",
                     "sqrt_one_minus_alphas_cumprod", "posterior_variance"):
            setattr(self, name, torch.ones_like(betas))
"""


def test_all_ones_schedule_earns_nothing_in_the_sandbox(grading_run):
    """The attack as a student writes it: the given betas, every constant after them 1.0."""
    _, points = _graded(grading_run, ALL_ONES)
    assert points["DiffusionSchedule"][0] == 0, points
    assert all(got == full for exercise, (got, full) in points.items() if exercise != "DiffusionSchedule"), points


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_schedule_earns_full_marks(dtype):
    inputs, reference = _schedule_inputs()
    points, full, parts = _schedule_points(inputs, reference, _student_schedule(inputs, getattr(torch, dtype)))
    assert points == full == POINTS["DiffusionSchedule"], parts


def _prev_from_zero(s):
    return torch.cat([torch.zeros(1, dtype=s.alphas_cumprod.dtype), s.alphas_cumprod[:-1]])


ONE_WRONG = {
    # attribute: (its wrong value, the one part that must fail); the others keep their correct values
    "alphas_cumprod_prev": (_prev_from_zero, "alphas_cumprod_prev (1.0 first)"),
    "posterior_variance": (lambda s: s.betas * (1 - s.alphas_cumprod) / (1 - s.alphas_cumprod), "posterior_variance"),
    "sqrt_recip_alphas": (lambda s: 1.0 / s.alphas, "square-root constants"),
}


@pytest.mark.parametrize("attribute", sorted(ONE_WRONG))
def test_one_wrong_attribute_costs_its_part_only(attribute):
    inputs, reference = _schedule_inputs()
    wrong, part = ONE_WRONG[attribute]
    points, full, parts = _schedule_points(inputs, reference, _student_schedule(inputs, torch.float32, **{attribute: wrong}))
    assert [name for name, ok in parts.items() if not ok] == [part], parts
    weights = {p.name: p.weight for p in PARTS if p.exercise == "DiffusionSchedule"}
    assert points == pytest.approx(full * (1 - weights[part] / sum(weights.values()))), parts
