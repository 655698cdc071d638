"""Generate ``helpers/`` (student stubs) from ``solutions/`` (the reference).

Each region between ``# BEGIN SOLUTION: <what to write>`` and ``# END SOLUTION``
becomes ``# COMPLETE THIS`` comments and ``raise NotImplementedError("COMPLETE THIS: <what>")``;
a ``# HINT: ...`` line inside the region is kept as a one-line hint. Everything
else is copied as it is, under a header: in the repository a "generated, do not edit" note for
developers; in the student release (``generate(release=True)``) what to complete and how to check it.
"""

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.paths import HELPERS, ROOT, SOLUTIONS

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<what>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
# The order students meet the modules in (notebooks 01-05, as in the exercise table); others follow alphabetically.
COURSE_ORDER = ("schedules", "forward", "losses", "posterior", "unet", "sampling", "likelihood", "ddim", "guidance")
HINT = re.compile(r"^\s*# HINT:\s*(?P<hint>.*\S)\s*$")


def header(name, release=False, exercise=True):
    """The first line of ``helpers/<name>``; ``release``: the student's copy (it never names ``solutions/``)."""
    if not release:
        return (
            f"# Generated from solutions/{name} by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.\n"
        )
    if exercise:
        return (
            f"# {name}: your exercises. Complete each `# COMPLETE THIS` block below (replace its "
            "`raise NotImplementedError`), then run the notebook's self-check cell, `checks.check_<exercise>()`.\n"
        )
    return f"# {name}: provided course code, nothing to complete here. Your exercises are the `# COMPLETE THIS` blocks.\n"


def header_starts(module):
    """How a helpers file of ``module`` begins, in the repository or in the release (to recognise a renamed file)."""
    return (f"# Generated from solutions/{module}.py", f"# {module}.py: ")


@dataclass(frozen=True)
class Region:
    """One ``BEGIN/END SOLUTION`` region: where it is, what it asks, which exercise it belongs to."""

    module: str  # e.g. "schedules"
    exercise: str  # the top-level function or class around it, e.g. "cosine_beta_schedule"
    function: str  # the innermost def around it, e.g. "__init__"
    what: str
    hint: str
    start: int  # 1-based line of BEGIN
    end: int  # 1-based line of END


class StubError(ValueError):
    """A malformed solution region."""


def _scan(path):
    """Yield ``(begin_line, end_line, indent, what, hint)`` for each region, 1-based lines."""
    lines = path.read_text().splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if BEGIN.match(line):
            if start is not None:
                raise StubError(f"{path}:{number}: BEGIN SOLUTION inside the region opened at line {start[0]}")
            match = BEGIN.match(line)
            if not match["what"]:
                raise StubError(f"{path}:{number}: write '# BEGIN SOLUTION: <what to write>'")
            start = (number, match["indent"], match["what"], "")
        elif HINT.match(line) and start is not None and not start[3]:
            start = (*start[:3], HINT.match(line)["hint"])
        elif END.match(line):
            if start is None:
                raise StubError(f"{path}:{number}: END SOLUTION without BEGIN SOLUTION")
            yield (start[0], number, *start[1:])
            start = None
    if start is not None:
        raise StubError(f"{path}:{start[0]}: BEGIN SOLUTION never closed")


def stub_source(path):
    """The student version of one solution file (without the header)."""
    lines = path.read_text().splitlines(keepends=True)
    out, cursor = [], 0
    for begin, end, indent, what, hint in _scan(path):
        out.extend(lines[cursor : begin - 1])
        out.append(f"{indent}# COMPLETE THIS: {what}\n")
        if hint:
            out.append(f"{indent}# Hint: {hint}\n")
        out.append(f"{indent}raise NotImplementedError({('COMPLETE THIS: ' + what)!r})\n")
        cursor = end
    out.extend(lines[cursor:])
    return "".join(out)


def _enclosing(tree, line):
    """(top-level name, innermost def name) of the definitions around ``line``."""
    top, inner = None, None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.lineno <= line <= node.end_lineno:
            top = node.name
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.lineno <= line <= sub.end_lineno:
                    inner = sub.name
    return top, inner


def _course_order(path):
    return (COURSE_ORDER.index(path.stem) if path.stem in COURSE_ORDER else len(COURSE_ORDER), path.stem)


