"""What the course's notebooks say about grading: the test cells, their points and their notebooks."""

import json
from pathlib import Path

from . import hidden_tests

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def notebook_paths(notebooks=NOTEBOOKS):
    return sorted(p for p in Path(notebooks).glob("[0-9][0-9]_*.ipynb"))


def course_cells(notebooks=NOTEBOOKS):
    """``{grade_id: (notebook file name, source, points)}`` of every nbgrader grade cell, in course order.

    Exercises without a test cell in the notebooks (yet) get ``checks.check_<id>()`` with the
    default points, so grading never depends on the notebooks being finished."""
    cells = {}
    for path in notebook_paths(notebooks):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cells[meta["grade_id"]] = (path.name, source, float(meta.get("points", 0)))
    for exercise in hidden_tests.EXERCISES:
        cells.setdefault(
            f"check_{exercise}",
            ("(none)", f"# Self-check (graded).\nchecks.check_{exercise}()", float(hidden_tests.DEFAULT_POINTS[exercise])),
        )
    order = {f"check_{e}": i for i, e in enumerate(hidden_tests.EXERCISES)}
    return dict(sorted(cells.items(), key=lambda kv: order.get(kv[0], len(order))))


def exercise_points(notebooks=NOTEBOOKS):
    """``{exercise id: points}``: the points of each exercise's test cell."""
    cells = course_cells(notebooks)
    return {e: cells[f"check_{e}"][2] for e in hidden_tests.EXERCISES}


def bonus_exercises(notebooks=NOTEBOOKS):
    """Exercises whose self-check sits in an optional ``NN_bonus_*`` notebook: extra credit, outside ``max_total``."""
    return [e for e in hidden_tests.EXERCISES if "_bonus_" in course_cells(notebooks)[f"check_{e}"][0]]
