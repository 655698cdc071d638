"""``new-exercise NAME --module M --notebook NN``: scaffold a new exercise, a function or a class.

Write the exercise's solution region in ``solutions/M.py`` first: in a top-level function, or in the
``__init__``/``forward`` of a top-level class (an ``nn.Module``). ``scaffold`` then adds, each in its one place:
- an entry to the exercise table (``autograder/assignment/exercises.py``) graded on random cases built
  from the signature (edit ``cases`` and ``points``, and list the mistakes you expect as mutants): a
  function is called with each case's values; a class is built from the case's ``init`` values (its
  parameters, drawn by the reference, are loaded into the student's module) and called with its
  ``forward`` values. Every parameter a case can pass (positional and keyword-only) gets a value from
  its literal default, its annotation (``int``, ``float``, ``bool``, ``Tensor``) or its name:
  image-like names (``x_t``, ``noise``...) and tensors a batch of shape (4, 1, 8, 8), ``t`` integer
  timesteps of shape (4,), a schedule (``betas``) shape (10,); a ``# TODO`` line above each guessed
  shape. A parameter whose default is ``None`` or not a literal keeps its default. What is written
  must compile, or nothing is written;
- ``check_NAME()`` to ``solutions/checks.py``: the visible self-check, on the entry's ``example``;
- a check cell (nbgrader metadata from the table) at the end of notebook ``NN``.
Then run ``python -m autograder helpers`` and ``python -m autograder validate``.
The command line is ``autograder/commands/new_exercise.py``.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.assignment import exercises
from autograder.assignment.check_cells import notebook_paths
from autograder.assignment.regions import module_by_exercise
from autograder.authoring import stubs
from autograder.paths import AUTOGRADER

TABLE_FILE = AUTOGRADER / "assignment" / "exercises.py"
CHECKS_FILE = stubs.SOLUTIONS / "checks.py"
ANCHOR = "    # new-exercise inserts entries above this line\n"
COUNT_NAMES = {"timesteps", "T", "n", "steps", "num_steps", "num_timesteps", "dim", "size", "channels"}


class ScaffoldError(ValueError):
    """Why the exercise cannot be scaffolded, and what to do."""


def exercise_node(name: str, module: str) -> ast.FunctionDef | ast.ClassDef:
    """The top-level function or class ``name`` of ``solutions/<module>.py`` around a solution region."""
    path = stubs.SOLUTIONS / f"{module}.py"
    if not path.is_file():
        raise ScaffoldError(f"solutions/{module}.py does not exist")
    regions = module_by_exercise()
    if regions.get(name) != module:
        raise ScaffoldError(
            f"no solution region for {name} in solutions/{module}.py: write the function (or the class's __init__ "
            "and forward) with a `# BEGIN SOLUTION: <what to write>` ... `# END SOLUTION` region inside it first"
        )
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
        if isinstance(node, ast.ClassDef) and node.name == name:
            if _method(node, "forward") is None:
                raise ScaffoldError(f"class {name} of solutions/{module}.py has no forward method: it is graded by calling it")
            return node
    raise ScaffoldError(f"{name} is not a top-level function or class of solutions/{module}.py")


def _method(node: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next((item for item in node.body if isinstance(item, ast.FunctionDef) and item.name == name), None)


# Inputs for parameters that take tensors, by name when they carry no annotation. The shapes are the
# course's: a batch of B = 4 one-channel 8x8 images, timesteps in [0, T) with T = 10; the self-check's
# example is a batch of 2 (a literal in the table), timesteps 0 and T - 1.
BATCH, EXAMPLE_BATCH, IMAGE, T_CASES = 4, 2, (1, 8, 8), 10
IMAGE_NAMES = {"x", "x0", "x_0", "x_t", "xt", "x_start", "x_prev", "noise", "eps", "epsilon", "images", "image",
               "mean", "log_var", "logvar", "var", "variance", "pred", "target", "model_output"}  # fmt: skip
TIME_NAMES = {"t", "timestep", "time", "ts"}
SCHEDULE_NAMES = {"betas", "alphas", "alphas_cumprod", "alpha_bar", "alphas_bar", "schedule_betas"}


@dataclass(frozen=True)
class ArgumentCode:
    """How the scaffolded table entry makes one parameter's random value, and the self-check's example."""

    code: str  # a Python expression of ``rng`` (a numpy Generator): one line, no comment
    example: object  # a literal: the example value (lists become tensors in the self-check)
    todo: str = ""  # what the instructor should check, written as a comment on its own line


def _annotation(node: ast.arg) -> str:
    return ast.unparse(node.annotation) if node.annotation is not None else ""


def _literal(default: ast.expr | None) -> tuple[bool, object]:
    """``(is a literal, value)`` of a parameter's default (``torch.float32`` or a call is not one)."""
    if default is None:
        return False, None
    try:
        return True, ast.literal_eval(default)
    except ValueError:
        return False, None


