"""Independently written correct student solutions (``tests/student_styles``) pass every self-check."""

import re
import subprocess
import sys

import pytest

from tests.student_styles import VARIANTS, build

EXERCISES = (
    "cosine_beta_schedule",
    "DiffusionSchedule",
    "extract",
    "q_sample",
    "p_losses",
    "SinusoidalPositionEmbeddings",
    "Block",
    "ResnetBlock",
    "p_sample",
    "p_sample_loop",
    "ddim_step",
)

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
    from autograder import stubs

    exercise_modules = [name for name, text in stubs.generate().items() if STUB_LEFT.search(text)]
    assert exercise_modules, "the stubs have no COMPLETE THIS block: the pattern is out of date"
    assert len(VARIANTS) >= 9
    for variant in VARIANTS:
        helpers = build(variant, tmp_path / variant)
        for name in exercise_modules:
            text = (helpers / name).read_text()
            assert not STUB_LEFT.search(text), f"{variant}: helpers/{name} still has a COMPLETE THIS stub"
            compile(text, f"{variant}/helpers/{name}", "exec")
