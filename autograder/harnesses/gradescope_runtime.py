"""Inside Gradescope's container: grade ``/autograder/submission`` and write ``/autograder/results/results.json``.

``run_autograder`` (written into the bundle by ``autograder.harnesses.gradescope``) runs this module for every
submission. It copies the student's files into a fresh temporary folder outside the bundle, runs the course's
own ``grade`` on it (``autograder.harnesses.common``: bubblewrap where the container lets it make namespaces,
else container mode, student code as the user ``ddpm-student``; same hidden tests, ``--no-nbgrader``, the seed
baked in at build time, so every student gets the same inputs) and turns its ``report.json`` into Gradescope's
results: one test per exercise part, the bonus parts named as extra credit, the grader's flags as the top-level
output. When grading cannot run (no usable sandbox in the container, a broken install), the results say so in a
test visible to everyone, with score 0, and the script still exits 0.

``GRADESCOPE_ROOT`` (default ``/autograder``) and ``GRADESCOPE_SEED`` (default the baked-in seed) let the tests
run it in a temporary folder.
"""

import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograder.harnesses import common
from autograder.paths import ROOT
from autograder.sandbox import container

CONFIG = "gradescope_config.json"  # what the bundle's builder decided: seed, visibility, timeout, points


def failure_results(message: str, max_points: float, visibility: str) -> dict[str, Any]:
    return {
        "score": 0,
        "output": message,
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "Autograder could not run",
                "score": 0,
                "max_score": max_points,
                "status": "failed",
                "output": message,
                "visibility": "visible",
            }
        ],
    }


def convert(report: dict[str, Any], visibility: str, notes: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Gradescope's results from grade's ``report.json`` (one student)."""
    tests = []
    for n, m, exercise, extra, part in common.parts(report):
        label = f"{exercise} (extra credit)" if extra else exercise
        tests.append(
            {
                "name": f"{label}: {part.part}",
                "number": f"{n}.{m}",
                "score": part.points,
                "max_score": part.max,
                "status": "passed" if part.ok else "failed",
                "output": part.message or "passed",
                "visibility": visibility,
                "tags": [exercise, *(["extra credit"] if extra else [])],
            }
        )
    got, _most, extra_got, _extra_most, lines = common.summary(report, notes)
    return {
        "score": round(got + extra_got, 4),
        "output": "\n".join(lines),
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "seed": report.get("seed"),
            "isolation": report.get("isolation"),
            "isolation_mode": report.get("isolation_mode"),
        },
    }


def grade_submission(submission: str | Path, config: dict[str, Any], seed: int, mode: str = container.AUTO) -> dict[str, Any]:
    """Results for one Gradescope submission (never raises for a grading failure)."""
    graded = common.grade_hand_in(submission, seed, config["grade_timeout"], mode)
    if graded.report is None:
        return failure_results(common.failure_message(graded.reason), config["max_points"], config["visibility"])
    return convert(graded.report, config["visibility"], graded.notes)


def autograde(environ: Mapping[str, str] | None = None) -> int:
    """The entry ``run_autograder`` calls: always writes results.json, always returns 0."""
    environ = os.environ if environ is None else environ
    start = time.monotonic()
    root = Path(environ.get("GRADESCOPE_ROOT") or "/autograder")
    config: dict[str, Any] = {"max_points": 0, "visibility": "after_published"}
    try:
        config = json.loads((ROOT / CONFIG).read_text())
        seed = int(environ["GRADESCOPE_SEED"]) if environ.get("GRADESCOPE_SEED") else int(config["seed"])
        results = grade_submission(root / "submission", config, seed, common.isolation_mode(environ))
    except Exception as error:
        traceback.print_exc()
        reason = f"the Gradescope entry failed ({type(error).__name__}). {common.STAFF_ONLY}"
        visibility = config.get("visibility") or "after_published"
        results = failure_results(common.failure_message(reason), config.get("max_points", 0), visibility)
    common.write_results(root, results, start)
    return 0


if __name__ == "__main__":
    sys.exit(autograde())
