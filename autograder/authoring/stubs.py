"""Generate ``helpers/`` (student stubs) from ``solutions/`` (the reference).

Each region between ``# BEGIN SOLUTION: <what to write>`` and ``# END SOLUTION``
becomes ``# COMPLETE THIS`` comments and ``raise NotImplementedError("COMPLETE THIS: <what>")``;
a ``# HINT: ...`` line inside the region is kept as a one-line hint. Everything
else is copied as it is, under a header: in the repository a "generated, do not edit" note for
developers; in the student release (``generate(release=True)``) what to complete and how to check it.
"""

import sys
from pathlib import Path

from autograder.assignment import regions
from autograder.paths import HELPERS, SOLUTIONS


def header(name: str, release: bool = False, exercise: bool = True) -> str:
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


def header_starts(module: str) -> tuple[str, str]:
    """How a helpers file of ``module`` begins, in the repository or in the release (to recognise a renamed file)."""
    return (f"# Generated from solutions/{module}.py", f"# {module}.py: ")


def stub_source(path: Path) -> str:
    """The student version of one solution file (without the header)."""
    lines = path.read_text().splitlines(keepends=True)
    out: list[str] = []
    cursor = 0
    for region in regions.scan(path):
        indent = region.indent
        out.extend(lines[cursor : region.begin - 1])
        out.append(f"{indent}# COMPLETE THIS: {region.what}\n")
        if region.hint:
            out.append(f"{indent}# Hint: {region.hint}\n")
        out.append(f"{indent}raise NotImplementedError({('COMPLETE THIS: ' + region.what)!r})\n")
        cursor = region.end
    out.extend(lines[cursor:])
    return "".join(out)


def generate(solutions: Path | None = None, release: bool = False) -> dict[str, str]:
    """``{file name: helpers text}`` for every ``.py`` file in ``solutions/``; ``release``: the students' headers."""
    files = {}
    for path in sorted(Path(solutions or SOLUTIONS).glob("*.py")):
        compile(path.read_text(), str(path), "exec")  # an error in solutions/ is reported there, not in its stub
        body = stub_source(path)
        text = header(path.name, release, exercise="# COMPLETE THIS" in body) + body
        compile(text, f"helpers/{path.name}", "exec")  # a stub that is not valid Python is a bug here
        files[path.name] = text
    return files


def write_helpers(solutions: Path | None = None, helpers: Path | None = None) -> list[str]:
    """Regenerate ``helpers/``; returns the names written or removed."""
    folder = Path(helpers or HELPERS)
    folder.mkdir(exist_ok=True)
    wanted = generate(solutions)
    changed = []
    for name, text in wanted.items():
        target = folder / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed.append(name)
    for stale in sorted(folder.glob("*.py")):
        if stale.name not in wanted:
            stale.unlink()
            changed.append(stale.name)
    return changed


def stale_helpers(solutions: Path | None = None, helpers: Path | None = None) -> list[str]:
    """Names of files in ``helpers/`` that differ from what ``solutions/`` generates (or should not exist)."""
    folder = Path(helpers or HELPERS)
    wanted = generate(solutions)
    stale = [name for name, text in wanted.items() if not (folder / name).exists() or (folder / name).read_text() != text]
    stale += [path.name for path in sorted(folder.glob("*.py")) if path.name not in wanted]
    return stale


def main(check: bool = False) -> int:
    """Regenerate ``helpers/`` and list the exercises (``check``: only say whether it is up to date); the exit code."""
    if check:
        stale = stale_helpers()
        if stale:
            print(f"helpers/ is stale ({', '.join(stale)}): run `python -m autograder helpers`", file=sys.stderr)
            return 1
        print("helpers/ is up to date")
        return 0
    changed = write_helpers()
    print(f"helpers/: {len(changed)} file(s) written{': ' + ', '.join(changed) if changed else ''}")
    for exercise, module in regions.module_by_exercise(SOLUTIONS).items():
        print(f"  exercise {exercise:32s} helpers/{module}.py")
    return 0
