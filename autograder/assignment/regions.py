"""The solution regions of ``solutions/``: what students write, and which exercise each belongs to.

A region is the code between ``# BEGIN SOLUTION: <what to write>`` and ``# END SOLUTION`` inside a
function or method body; an optional ``# HINT: ...`` line inside it is a one-line hint. The exercise a
region belongs to is the top-level function or class around it. The stubs (``helpers/``), the leak
check of a release and the self-checks' ``REGIONS`` map are all read from here.
"""

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.paths import SOLUTIONS

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<what>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT = re.compile(r"^\s*# HINT:\s*(?P<hint>.*\S)\s*$")


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


@dataclass(frozen=True)
class RegionLines:
    """Where one region sits in its file, as the text alone says (no parsing of the Python)."""

    begin: int  # 1-based line of BEGIN
    end: int  # 1-based line of END
    indent: str  # the BEGIN line's indentation, which the stub's lines take
    what: str
    hint: str


class RegionError(ValueError):
    """A malformed solution region."""


def scan(path: Path) -> Iterator[RegionLines]:
    """Each region of one file, in order; raises ``RegionError`` on a region that is not well formed."""
    lines = Path(path).read_text().splitlines()
    opened: RegionLines | None = None  # the region being read (its end not known yet)
    for number, line in enumerate(lines, 1):
        begin, hint = BEGIN.match(line), HINT.match(line)
        if begin:
            if opened is not None:
                raise RegionError(f"{path}:{number}: BEGIN SOLUTION inside the region opened at line {opened.begin}")
            if not begin["what"]:
                raise RegionError(f"{path}:{number}: write '# BEGIN SOLUTION: <what to write>'")
            opened = RegionLines(number, 0, begin["indent"], begin["what"], "")
        elif hint and opened is not None and not opened.hint:
            opened = RegionLines(opened.begin, 0, opened.indent, opened.what, hint["hint"])
        elif END.match(line):
            if opened is None:
                raise RegionError(f"{path}:{number}: END SOLUTION without BEGIN SOLUTION")
            yield RegionLines(opened.begin, number, opened.indent, opened.what, opened.hint)
            opened = None
    if opened is not None:
        raise RegionError(f"{path}:{opened.begin}: BEGIN SOLUTION never closed")


def _enclosing(tree: ast.Module, line: int) -> tuple[str | None, str | None]:
    """(top-level name, innermost def name) of the definitions around ``line``."""
    top, inner = None, None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.lineno <= line <= (
            node.end_lineno or node.lineno
        ):
            top = node.name
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.lineno <= line <= (
                    sub.end_lineno or sub.lineno
                ):
                    inner = sub.name
    return top, inner


def _course_order(path: Path) -> tuple[int, str]:
    """The exercise table's module order (notebooks 01, 02, ...); modules it does not list follow alphabetically."""
    # imported here, not at the top: the table imports the hidden tests (torch), which generating stubs
    # (``scan`` alone, in the grader's light processes) does not need
    from autograder.assignment.exercises import MODULES

    return (MODULES.index(path.stem) if path.stem in MODULES else len(MODULES), path.stem)


def regions(solutions: Path | None = None) -> list[Region]:
    """Every solution region in ``solutions/`` (default: the repository's), in course order."""
    found = []
    for path in sorted(Path(solutions or SOLUTIONS).glob("*.py"), key=_course_order):
        tree = ast.parse(path.read_text(), filename=str(path))
        for lines in scan(path):
            top, inner = _enclosing(tree, lines.begin)
            if top is None or inner is None:
                raise RegionError(f"{path}:{lines.begin}: a solution region must sit inside a function or method body")
            found.append(Region(path.stem, top, inner, lines.what, lines.hint, lines.begin, lines.end))
    return found


def module_by_exercise(solutions: Path | None = None) -> dict[str, str]:
    """``{exercise id: module}`` of every exercise with a solution region, in course order."""
    return {region.exercise: region.module for region in regions(solutions)}
