"""``python -m autograder gradescope [--out autograder.zip] [--seed N] [--visibility V]``: a Gradescope autograder.

The zip (upload it as the assignment's autograder) holds, at its top level:

- ``setup.sh``: run once by Gradescope, as root, when it builds the autograder's Docker image
  (Ubuntu): bubblewrap, a virtual environment in ``/opt/ddpm-grader-venv`` with the course tooling
  (CPU wheels of torch, in the version range ``requirements.txt`` allows);
- ``run_autograder``: run for every submission; it calls ``python -m autograder.harnesses.gradescope``;
- ``gradescope_config.json``: what was decided at build time (the seed, the tests' visibility);
- the course code grading needs: ``autograder/``, ``solutions/``, ``helpers/``, ``notebooks/``,
  ``requirements.txt``, ``requirements-grader.txt`` (what setup.sh installs), ``pyproject.toml``
  (no ``tests/``, ``docs/``, ``.git``, outputs or venvs; no ``requirements-dev.txt``: the tests' tools).

For each submission the entry below copies ``/autograder/submission`` (the student's files, a
folder laid out like the release, loose files or one zip) into a fresh temporary folder outside
the bundle, runs the course's own ``grade`` on it (``autograder.harnesses.common``: bubblewrap where the container
lets it make namespaces, else container mode, student code as the user ``ddpm-student``; same hidden tests,
``--no-nbgrader``, the seed baked in at build time, so every student gets the same inputs) and
turns its ``report.json`` into ``/autograder/results/results.json``: one Gradescope test per
exercise part, the bonus parts named as extra credit, the grader's flags as the top-level output.
When grading cannot run (no usable sandbox in the container, a broken install), the results
say so in a test visible to everyone, with score 0, and the script still exits 0.

``GRADESCOPE_ROOT`` (default ``/autograder``), ``GRADESCOPE_PYTHON`` (default the venv's python)
and ``GRADESCOPE_SEED`` (default the baked-in seed) let the tests run it in a temporary folder.
"""

import json
import os
import secrets
import shlex
import stat
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from autograder.harnesses import common
from autograder.harnesses.common import STAFF_ONLY, STUDENT_ID, failure_message, scratch_parent, stage  # noqa: F401 - this module's API
from autograder.paths import ROOT
from autograder.sandbox import container

DEFAULT_OUT = ROOT / "autograder.zip"
VISIBILITIES = ("after_published", "visible", "hidden", "after_due_date")
VENV = "/opt/ddpm-grader-venv"
CONFIG = "gradescope_config.json"
DEFAULT_GRADE_TIMEOUT = 900  # seconds: a hostile submission costs its time-outs (README), an ordinary one seconds
COURSE_DIRS = ("autograder", "solutions", "helpers", "notebooks")
GRADER_REQUIREMENTS = "requirements-grader.txt"  # what setup.sh installs (requirements-dev.txt holds the tests' tools)
COURSE_FILES = ("requirements.txt", GRADER_REQUIREMENTS, "pyproject.toml")
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", "outputs", "course"}  # autograder/course: nbgrader's build

# ----------------------------------------------------------------------------- the scripts in the bundle

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's Docker image (Ubuntu);
# the bundle is unpacked in /autograder/source. It installs what `python -m autograder grade` needs:
# requirements-grader.txt (the students' requirements.txt plus the grading tools), nothing for tests.
# pip reads its usual environment (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_CONSTRAINT);
# DDPM_TORCH_INDEX replaces the index torch comes from (default: PyTorch's CPU wheels; empty: pip's own).
set -euo pipefail
SOURCE=/autograder/source
VENV=@VENV@
TORCH_INDEX=${DDPM_TORCH_INDEX-https://download.pytorch.org/whl/cpu}
export DEBIAN_FRONTEND=noninteractive

# bubblewrap: the sandbox every student's code runs in where user namespaces are allowed; libseccomp2: its
# seccomp filter; passwd: useradd (container mode); python3-venv and python3-pip: the grader's own virtual environment.
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap libseccomp2 passwd python3 python3-venv python3-pip ca-certificates

# The grader's environment lives outside /autograder/source (the course checkout, hidden from the sandbox):
# the sandbox binds it read-only so that student code can import torch and numpy, and nothing else of the course.
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip

# torch and torchvision as CPU-only wheels (Gradescope has no GPU; this saves gigabytes of CUDA libraries),
# in the versions requirements.txt allows.
"$VENV/bin/python" -m pip install -q ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} @TORCH@

