"""The grader names mistakes: every catalogue entry, run as a student's code would run in the sandbox
(here in-process, through the box's own call interpreter), is named by the diagnosis of the parts it
fails; correct code names nothing; a result that is not float32 fails its parts and says so.
"""

import sys

import numpy as np
import pytest

from autograder.assignment import exercises, mutants
from autograder.assignment.hidden_tests import per_run
from autograder.grading import scoring
from autograder.grading.diagnosis import NO_MATCH, Diagnosis
from autograder.paths import ROOT
from autograder.records import TaskResult
from autograder.sandbox.box import calls, standins
from tests.test_tolerance import install_dependency, load_package

SEED = 20261206
# entries whose outputs are identical on every input (their sentences say both causes): the earlier one names both
SAME_OUTPUTS = {"guidance_conditional_only": "guidance_uncond_real_label"}


def exercises_entry(entry_id):
    return next(entry for entry in exercises.MUTANTS if entry.id == entry_id)


@pytest.fixture(scope="module")
def grading():
    inputs = per_run.make_inputs(SEED, exercises.TASKS)
    references = per_run.make_references(inputs, exercises.TASKS)
    return inputs, references, Diagnosis(inputs, references), per_run.dep_sources()


def package(tmp_path, name, module=None, text=None):
    """The reference's modules as package ``name``, ``module``'s text replaced by ``text``."""
    return load_package(tmp_path, name, texts={module: text} if module else None)


def graded(grading, modules, exercise):
    """``exercise``'s verdict on ``modules``, run as the sandbox runs a student's code (dependencies patched)."""
    inputs, references, diagnosis, deps = grading
    results = {}
    for task in exercises.TASKS:
        if task.exercise != exercise:
            continue
        for dep in task.deps:
            install_dependency(modules, deps[dep])
        outputs = calls.run_cases(task.call, inputs[task.name], modules, standins)
        results[task.name] = TaskResult("ok", outputs=outputs)
    points = {exercise: exercises.POINTS[exercise]}
    return scoring.score({}, inputs, references, results, points=points, diagnosis=diagnosis)[exercise]


@pytest.mark.parametrize("exercise", exercises.EXERCISES)
def test_reference_names_nothing(grading, tmp_path, exercise):
    verdict = graded(grading, package(tmp_path, f"ref_{exercise}"), exercise)
    assert verdict.points == verdict.max, [p.message for p in verdict.parts]
    assert all(p.mistake is None for p in verdict.parts)


@pytest.mark.parametrize("entry", exercises.MUTANTS, ids=lambda entry: entry.id)
def test_every_entry_is_named(grading, tmp_path, entry):
    text = mutants.apply(entry, (ROOT / "solutions" / f"{entry.module}.py").read_text())
    verdict = graded(grading, package(tmp_path, f"m_{entry.id}", entry.module, text), entry.exercise)
    failed = [p for p in verdict.parts if not p.ok]
    assert failed, f"{entry.id} is not caught"
    named = [p.mistake for p in failed if p.mistake is not None]
    assert named, f"{entry.id} is caught but not named: {[p.message for p in failed]}"
    expected = SAME_OUTPUTS.get(entry.id, entry.id)
    assert expected in [m.id for m in named], f"{entry.id} is named as {[m.id for m in named]}"
    part = next(p for p in failed if p.mistake is not None and p.mistake.id == expected)
    shown = exercises_entry(expected)
    assert shown.explain in part.diagnosis and part.mistake.kind == shown.kind


def test_float64_result_fails_and_says_so(grading, tmp_path):
    source = (ROOT / "solutions" / "forward.py").read_text()
    old = "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise"
    assert old in source

    text = source.replace(old, f"return ({old[len('return ') :]}).double()")
    verdict = graded(grading, package(tmp_path, "float64_q_sample", "forward", text), "q_sample")
    assert verdict.points == 0
    message = verdict.parts[0].message
    assert "torch.float64" in message and "every input is float32" in message, message


def test_unknown_mistake_says_no_known_mistake(grading, tmp_path):
    source = (ROOT / "solutions" / "forward.py").read_text()
    old = "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise"
    text = source.replace(old, f"return 0.5 * ({old[len('return ') :]}) + 0.1")
    verdict = graded(grading, package(tmp_path, "unknown_q_sample", "forward", text), "q_sample")
    assert verdict.parts[0].mistake is None and verdict.parts[0].diagnosis == NO_MATCH


def test_dtype_recorded_by_the_box():
    import torch

    spec = calls.returns(calls.call("f", calls.tensor("x")))
    spec["module"] = "m"
    module = type(sys)("m")
    module.f = lambda x: x.double() * 2
    out = calls.run_cases(spec, {"c0/x": np.ones(3, dtype=np.float32)}, {"m": module}, standins)
    assert str(out["c0/out.dtype"]) == str(torch.float64)
    module.f = lambda x: x * 2
    out = calls.run_cases(spec, {"c0/x": np.ones(3, dtype=np.float32)}, {"m": module}, standins)
    assert "c0/out.dtype" not in out
