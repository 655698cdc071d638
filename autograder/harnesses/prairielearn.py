"""A PrairieLearn question (``python -m autograder prairielearn``), and its grader inside PrairieLearn's container.

``build`` writes an externally graded PrairieLearn question folder ``DIR`` (put it in the course's ``questions/``):

- ``info.json``: ``"gradingMethod": "External"`` and ``externalGradingOptions`` (``enabled``, ``image``,
  ``entrypoint`` ``/grade/tests/run.sh``, ``timeout``);
- ``question.html``: a ``pl-file-upload`` for the hand-in (a zip of the course folder, or the ``helpers/*.py``
  files and notebooks), and the external grader's results in the submission panel;
- ``tests/``: what PrairieLearn copies to ``/grade/tests``: ``run.sh`` (the entry point) and ``course/``,
  the course code grading needs (as in the Gradescope bundle) with ``prairielearn_config.json`` (the seed
  drawn now, so every student gets the same hidden-test inputs);
- ``image/Dockerfile`` (and its ``requirements.txt``): the grader image the instructor builds from a public
  Python image and pushes under ``--image``: bubblewrap, libseccomp, the user ``ddpm-student``, torch (CPU).

For each submission PrairieLearn starts the image with the files in ``/grade``; the entry below grades
``/grade/student`` with the course's own ``grade`` (``autograder.harnesses.common``: same hidden tests, bubblewrap where
the container allows it, else container mode) and writes ``/grade/results/results.json``: ``score`` 0–1
(required points; extra credit on top, capped at 1), one test per exercise part, the grader's notes in
``message``. It always writes results and exits 0: a grading failure is ``"gradable": false`` with the reason
(no attempt is charged to the student). ``PRAIRIELEARN_ROOT`` (default ``/grade``) and ``PRAIRIELEARN_SEED``
let the tests run it in a temporary folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograder.assignment import check_cells
from autograder.harnesses import common, gradescope
from autograder.paths import ROOT
from autograder.sandbox import container

CONFIG = "prairielearn_config.json"
DEFAULT_IMAGE = "ddpm-course/prairielearn-grader"
DEFAULT_TIMEOUT = 900  # seconds per submission (PrairieLearn kills the container after it)
MAX_TEXT = 4000  # characters of one message: results.json must stay under PrairieLearn's 1 MB

QUESTION_HTML = """\
<pl-question-panel>
  <p>Upload your work for the DDPM course: a <code>.zip</code> of your course folder (with its
  <code>helpers/</code> and <code>notebooks/</code>), or your <code>helpers/*.py</code> files and notebooks.
  The autograder runs the hidden tests on your <code>helpers/</code> modules, as the notebooks' self-checks do.</p>
</pl-question-panel>

<pl-file-upload optional-file-patterns="*.zip, *.py, *.ipynb"></pl-file-upload>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""

RUN_SH = """\
#!/bin/sh
# PrairieLearn's entry point (/grade/tests/run.sh, run as root in the grader image): grade /grade/student with the
# course's own grade and write /grade/results/results.json. Keep this file executable in the course repository.
# PRAIRIELEARN_ROOT (default /grade) is for tests.
cd "${PRAIRIELEARN_ROOT:-/grade}/tests/course" && exec python3 -m autograder.harnesses.prairielearn
"""

DOCKERFILE = """\
# The grader image for the DDPM course's PrairieLearn question: build it and push it under the name in info.json,
#   docker build -t @IMAGE@ . && docker push @IMAGE@
# bubblewrap grades where the container may make user namespaces; elsewhere (Docker's default seccomp profile)
# container mode runs student code as the unprivileged user ddpm-student, made here.
FROM python:3.11-slim-bookworm
RUN apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends bubblewrap libseccomp2 passwd \\
 && rm -rf /var/lib/apt/lists/*
RUN @USERADD@
COPY requirements.txt /tmp/ddpm-requirements.txt
# torch as CPU wheels (no GPU in the grader; saves gigabytes of CUDA libraries), then the rest
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu @TORCH@ \\
 && pip install --no-cache-dir -r /tmp/ddpm-requirements.txt
"""


def grader_requirements() -> str:
    """The image's pip requirements: requirements-grader.txt (what grading needs, the Gradescope bundle's too), with
    the student requirements it includes written out."""
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if not line.startswith("-r")]
    grader = (ROOT / gradescope.GRADER_REQUIREMENTS).read_text().splitlines()
    lines += [line.split("#", 1)[0].strip() for line in grader if line.strip() and not line.startswith(("-r", "#"))]
    return "\n".join(lines) + "\n"


def build(
    out: str | Path,
    seed: int | None = None,
    image: str = DEFAULT_IMAGE,
    timeout: int = DEFAULT_TIMEOUT,
    title: str | None = None,
    topic: str | None = None,
) -> dict[str, Any]:
    """Write the question folder ``out`` (replaced); returns its config."""
    out = Path(out).resolve()
    if out == ROOT or ROOT in out.parents:
        raise ValueError(f"{out} is inside the course checkout: write the question elsewhere")
    points = check_cells.exercise_points()
    bonus = check_cells.bonus_exercises()
    config = {
        "seed": int(seed) if seed is not None else secrets.randbelow(1 << 31),
        "grade_timeout": max(60, int(timeout) - 30),  # grading stops before PrairieLearn kills the container
        "max_points": sum(p for e, p in points.items() if e not in bonus),
        "extra_credit": {e: points[e] for e in bonus},
    }
    if out.exists():
        shutil.rmtree(out)
    course = out / "tests" / "course"
    for name in gradescope.course_files():
        target = course / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, target)
    (course / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
    run_sh = out / "tests" / "run.sh"
    run_sh.write_text(RUN_SH)
    run_sh.chmod(0o755)
    info = {
        "uuid": str(uuid.uuid4()),
        "title": title or "DDPM course: autograded hand-in",
        "topic": topic or "Diffusion models",
        "tags": ["ddpm", "autograded"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": image,
            "entrypoint": "/grade/tests/run.sh",
            "timeout": int(timeout),
        },
    }
    (out / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    (out / "question.html").write_text(QUESTION_HTML)
    (out / "image").mkdir()
    torch = " ".join(shlex.quote(r) for r in gradescope.torch_requirements())
    dockerfile = DOCKERFILE.replace("@IMAGE@", image).replace("@USERADD@", container.USERADD).replace("@TORCH@", torch)
    (out / "image" / "Dockerfile").write_text(dockerfile)
    (out / "image" / "requirements.txt").write_text(grader_requirements())
    return config


def instructions(out: Path, image: str, config: dict[str, Any]) -> str:
    """What the instructor does with the question ``build`` wrote."""
    return (
        f"prairielearn: question written to {out}.\n"
        f"  1. Build the grader image and push it as {image!r}: `docker build -t {image} {out / 'image'}`.\n"
        f"  2. Copy {out.name}/ into your PrairieLearn course's questions/ (keep tests/run.sh executable) and add it to "
        "an assessment.\n"
        f"  seed {config['seed']}: every student's hidden tests get the same inputs; the score is points out of "
        f"{config['max_points']:g} (extra credit on top, capped at 1)."
    )


# ----------------------------------------------------------------------------- inside PrairieLearn's grader container


def _text(value: object) -> str:
    return str(value)[:MAX_TEXT]


def convert(report: dict[str, Any], notes: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """PrairieLearn's results from grade's ``report.json`` (one student): one test per exercise part."""
    tests = []
    for _n, _m, exercise, extra, part in common.parts(report):
        label = f"{exercise} (extra credit)" if extra else exercise
        tests.append(
            {
                "name": f"{label}: {part.part}",
                "points": part.points,
                "max_points": part.max,
                "message": _text(part.message or "passed"),
                "output": "" if part.ok else _text(part.message),
            }
        )
    got, most, extra_got, _extra_most, lines = common.summary(report, notes)
    score = min(1.0, (got + extra_got) / most) if most else 0.0
    return {
        "gradable": True,
        "score": round(score, 6),
        "message": _text("\n".join(lines)),
        "output": "",
        "tests": tests,
        "isolation": report.get("isolation"),
        "isolation_mode": report.get("isolation_mode"),
        "seed": report.get("seed"),
    }


def failure_results(reason: str) -> dict[str, Any]:
    """Grading could not run (the course's setup, not the student's work): not gradable, so no attempt is charged."""
    message = common.failure_message(reason)
    return {"gradable": False, "score": 0.0, "message": message, "format_errors": [message], "tests": []}


def grade(environ: Mapping[str, str] | None = None) -> int:
    """The entry ``run.sh`` calls: always writes ``results/results.json``, always returns 0."""
    environ = os.environ if environ is None else environ
    start = time.monotonic()
    root = Path(environ.get("PRAIRIELEARN_ROOT") or "/grade")
    try:
        config = json.loads((ROOT / CONFIG).read_text())
        seed = int(environ["PRAIRIELEARN_SEED"]) if environ.get("PRAIRIELEARN_SEED") else int(config["seed"])
        graded = common.grade_hand_in(root / "student", seed, config["grade_timeout"], common.isolation_mode(environ))
        results = convert(graded.report, graded.notes) if graded.report is not None else failure_results(graded.reason)
    except Exception as error:
        traceback.print_exc()
        results = failure_results(f"the PrairieLearn entry failed ({type(error).__name__}). {common.STAFF_ONLY}")
    common.write_results(root, results, start)
    return 0


if __name__ == "__main__":
    sys.exit(grade())
