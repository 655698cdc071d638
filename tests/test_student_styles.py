"""Independently written correct student solutions (``tests/student_styles``) pass every self-check."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.assignment import check_cells
from autograder.assignment.exercises import EXERCISES
from tests.student_styles import VARIANTS, build

# Runs in a fresh interpreter (-I: no PYTHONPATH, no cwd on sys.path) that sees only the built package.
SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(2)
import helpers
from helpers import checks
assert helpers.__file__.startswith(sys.argv[1]), helpers.__file__
for name in sys.argv[2:]:
    try:
        getattr(checks, "check_" + name)()
    except Exception as error:
        print(f"FAILED {name}: {type(error).__name__}: {error}")
"""

STUB_LEFT = re.compile(r"NotImplementedError\(\s*['\"]COMPLETE THIS")


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_passes_every_self_check(variant, tmp_path):
    build(variant, tmp_path)
    done = subprocess.run(
        [sys.executable, "-I", "-c", SCRIPT, str(tmp_path), *EXERCISES], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "FAILED" not in done.stdout, done.stdout
    assert done.stdout.count("all checks passed") == len(EXERCISES), done.stdout + done.stderr


def test_builder_completes_every_exercise(tmp_path):
    from autograder.authoring import stubs

    exercise_modules = [name for name, text in stubs.generate().items() if STUB_LEFT.search(text)]
    assert exercise_modules, "the stubs have no COMPLETE THIS block: the pattern is out of date"
    assert len(VARIANTS) >= 9
    for variant in VARIANTS:
        helpers = build(variant, tmp_path / variant)
        for name in exercise_modules:
            text = (helpers / name).read_text()
            assert not STUB_LEFT.search(text), f"{variant}: helpers/{name} still has a COMPLETE THIS stub"
            compile(text, f"{variant}/helpers/{name}", "exec")


def _files(helpers):
    return {p.name: p.read_bytes() for p in helpers.glob("*.py")}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 7, 2024])
def test_every_style_gets_full_marks_from_the_hidden_tests(seed, tmp_path):
    """Correct in any style, float32 or float64, any arrangement: full marks on the hidden tests' random inputs."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.grading.grading_run import GradingRun

    points = check_cells.exercise_points()
    with GradingRun(seed=seed, self_checks=False) as run:
        with ThreadPoolExecutor(2) as pool:
            graded = dict(zip(VARIANTS, pool.map(lambda v: run.grade(_files(build(v, tmp_path / v)), points), VARIANTS)))
    lost = {
        variant: {e: [p.message for p in v.parts if not p.ok] for e, v in hand_in.verdicts.items() if v.points < v.max}
        for variant, hand_in in graded.items()
    }
    assert not any(lost.values()), {variant: parts for variant, parts in lost.items() if parts}


@pytest.mark.slow
def test_every_style_loses_points_on_its_own_pitfalls(tmp_path):
    """The same students, each with the §5 mistakes made in their own code: every one loses points."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.grading.grading_run import GradingRun
    from tests.student_styles.pitfalls import PITFALLS, apply

    cases = [(variant, pitfall) for variant in VARIANTS for pitfall in PITFALLS.get(variant, [])]
    assert len(cases) >= 6 * len(VARIANTS)

    def grade(index_case):
        index, (variant, pitfall) = index_case
        helpers = apply(variant, pitfall, tmp_path / str(index))
        return run.grade(_files(helpers), check_cells.exercise_points(), exercises={pitfall.exercise}).verdicts[pitfall.exercise]

    with GradingRun(seed=5, self_checks=False) as run:
        with ThreadPoolExecutor(2) as pool:
            verdicts = list(pool.map(grade, enumerate(cases)))
    survived = [f"{v}: {p.pitfall} ({p.exercise})" for (v, p), got in zip(cases, verdicts) if got.points >= got.max]
    assert not survived, survived


@pytest.mark.slow
def test_styles_graded_end_to_end(tmp_path):
    """Through the real CLI: folders of helpers/ only, the own-module student's mymath.py travels along."""
    subs = tmp_path / "subs"
    for variant in VARIANTS:
        build(variant, subs / variant)
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(tmp_path / "out")]
    cmd += ["--course-dir", str(tmp_path / "course"), "--jobs", "2", "--seed", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "out" / "grades.csv")))
    assert sorted(r["student_id"] for r in rows) == sorted(VARIANTS)
    points = check_cells.exercise_points()
    for row in rows:
        assert {e: float(row[e]) for e in EXERCISES} == points, row
        assert "tampering" not in row["flags"], row["flags"]
