"""Adding an exercise is a solution region + ``new-exercise`` (one table entry, its check cell) + ``helpers``:
in a throwaway copy of the course, a function exercise and a class exercise are added and ``validate``
grades both, full marks for the reference, zero for the stubs, and a known mistake of each caught."""

from .test_semester import _cli, _copy_course

FUNCTION = '''

def scaled_difference(x_t: torch.Tensor, noise: torch.Tensor, scale: float = 0.5) -> torch.Tensor:
    """The difference of the two batches, scaled."""
    # BEGIN SOLUTION: the scaled difference
    return (x_t - noise) * scale
    # END SOLUTION
'''

CLASS = '''

class ScaledTanh(nn.Module):
    """``tanh(x / scale) * gain + bias`` with a learnable gain and bias per channel."""

    def __init__(self, channels: int = 1, scale: float = 2.0):
        super().__init__()
        # BEGIN SOLUTION: the scale, and a learnable gain and bias per channel
        self.scale = scale
        self.gain = nn.Parameter(torch.randn(channels))
        self.bias = nn.Parameter(torch.randn(channels))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION: the squashed, scaled and shifted input
        return torch.tanh(x / self.scale) * self.gain[:, None, None] + self.bias[:, None, None]
        # END SOLUTION
'''

MUTANTS = (
    'M("scaled_difference_sum", "(x_t - noise) * scale", "(x_t + noise) * scale", "You added the noise: subtract it.")',
    'M("scaled_tanh_no_bias", "* self.gain[:, None, None] + self.bias[:, None, None]", "* self.gain[:, None, None]",'
    ' "The bias is missing: add self.bias after the gain.")',
)


def test_a_function_and_a_class_exercise_added_in_a_copy_are_graded(tmp_path):
    course = _copy_course(tmp_path / "course")
    for module, text in (("forward", FUNCTION), ("unet", CLASS)):
        path = course / "solutions" / f"{module}.py"
        path.write_text(path.read_text() + text)
    for name, module, notebook in (("scaled_difference", "forward", "02"), ("ScaledTanh", "unet", "04")):
        done = _cli("new-exercise", name, "--module", module, "--notebook", notebook, cwd=course)
        assert done.returncode == 0, done.stdout + done.stderr
    table = course / "autograder" / "assignment" / "exercises.py"
    text = table.read_text()
    assert 'function_task("scaled_difference", "forward"' in text and 'class_task("ScaledTanh", "unet"' in text
    for mutant in MUTANTS:  # the entries come in the order they were added
        text = text.replace("        mutants=(),\n", f"        mutants=({mutant},),\n", 1)
    table.write_text(text)
    done = _cli("helpers", cwd=course)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "raise NotImplementedError" in (course / "helpers" / "unet.py").read_text().split("class ScaledTanh")[1]

    done = _cli("validate", "--skip-release", "--only", "scaled_difference_sum", "scaled_tanh_no_bias", cwd=course)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    solutions = next(line for line in out.splitlines() if line.strip().startswith("solutions:"))
    stubs = next(line for line in out.splitlines() if line.strip().startswith("stubs:"))
    assert "scaled_difference 1/1" in solutions and "ScaledTanh 1/1" in solutions, solutions
    assert "scaled_difference 0/1" in stubs and "ScaledTanh 0/1" in stubs, stubs
    assert "killed   scaled_difference_sum" in out and "killed   scaled_tanh_no_bias" in out, out[-3000:]
