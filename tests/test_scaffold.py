"""``new-exercise`` (``autograder/authoring/new_exercise.py``) on functions of tensors, ints, defaults and keyword-only
arguments: what it writes compiles, and its generated inputs suit the function (issue 19)."""

import ast
import subprocess
import sys

import numpy as np
import pytest

from autograder.authoring import new_exercise

from .test_semester import _cli, _copy_course

FUNCTION = '''

def blend_noise(x_t: torch.Tensor, t: torch.Tensor, scale: float, steps: int = 3, *, noise=None, gain=2.0, mode="sum"):
    """x_t scaled, plus gain * t / steps per image (noise, when given, added)."""
    # BEGIN SOLUTION: the blended batch
    out = x_t * scale + gain * t.to(x_t.dtype).view(-1, 1, 1, 1) / steps
    if noise is not None:
        out = out + noise
    # END SOLUTION
    return out
'''


def _node(source):
    return ast.parse(source).body[0]


@pytest.mark.parametrize(
    "source",
    [
        FUNCTION.strip(),
        "def f(x, t, timesteps, *, w=0.5, flag=True, dtype=torch.float32, k: int, name='a'):\n    pass",
        "def f(betas, /, n, x0: 'torch.Tensor', noise=None):\n    pass",
    ],
    ids=["tensors-defaults-kwonly", "kwonly-without-default", "positional-only"],
)
def test_the_scaffolded_entry_compiles_and_makes_plausible_inputs(source):
    text = new_exercise.entry_text(_node(source), "m", "01", 1)
    compile("TABLE = [\n" + text + "]\n", "exercises.py", "exec")  # a TODO never swallows a parenthesis
    cases_src = text[text.index("lambda rng:") : text.index("]),),") + 1]
    cases = eval(cases_src, {})(np.random.default_rng(0))  # noqa: S307 - the text the scaffold just wrote
    assert len(cases) == 4
    for case in cases:
        for name in {"x", "x_t", "x0", "noise"} & set(case):
            assert np.shape(case[name]) == (new_exercise.BATCH, *new_exercise.IMAGE), name
        if "t" in case:
            assert np.asarray(case["t"]).dtype.kind == "i" and np.shape(case["t"]) == (new_exercise.BATCH,)
        if "betas" in case:
            assert np.shape(case["betas"]) == (new_exercise.T_CASES,) and (0 < np.asarray(case["betas"])).all()
        assert "dtype" not in case and "noise" not in case  # non-literal and None defaults: the function's own
    if "k: int" in source:
        assert all(isinstance(case["k"], int) for case in cases)


def test_new_exercise_on_a_tensor_function_in_a_copy_of_the_course(tmp_path):
    """In a throwaway copy: new-exercise on a function of tensors writes files that compile, and the
    course's commands work after it (helpers builds the self-check's expected values from the example)."""
    course = _copy_course(tmp_path / "course")
    forward = course / "solutions" / "forward.py"
    forward.write_text(forward.read_text() + FUNCTION)
    done = _cli("new-exercise", "blend_noise", "--module", "forward", "--notebook", "02", cwd=course)
    assert done.returncode == 0, done.stderr
    for path in ("autograder/assignment/exercises.py", "solutions/checks.py"):
        compile((course / path).read_text(), path, "exec")
    done = _cli("helpers", cwd=course)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    probe = (
        "import numpy as np; from autograder.assignment import exercises; from solutions import checks\n"
        "task = exercises.BY_ID['blend_noise'].tasks[0]\n"
        "inputs = task.make(np.random.default_rng(1))\n"
        "out = task.reference(inputs)\n"
        "print(sorted(k for k in out if k.endswith('/out')))\n"
        "checks.check_blend_noise()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=course, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "c3/out" in done.stdout