def _grid(shape: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> list:
    """A deterministic example array of ``shape``, as nested lists (a literal the table can hold)."""
    import numpy as np

    n = int(np.prod(shape))
    return np.round(np.linspace(low, high, n), 4).reshape(shape).tolist()


def _argument_code(arg: ast.arg, default: ast.expr | None) -> ArgumentCode | None:
    """The generated value of one parameter, from its default, its annotation or its name; None for a
    parameter whose default is not a literal (the function's default is used: the case leaves it out)."""
    name, annotation = arg.arg, _annotation(arg)
    has_literal, value = _literal(default)
    if default is not None and not has_literal:
        return None
    if value is None and has_literal:
        return None  # ``=None``: the function's own default (often "make one"), left to the function
    if isinstance(value, bool) or annotation == "bool":
        return ArgumentCode("bool(rng.integers(2))", bool(value))
    if isinstance(value, int) or (annotation == "int" and default is None):
        base = value if isinstance(value, int) else (T_CASES if name in COUNT_NAMES else 3)
        return ArgumentCode(f"int(rng.integers(1, {2 * max(base, 1) + 1}))", base)
    if isinstance(value, float) or annotation == "float":
        value = value if isinstance(value, float) else 0.5
        low, high = (0.5 * value, 1.5 * value) if value else (-1.0, 1.0)
        return ArgumentCode(f"float(rng.uniform({min(low, high):.6g}, {max(low, high):.6g}))", value)
    if isinstance(value, str):
        return ArgumentCode(repr(value), value)
    if name in COUNT_NAMES:
        return ArgumentCode(f"int(rng.integers(2, {10 * T_CASES}))", T_CASES)
    if name in TIME_NAMES:
        todo = f"{name}: integer timesteps of shape (B,) = ({BATCH},), in [0, {T_CASES})"
        return ArgumentCode(f"rng.integers(0, {T_CASES}, size={BATCH})", [0, T_CASES - 1], todo)
    if name in SCHEDULE_NAMES:
        todo = f"{name}: a schedule of shape (T,) = ({T_CASES},), values in (0, 1)"
        return ArgumentCode(f"rng.uniform(1e-4, 0.02, size={T_CASES})", _grid((T_CASES,), 1e-4, 0.02), todo)
    shape = (BATCH, *IMAGE)
    what = "an image batch" if name in IMAGE_NAMES or "Tensor" in annotation else "an array (a guess from its name)"
    todo = f"{name}: {what} of shape (B, C, H, W) = {shape}; change it to the shape {name} takes"
    return ArgumentCode(f"rng.standard_normal({shape})", _grid((EXAMPLE_BATCH, *IMAGE)), todo)


def _parameters(node: ast.FunctionDef | None, method: bool = False) -> list[tuple[ast.arg, ast.expr | None]]:
    """Every parameter a case can pass by keyword (positional ones and keyword-only), with its default
    (``method``: without ``self``)."""
    if node is None:
        return []
    args = [*node.args.posonlyargs, *node.args.args]
    defaults = [None] * (len(args) - len(node.args.defaults)) + list(node.args.defaults)
    found = [*zip(args, defaults), *zip(node.args.kwonlyargs, node.args.kw_defaults)]
    return found[1:] if method and found else found


def _arguments(node: ast.FunctionDef | None, indent: str, method: bool = False) -> tuple[list[str], dict[str, object]]:
    """The lines ``name=<code>,`` of a ``dict(...)`` of random arguments (a TODO is a comment line of its own:
    it never swallows code), and the self-check's example values."""
    lines, example = [], {}
    for arg, default in _parameters(node, method):
        made = _argument_code(arg, default)
        if made is None:
            continue
        if made.todo:
            lines.append(f"{indent}# TODO {made.todo}\n")
        lines.append(f"{indent}{arg.arg}={made.code},\n")
        example[arg.arg] = made.example
    return lines, example


def entry_text(node: ast.FunctionDef | ast.ClassDef, module: str, notebook: str, points: float) -> str:
    """The table entry: a function called on each case's values, or a class built from each case's ``init``
    values and called with its ``forward`` values."""
    name = node.name
    points = int(points) if float(points).is_integer() else points
    if isinstance(node, ast.ClassDef):
        init, init_example = _arguments(_method(node, "__init__"), " " * 20, method=True)
        forward, forward_example = _arguments(_method(node, "forward"), " " * 20, method=True)
        example: dict[str, object] = {"init": init_example, "forward": forward_example}
        case = (
            "            dict(\n"
            "                init=dict(\n" + "".join(init) + "                ),\n"
            "                forward=dict(\n" + "".join(forward) + "                ),\n"
            "            )\n"
        )
        task, part = "class_task", "forward"
    else:
        lines, example = _arguments(node, " " * 16)
        case = "            dict(\n" + "".join(lines) + "            )\n"
        task, part = "function_task", "values"
    return (
        f"    Exercise(\n"
        f'        "{name}", "{module}", "{notebook}", points={points},\n'
        f'        tasks=({task}("{name}", "{module}", lambda rng: [\n' + case + "            for _ in range(4)\n"
        "        ]),),\n"
        f'        parts=(P("{part}", "{name}"),),\n'
        "        # known mistakes: M(id, text in the solution region, the mistaken text, the sentence a student reads)\n"
        "        mutants=(),\n"
        f"        example={example!r},\n"
        f"    ),\n"
    )


def check_text(name: str, module: str, is_class: bool = False) -> str:
    """The self-check ``check_<name>()`` of ``solutions/checks.py``, on the example of the table entry."""
    tensors = "{k: torch.tensor(v) if isinstance(v, list) else v for k, v in %s.items()}"
    if is_class:
        what = f"``{module}.{name}(**init)(**forward)``"
        init, forward = tensors % 'example["init"]', tensors % 'example["forward"]'
        body = (
            f'    example = EXPECTED.EXAMPLES["{name}"]\n'
            f"    init = {init}\n"
            f"    forward = {forward}\n"
            f'    with _running("{name}", "{module}"), torch.no_grad():\n'
            "        torch.manual_seed(0)  # the parameters the expected values were computed with\n"
            f"        got = {module}.{name}(**init)(**forward)\n"
        )
    else:
        what = f"``{module}.{name}``"
        example = tensors % f'EXPECTED.EXAMPLES["{name}"]'
        body = f'    example = {example}\n    with _running("{name}", "{module}"):\n        got = {module}.{name}(**example)\n'
    return (
        f'\n\n@_checks("{name}")\ndef check_{name}():\n'
        f'    """{what} on the example inputs of its table entry (scaffolded by ``new-exercise``; the\n'
        f'    mistakes it names are those its table entry lists, recorded by ``python -m autograder helpers``)."""\n'
        "    __tracebackhide__ = True\n" + body + f'    want = _tensor(EXPECTED.OUTPUTS["{name}"])\n'
        f'    _compare("{name}(...)", torch.as_tensor(got), want, scale=_tensor(SCALES["{name}"]))\n'
        f'    _passed("{name}")\n'
    )


def _add_check(name: str, module: str, is_class: bool) -> bool:
    text = CHECKS_FILE.read_text()
    if f"def check_{name}(" in text:
        return False
    imports = re.search(r"^from \. import (?P<names>[a-z_, ]+)$", text, re.M)
    names = [n.strip() for n in imports["names"].split(",")] if imports else []
    if imports and module not in names:
        text = text.replace(imports[0], f"from . import {', '.join(sorted([*names, module]))}")
    end = text.index("]\n", text.index("__all__ = ["))
    text = text[:end] + f'    "check_{name}",\n' + text[end:]
    text = text.rstrip("\n") + "\n" + check_text(name, module, is_class)
    _compiles(text, "solutions/checks.py")
    CHECKS_FILE.write_text(text)
    return True


def _add_cell(name: str, notebook: str, points: float) -> tuple[Path, bool]:
    import nbformat

    found = [p for p in notebook_paths() if p.name.startswith(f"{notebook}_")]
    if not found:
        raise ScaffoldError(f"no notebook notebooks/{notebook}_*.ipynb")
    path = found[0]
    nb = nbformat.read(path, as_version=4)
    if any(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == f"check_{name}" for cell in nb.cells):
        return path, False
    points = int(points) if float(points).is_integer() else points
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            f"### Exercise: `{name}`\n\nComplete `{name}` in `helpers/`, then run its self-check.", id=f"md-{name}"[:64]
        )
    )
    cell = nbformat.v4.new_code_cell(
        f"# Self-check: run it after each change to helpers/ (it is also graded).\nchecks.check_{name}()", id=f"check-{name}"[:64]
    )
    cell.metadata = {
        "deletable": False,
        "editable": False,
        "nbgrader": {
            "grade": True,
            "grade_id": f"check_{name}",
            "locked": True,
            "points": points,
            "schema_version": 3,
            "solution": False,
            "task": False,
        },
    }
    nb.cells.append(cell)
    nbformat.write(nb, path)
    return path, True