# The rest of the student requirements and the grading tools (the torch above already satisfies them).
"$VENV/bin/python" -m pip install -q -r "$SOURCE/@GRADER_REQUIREMENTS@"

@CONTAINER_SETUP@
# Fail the image build now if the grader cannot even be imported.
cd "$SOURCE"
"$VENV/bin/python" -c "import autograder.grading.class_grader, autograder.assignment.hidden_tests"

# Say in the build log whether bubblewrap can make a sandbox in this container (where it cannot, as under Docker's
# default seccomp profile, submissions are graded in container mode). Informational: never fails the build.
"$VENV/bin/python" -c "from autograder.sandbox import detection; print('sandbox:', detection.detect().describe())" \
  || echo "bubblewrap cannot make a sandbox in this image (the message above): submissions will be graded in container mode" >&2
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this (its copy: /autograder/run_autograder) for every submission, as root, in /autograder.
# It grades /autograder/submission with the course's own `grade` and writes /autograder/results/results.json.
# GRADESCOPE_ROOT (default /autograder) and GRADESCOPE_PYTHON (default the venv setup.sh made) are for tests.
set -u
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PY="${GRADESCOPE_PYTHON:-@VENV@/bin/python}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
if command -v "$PY" >/dev/null 2>&1; then
  (cd "$ROOT/source" && PYTHONPATH="$ROOT/source" "$PY" -m autograder.harnesses.gradescope)
else
  echo "run_autograder: no Python interpreter at $PY (did setup.sh run?)"
fi
if [ ! -s "$RESULTS" ]; then
  # The Python entry did not even start: still tell Gradescope, and the student, why there is no score.
  cat >"$RESULTS" <<'JSON'
