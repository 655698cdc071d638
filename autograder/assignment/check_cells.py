"""The notebooks' check cells, kept in line with the exercise table (``autograder/assignment/exercises.py``).

The table says each exercise's points and notebook; the notebooks carry them as nbgrader metadata
on their ``checks.check_<id>()`` cells. ``sync_points`` writes the table's points there (run by
``python -m autograder helpers``), ``drift`` says where they disagree (``helpers --check``, validate).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.assignment import exercises
from autograder.paths import ROOT

NOTEBOOKS = ROOT / "notebooks"


def notebook_paths(notebooks: Path | str = NOTEBOOKS) -> list[Path]:
    return sorted(p for p in Path(notebooks).glob("[0-9][0-9]_*.ipynb"))


def _notebook_of(exercise: str, notebooks: Path | str = NOTEBOOKS) -> Path | None:
    prefix = exercises.BY_ID[exercise].notebook
    found = [p for p in notebook_paths(notebooks) if p.name.startswith(f"{prefix}_")]
    return found[0] if found else None


def _grade_cells(path: Path) -> dict[str, Any]:
    """``{grade_id: cell}`` of the nbgrader grade cells of one notebook."""
    cells = {}
    for cell in json.loads(Path(path).read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            cells[meta["grade_id"]] = cell
    return cells


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def course_cells(notebooks: Path | str = NOTEBOOKS) -> dict[str, tuple[str, str, float]]:
    """``{grade_id: (notebook file name, source, points)}`` per exercise, in table order; points from the table.

    An exercise whose notebook has no check cell (yet) gets ``checks.check_<id>()``, so grading never
    depends on the notebooks being finished."""
    found: dict[str, tuple[str, str]] = {}
    for path in notebook_paths(notebooks):
        for grade_id, cell in _grade_cells(path).items():
            found.setdefault(grade_id, (path.name, _source(cell)))
    cells = {}
    for exercise in exercises.EXERCISES:
        grade_id = f"check_{exercise}"
        name, source = found.get(grade_id, ("(none)", f"# Self-check (graded).\nchecks.check_{exercise}()"))
        cells[grade_id] = (name, source, exercises.POINTS[exercise])
    return cells


def exercise_points() -> dict[str, float]:
    """``{exercise id: points}`` (the table's)."""
    return dict(exercises.POINTS)


def bonus_exercises() -> list[str]:
    """Extra-credit exercises: they count in ``total``, not in ``max_total``."""
    return list(exercises.BONUS)


def drift(notebooks: Path | str = NOTEBOOKS) -> list[str]:
    """Where the notebooks disagree with the table: a missing check cell, a cell in another notebook,
    points that differ, a grade cell of no exercise."""
    problems, seen = [], set()
    for path in notebook_paths(notebooks):
        for grade_id, cell in _grade_cells(path).items():
            seen.add(grade_id)
            exercise = grade_id[len("check_") :]
            if exercise not in exercises.BY_ID:
                problems.append(
                    f"{path.name}: grade cell {grade_id} belongs to no exercise of autograder/assignment/exercises.py"
                )
                continue
            expected = _notebook_of(exercise, notebooks)
            if expected is not None and expected.name != path.name:
                problems.append(f"{path.name}: {grade_id} belongs in {expected.name} (the table's notebook)")
            points = cell["metadata"]["nbgrader"].get("points")
            if float(points or 0) != exercises.POINTS[exercise]:
                problems.append(
                    f"{path.name}: {grade_id} has {points} points, the table {exercises.POINTS[exercise]:g} "
                    "(run `python -m autograder helpers`)"
                )
    for exercise in exercises.EXERCISES:
        if f"check_{exercise}" not in seen:
            where = _notebook_of(exercise, notebooks)
            problems.append(
                f"no check cell check_{exercise} in {where.name if where else 'notebook ' + exercises.BY_ID[exercise].notebook}"
            )
    return problems


def sync_points(notebooks: Path | str = NOTEBOOKS) -> list[Path]:
    """Write the table's points into the notebooks' check cells; the notebooks changed."""
    import nbformat

    changed = []
    for path in notebook_paths(notebooks):
        nb = nbformat.read(path, as_version=4)
        dirty = False
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            exercise = str(meta.get("grade_id", ""))[len("check_") :]
            if meta.get("grade") and exercise in exercises.POINTS:
                points = exercises.POINTS[exercise]
                points = int(points) if float(points).is_integer() else points
                if meta.get("points") != points:
                    meta["points"] = points
                    dirty = True
        if dirty:
            nbformat.write(nb, path)
            changed.append(path)
    return changed