def _compiles(text: str, where: str) -> None:
    """Refuse to write a file that would not compile: every command would then stop on it."""
    try:
        compile(text, where, "exec")
    except SyntaxError as error:
        raise ScaffoldError(
            f"the scaffolded {where} would not compile ({error.msg}, line {error.lineno}); nothing was written: "
            "add the entry by hand and report this"
        ) from None


def scaffold(name: str, module: str, notebook: str, points: float = 1.0) -> list[str]:
    """Add the table entry, the self-check and the notebook cell; returns what was written."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ScaffoldError(f"{name!r} is not a Python identifier")
    if not re.fullmatch(r"\d\d", notebook):
        raise ScaffoldError(f"--notebook takes the two-digit prefix of a notebook (e.g. 01), not {notebook!r}")
    if name in exercises.BY_ID:
        raise ScaffoldError(f"{name} is already in autograder/assignment/exercises.py")
    node = exercise_node(name, module)
    table = TABLE_FILE.read_text()
    if ANCHOR not in table:
        raise ScaffoldError(f"autograder/assignment/exercises.py lost its line {ANCHOR.strip()!r}: add the entry by hand")
    new_table = table.replace(ANCHOR, entry_text(node, module, notebook, points) + ANCHOR)
    _compiles(new_table, "autograder/assignment/exercises.py")
    TABLE_FILE.write_text(new_table)
    written = ["autograder/assignment/exercises.py"]
    if _add_check(name, module, isinstance(node, ast.ClassDef)):
        written.append("solutions/checks.py")
    path, added = _add_cell(name, notebook, points)
    if added:
        written.append(f"notebooks/{path.name}")
    return written