@FALLBACK@
JSON
fi
exit 0
"""

# ----------------------------------------------------------------------------- building the bundle


def add_arguments(parser):
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the zip to write (default: autograder.zip)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the hidden tests' inputs, the same for every student (default: drawn now and baked in)",
    )
    parser.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="after_published",
        help="when students see the per-part results (Gradescope's test visibility; default: after_published)",
    )
    parser.add_argument(
        "--grade-timeout",
        type=int,
        default=DEFAULT_GRADE_TIMEOUT,
        help=f"seconds one submission's grading may take (default {DEFAULT_GRADE_TIMEOUT}); set Gradescope's timeout above it",
    )


def course_files(exclude=()):
    """Paths (relative, POSIX) of the course files the bundle carries, sorted."""
    exclude = {Path(p).resolve() for p in exclude}
    found = [name for name in COURSE_FILES if (ROOT / name).is_file()]
    for folder in COURSE_DIRS:
        for dirpath, dirnames, filenames in os.walk(ROOT / folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
            for name in filenames:
                path = Path(dirpath) / name
                if name.startswith(".") or name.endswith(".pyc") or path.is_symlink() or path.resolve() in exclude:
                    continue
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(found)


def torch_requirements(requirements=ROOT / "requirements.txt"):
    """The ``torch`` and ``torchvision`` lines of ``requirements.txt`` (their version ranges), for setup.sh."""
    lines = []
    for line in Path(requirements).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        name = line
        for mark in "<>=!~;[ ":
            name = name.split(mark, 1)[0]
        if name.lower() in ("torch", "torchvision"):
            lines.append(line.replace(" ", ""))
    return lines or ["torch", "torchvision"]


def fallback_results(max_points, visibility):
    """What ``run_autograder`` writes when Python itself cannot start."""
    message = failure_message("the grader's Python environment could not start (did setup.sh run?)")
    return json.dumps(failure_results(message, max_points, visibility), indent=1)


def setup_script():
    torch = " ".join(shlex.quote(r) for r in torch_requirements())
    script = SETUP_SH.replace("@VENV@", VENV).replace("@TORCH@", torch).replace("@GRADER_REQUIREMENTS@", GRADER_REQUIREMENTS)
    return script.replace("@CONTAINER_SETUP@", container.setup_lines('"$SOURCE"'))


def run_script(max_points, visibility):
    return RUN_AUTOGRADER.replace("@VENV@", VENV).replace("@FALLBACK@", fallback_results(max_points, visibility))


def _write(archive, name, data, mode):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix: the permission bits in external_attr count
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, data)


def build(out=DEFAULT_OUT, seed=None, visibility="after_published", grade_timeout=DEFAULT_GRADE_TIMEOUT):
    """Write the bundle to ``out`` (replaced); returns ``(path, config)``."""
    from autograder.assignment import check_cells

    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    points = check_cells.exercise_points()
    bonus = check_cells.bonus_exercises()
    config = {
        "seed": int(seed) if seed is not None else secrets.randbelow(1 << 31),
        "visibility": visibility,
        "grade_timeout": int(grade_timeout),
        "max_points": sum(p for e, p in points.items() if e not in bonus),
        "extra_credit": {e: points[e] for e in bonus},
    }
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    members = course_files(exclude=[out])
    fd, partial = tempfile.mkstemp(prefix=out.name + ".", suffix=".partial", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            _write(archive, "setup.sh", setup_script(), 0o755)
            _write(archive, "run_autograder", run_script(config["max_points"], visibility), 0o755)
            _write(archive, CONFIG, json.dumps(config, indent=1) + "\n", 0o644)
            for name in members:
                _write(archive, name, (ROOT / name).read_bytes(), 0o644)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return out, config


def run(args):
    try:
        out, config = build(args.out, args.seed, args.visibility, args.grade_timeout)
    except (OSError, ValueError) as error:
        print(f"gradescope: {error}", file=sys.stderr)
        return 1
    extra = ", ".join(f"{e} ({p:g})" for e, p in config["extra_credit"].items())
    with zipfile.ZipFile(out) as archive:
        files = len(archive.infolist())
    print(
        f"gradescope: {out} ({files} files). Upload it as the assignment's autograder (Ubuntu base image).\n"
        f"  seed {config['seed']}: every student's hidden tests get the same inputs; "
        f"per-part results visible to students: {config['visibility']}.\n"
        f"  Set the assignment's total points to {config['max_points']:g}"
        + (f" (extra credit on top: {extra})" if extra else "")
        + f" and Gradescope's autograder timeout above {config['grade_timeout'] // 60 + 1} minutes.\n"
        "  Each submission is graded in a bubblewrap sandbox where Gradescope's container allows one, else in container "
        "mode (student code as the user ddpm-student; the results' extra_data.isolation says which ran)."
    )
    return 0


# ----------------------------------------------------------------------------- inside Gradescope's container


def failure_results(message, max_points, visibility):
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


def convert(report, visibility, notes=()):
    """Gradescope's results from grade's ``report.json`` (one student)."""
    tests = []
    for n, m, exercise, extra, part in common.parts(report):
        label = f"{exercise} (extra credit)" if extra else exercise
        tests.append(
            {
                "name": f"{label}: {part['part']}",
                "number": f"{n}.{m}",
                "score": part["points"],
                "max_score": part["max"],
                "status": "passed" if part["ok"] else "failed",
                "output": part["message"] or "passed",
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


def grade_submission(submission, config, seed, mode=container.AUTO):
    """Results for one Gradescope submission (never raises for a grading failure)."""
    graded = common.grade_hand_in(submission, seed, config["grade_timeout"], mode)
    if graded.report is None:
        return failure_results(failure_message(graded.reason), config["max_points"], config["visibility"])
    return convert(graded.report, config["visibility"], graded.notes)


def autograde(environ=None):
    """The entry ``run_autograder`` calls: always writes results.json, always returns 0."""
    environ = os.environ if environ is None else environ
    start = time.monotonic()
    root = Path(environ.get("GRADESCOPE_ROOT") or "/autograder")
    config = {"max_points": 0, "visibility": "after_published"}
    try:
        config = json.loads((ROOT / CONFIG).read_text())
        seed = int(environ["GRADESCOPE_SEED"]) if environ.get("GRADESCOPE_SEED") else int(config["seed"])
        results = grade_submission(root / "submission", config, seed, common.isolation_mode(environ))
    except Exception as error:
        traceback.print_exc()
        reason = f"the Gradescope entry failed ({type(error).__name__}). {STAFF_ONLY}"
        visibility = config.get("visibility") or "after_published"
        results = failure_results(failure_message(reason), config.get("max_points", 0), visibility)
    common.write_results(root, results, start)
    return 0


if __name__ == "__main__":
    sys.exit(autograde())
