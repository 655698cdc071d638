"""``python -m autograder new-exercise NAME --module M --notebook NN``: scaffold a new exercise.

Write the exercise's solution region in ``solutions/M.py`` first (a top-level function). This command
then adds, each in its one place:
- an entry to the exercise table (``autograder/exercises.py``): graded as a function on random cases
  built from its signature (edit ``cases`` and ``points``, and list the mistakes you expect as mutants);
- ``check_NAME()`` to ``solutions/checks.py``: the visible self-check, on the entry's ``example``;
- a check cell (nbgrader metadata from the table) at the end of notebook ``NN``.
Then run ``python -m autograder helpers`` and ``python -m autograder validate``.
"""

import ast
import re
import sys

from . import exercises, stubs
from .coursefiles import notebook_paths

TABLE_FILE = stubs.ROOT / "autograder" / "exercises.py"
CHECKS_FILE = stubs.SOLUTIONS / "checks.py"
ANCHOR = "    # new-exercise inserts entries above this line\n"
COUNT_NAMES = {"timesteps", "T", "n", "steps", "num_steps", "num_timesteps", "dim", "size", "channels"}


class ScaffoldError(ValueError):
    """Why the exercise cannot be scaffolded, and what to do."""


def add_arguments(parser):
    parser.add_argument("name", help="the exercise id: the top-level function around its solution region")
    parser.add_argument("--module", required=True, help="the solutions/ module that holds it, e.g. schedules")
    parser.add_argument("--notebook", required=True, help="two-digit prefix of the notebook for its check cell, e.g. 01")
    parser.add_argument("--points", type=float, default=1.0, help="its points (default 1; change later in the table)")


def _function(name, module):
    path = stubs.SOLUTIONS / f"{module}.py"
    if not path.is_file():
        raise ScaffoldError(f"solutions/{module}.py does not exist")
    regions = stubs.exercises()
    if regions.get(name) != module:
        raise ScaffoldError(
            f"no solution region for {name} in solutions/{module}.py: write the function with a "
            "`# BEGIN SOLUTION: <what to write>` ... `# END SOLUTION` region inside it first"
        )
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise ScaffoldError(f"{name} is not a top-level function of solutions/{module}.py: new-exercise scaffolds functions only")


def _argument_code(arg, default):
    """``(random expression, example value)`` for one parameter, from its default or its name."""
    value = ast.literal_eval(default) if default is not None else None
    if isinstance(value, bool):
        return "bool(rng.integers(2))", value
    if isinstance(value, int):
        return f"int(rng.integers(1, {2 * max(value, 1) + 1}))", value
    if isinstance(value, float):
        low, high = (0.5 * value, 1.5 * value) if value else (-1.0, 1.0)
        return f"float(rng.uniform({min(low, high):.6g}, {max(low, high):.6g}))", value
    if isinstance(value, str):
        return repr(value), value
    if arg in COUNT_NAMES:
        return "int(rng.integers(2, 100))", 10
    return "rng.standard_normal((int(rng.integers(2, 6)), 3))  # TODO: the shape this argument needs", [[0.5, -1.0, 2.0]]


def entry_text(node, module, notebook, points):
    args = node.args.args
    defaults = [None] * (len(args) - len(node.args.defaults)) + list(node.args.defaults)
    randoms, example = [], {}
    for arg, default in zip(args, defaults):
        code, value = _argument_code(arg.arg, default)
        randoms.append(f"{arg.arg}={code}")
        example[arg.arg] = value
    name = node.name
    points = int(points) if float(points).is_integer() else points
    return (
        f"    Exercise(\n"
        f'        "{name}", "{module}", "{notebook}", points={points},\n'
        f'        tasks=(H.function_task("{name}", lambda rng: [\n'
        f"            dict({', '.join(randoms)})\n"
        f"            for _ in range(4)\n"
        f"        ]),),\n"
        f'        parts=(P("values", "{name}"),),\n'
        f'        mutants=(),  # known mistakes: M("id", "text in the solution region", "the mistaken text", "pitfall")\n'
        f"        example={example!r},\n"
        f"    ),\n"
    )


def check_text(name, module):
    return f'''

def check_{name}():
    """``{module}.{name}`` on the example inputs of its table entry (scaffolded by ``new-exercise``:
    name the likely mistakes with ``_compare(..., mistakes=[(mistaken value, hint)])``)."""
    __tracebackhide__ = True
    example = {{k: torch.tensor(v) if isinstance(v, list) else v for k, v in EXPECTED.EXAMPLES["{name}"].items()}}
    with _running("{name}", "{module}"):
        got = {module}.{name}(**example)
    want = _tensor(EXPECTED.OUTPUTS["{name}"])
    _compare("{name}(...)", torch.as_tensor(got), want, scale=_tensor(SCALES["{name}"]))
    _passed("{name}")
'''


def _add_check(name, module):
    text = CHECKS_FILE.read_text()
    if f"def check_{name}(" in text:
        return False
    imports = re.search(r"^from \. import (?P<names>[a-z_, ]+)$", text, re.M)
    names = [n.strip() for n in imports["names"].split(",")] if imports else []
    if imports and module not in names:
        text = text.replace(imports[0], f"from . import {', '.join(sorted([*names, module]))}")
    end = text.index("]\n", text.index("__all__ = ["))
    text = text[:end] + f'    "check_{name}",\n' + text[end:]
    CHECKS_FILE.write_text(text.rstrip("\n") + "\n" + check_text(name, module))
    return True


def _add_cell(name, notebook, points):
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


def scaffold(name, module, notebook, points=1.0):
    """Add the table entry, the self-check and the notebook cell; returns what was written."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ScaffoldError(f"{name!r} is not a Python identifier")
    if not re.fullmatch(r"\d\d", notebook):
        raise ScaffoldError(f"--notebook takes the two-digit prefix of a notebook (e.g. 01), not {notebook!r}")
    if name in exercises.BY_ID:
        raise ScaffoldError(f"{name} is already in autograder/exercises.py")
    node = _function(name, module)
    table = TABLE_FILE.read_text()
    if ANCHOR not in table:
        raise ScaffoldError(f"autograder/exercises.py lost its line {ANCHOR.strip()!r}: add the entry by hand")
    TABLE_FILE.write_text(table.replace(ANCHOR, entry_text(node, module, notebook, points) + ANCHOR))
    written = ["autograder/exercises.py"]
    if _add_check(name, module):
        written.append("solutions/checks.py")
    path, added = _add_cell(name, notebook, points)
    if added:
        written.append(f"notebooks/{path.name}")
    return written


def run(args):
    try:
        written = scaffold(args.name, args.module, args.notebook, args.points)
    except ScaffoldError as error:
        print(f"new-exercise: {error}", file=sys.stderr)
        return 2
    print(f"new-exercise {args.name}: wrote {', '.join(written)}")
    print("next: edit its entry in autograder/exercises.py (cases, points, mutants), then run")
    print("  python -m autograder helpers && python -m autograder validate")
    return 0
