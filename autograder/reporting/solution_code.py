"""What each student wrote where the stubs say ``# COMPLETE THIS``: the code the similarity table compares.

A student's ``helpers/<module>.py`` is the stub (provided code) with each solution region filled in. For each
region of ``solutions/`` (``assignment.regions``) the student's definition around it (the exercise's function,
or its method) is found by name; its body, less the docstring and less every line the stub provides there
(matched line by line, ``difflib``), is the student's code for that exercise. A module that does not parse,
or a definition that is not found, is compared whole against its stub the same way. A module of the
student's own (``helpers/mymath.py``) is all theirs and kept whole. Provided code never counts.

The hand-ins are read back from where ``grade`` kept them: the class's nbgrader course
(``DIR/nbgrader/submitted/<id>/ddpm/helpers/<name>.py.txt``, as text; ``--course-dir`` elsewhere), or the
LMS download itself (``--submissions``), read by the grader's own intake (ids as the grade run made them).
Nothing here imports or runs student code; links and non-regular files are skipped.
"""

from __future__ import annotations

import ast
import difflib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from autograder.assignment import regions
from autograder.authoring import stubs
from autograder.intake import lms, roster, submission
from autograder.reporting import gradebook

MAX_MODULE_BYTES = 2 << 20  # as intake reads a helpers file
STUB_MARKERS = ("# COMPLETE THIS", "# Hint:", "raise NotImplementedError(")
OWN_MODULE = "{name} (the student's own module)"


def _definition(tree: ast.Module, exercise: str, function: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The def ``function`` inside the top-level ``exercise`` (itself when they are one), else None."""
    for node in tree.body:
        if getattr(node, "name", None) != exercise:
            continue
        for sub in ast.walk(node):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name == function:
                return sub
    return None


def _body_lines(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """The def's body as source lines, without its docstring."""
    body = node.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    if not body:
        return []
    return lines[body[0].lineno - 1 : node.end_lineno or body[-1].lineno]


def own_lines(student: list[str], provided: list[str]) -> list[str]:
    """The lines of ``student`` that are not ``provided`` ones (compared stripped, in order, ``difflib``), blank
    lines and the stub's own ``# COMPLETE THIS`` lines (left in, or the exercise not done) dropped."""
    matcher = difflib.SequenceMatcher(None, [s.strip() for s in provided], [s.strip() for s in student], autojunk=False)
    kept = []
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            kept += [line for line in student[j1:j2] if line.strip() and not line.strip().startswith(STUB_MARKERS)]
    return kept


def module_code(module: str, text: str, stub: str, found: list[regions.Region]) -> dict[str, str]:
    """``{exercise: the student's code}`` of one exercise module (``found``: that module's regions)."""
    stub_lines = stub.splitlines()
    lines = text.splitlines()
    try:
        tree, stub_tree = ast.parse(text), ast.parse(stub)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # does not parse: all that is not the stub's
        whole = own_lines(lines, stub_lines)
        return {f"{module}.py (does not parse)": "\n".join(whole)} if whole else {}
    code: dict[str, list[str]] = {}
    for exercise, function in dict.fromkeys((r.exercise, r.function) for r in found):
        mine, theirs = _definition(tree, exercise, function), _definition(stub_tree, exercise, function)
        if mine is None or theirs is None:
            continue
        kept = own_lines(_body_lines(lines, mine), _body_lines(stub_lines, theirs))
        if kept:
            head = [] if function == exercise else [f"# {exercise}.{function}"]
            code.setdefault(exercise, []).extend(head + kept)
    return {exercise: "\n".join(kept) for exercise, kept in code.items()}


def student_code(helpers: Mapping[str, str], stub_texts: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{exercise (or own module): code}`` of one student's ``{file name: text}`` helpers, in course order."""
    stub_texts = stub_texts if stub_texts is not None else stubs.generate()
    found = regions.regions()
    code: dict[str, str] = {}
    for name, text in helpers.items():
        module = name[: -len(".py")]
        if name in stub_texts:
            code |= module_code(module, text, stub_texts[name], [r for r in found if r.module == module])
        elif name.endswith(".py") and name != "__init__.py" and text.strip():
            code[OWN_MODULE.format(name=name)] = text
    order = list(dict.fromkeys(r.exercise for r in found))
    return dict(sorted(code.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def _regular_text(path: Path) -> str | None:
    """A regular file's text (never through a link), at most ``MAX_MODULE_BYTES``; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(MAX_MODULE_BYTES + 1)
    return None if len(data) > MAX_MODULE_BYTES else data.decode("utf-8", errors="replace")


def from_course(course_dir: Path, student_ids: list[str]) -> dict[str, dict[str, str]]:
    """``{student id: {file name: text}}`` as ``grade`` kept them in nbgrader's ``submitted/`` folder."""
    handins = {}
    for sid in student_ids:
        folder = course_dir / "submitted" / sid / gradebook.ASSIGNMENT / "helpers"
        if "/" in sid or sid.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        files = {}
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith(".py.txt") and entry.is_file(follow_symlinks=False):
                text = _regular_text(Path(entry.path))
                if text is not None:
                    files[entry.name[: -len(".txt")]] = text
        if files:
            handins[sid] = files
    return handins


def from_download(
    folder: Path, roster_path: str | None, id_sources: Mapping[str, str | None], workdir: Path
) -> dict[str, dict[str, str]]:
    """``{student id: {file name: text}}`` read from the LMS download ``grade`` read, with its intake (``id_sources``:
    report.json's, so each hand-in takes the id its row has)."""
    rows = roster.load(roster_path) if roster_path else None
    collection = lms.collect(folder, rows, workdir=workdir, earlier=id_sources)
    handins = {}
    for entry in collection.entries:
        sub = submission.read(str(entry.path), entry.student_id)
        handins[entry.student_id] = {name: data.decode("utf-8", errors="replace") for name, data in sub.helpers.items()}
    return handins