def regions(solutions=None):
    """Every solution region in ``solutions/``, in course order."""
    found = []
    for path in sorted(Path(solutions or SOLUTIONS).glob("*.py"), key=_course_order):
        tree = ast.parse(path.read_text(), filename=str(path))
        for begin, end, _indent, what, hint in _scan(path):
            top, inner = _enclosing(tree, begin)
            if inner is None:
                raise StubError(f"{path}:{begin}: a solution region must sit inside a function or method body")
            found.append(Region(path.stem, top, inner, what, hint, begin, end))
    return found


def exercises(solutions=None):
    """``{exercise id: module}`` in course order."""
    return {region.exercise: region.module for region in regions(solutions)}


def generate(solutions=None, release=False):
    """``{file name: helpers text}`` for every ``.py`` file in ``solutions/``; ``release``: the students' headers."""
    files = {}
    for path in sorted(Path(solutions or SOLUTIONS).glob("*.py")):
        compile(path.read_text(), str(path), "exec")  # an error in solutions/ is reported there, not in its stub
        body = stub_source(path)
        text = header(path.name, release, exercise="# COMPLETE THIS" in body) + body
        compile(text, f"helpers/{path.name}", "exec")  # a stub that is not valid Python is a bug here
        files[path.name] = text
    return files


def write_helpers(solutions=None, helpers=None):
    """Regenerate ``helpers/``; returns the names written or removed."""
    helpers = Path(helpers or HELPERS)
    helpers.mkdir(exist_ok=True)
    wanted = generate(solutions)
    changed = []
    for name, text in wanted.items():
        target = helpers / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed.append(name)
    for stale in sorted(helpers.glob("*.py")):
        if stale.name not in wanted:
            stale.unlink()
            changed.append(stale.name)
    return changed


def stale_helpers(solutions=None, helpers=None):
    """Names of files in ``helpers/`` that differ from what ``solutions/`` generates (or should not exist)."""
    helpers = Path(helpers or HELPERS)
    wanted = generate(solutions)
    stale = [name for name, text in wanted.items() if not (helpers / name).exists() or (helpers / name).read_text() != text]
    stale += [path.name for path in sorted(helpers.glob("*.py")) if path.name not in wanted]
    return stale


def add_arguments(parser):
    parser.add_argument("--check", action="store_true", help="only check that helpers/ is up to date (exit 1 if stale)")


def _close(a, b, rtol=1e-6, atol=1e-7):
    """Structural equality with a float tolerance: thread counts change the last digits of convolutions."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= atol + rtol * abs(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k], rtol, atol) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_close(x, y, rtol, atol) for x, y in zip(a, b))
    return a == b


def refresh_expected(check=False):
    """``solutions/checks_expected.py`` holds the self-checks' expected numbers, computed from the
    reference; rewrite it when they changed (or, with ``check``, report it) before the stubs are generated."""
    from autograder.authoring import self_check_values

    target = SOLUTIONS / "checks_expected.py"
    values = self_check_values.build_expected()
    stored = {}
    if target.exists():
        exec(compile(target.read_text(), str(target), "exec"), stored)  # our own generated file: plain literals
    if all(name in stored and _close(stored[name], value) for name, value in values.items()):
        return True
    if check:
        print("solutions/checks_expected.py is stale: run `python -m autograder helpers`", file=sys.stderr)
        return False
    target.write_text(self_check_values.render_expected(values))
    print("solutions/checks_expected.py: rewritten")
    return True


def refresh_points(check=False):
    """The notebooks' check cells carry the exercise table's points; write them (or, with ``check``, report drift)."""
    from autograder.assignment import check_cells

    if not check:
        for path in check_cells.sync_points():
            print(f"{path.relative_to(ROOT)}: check-cell points set from autograder/assignment/exercises.py")
    problems = check_cells.drift()
    for problem in problems:
        print(f"notebooks: {problem}", file=sys.stderr)
    return not problems


def run(args):
    fresh = refresh_expected(check=args.check)
    in_line = refresh_points(check=args.check)
    return max(main(check=args.check), 0 if fresh and in_line else 1)


def main(check=False):
    if check:
        stale = stale_helpers()
        if stale:
            print(f"helpers/ is stale ({', '.join(stale)}): run `python -m autograder helpers`", file=sys.stderr)
            return 1
        print("helpers/ is up to date")
        return 0
    changed = write_helpers()
    print(f"helpers/: {len(changed)} file(s) written{': ' + ', '.join(changed) if changed else ''}")
    for exercise, module in exercises().items():
        print(f"  exercise {exercise:32s} helpers/{module}.py")
    return 0
