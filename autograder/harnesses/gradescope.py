"""The Gradescope autograder bundle (``python -m autograder gradescope``): the zip to upload as the assignment's
autograder. What runs inside Gradescope's container for each submission is ``autograder.harnesses.gradescope_runtime``.

The zip holds, at its top level:

- ``setup.sh``: run once by Gradescope, as root, when it builds the autograder's Docker image
  (Ubuntu): bubblewrap, a virtual environment in ``/opt/ddpm-grader-venv`` with the course tooling
  (CPU wheels of torch, in the version range ``requirements.txt`` allows);
- ``run_autograder``: run for every submission; it calls ``python -m autograder.harnesses.gradescope_runtime``;
- ``gradescope_config.json``: what was decided at build time (the seed, the tests' visibility);
- the course code grading needs: ``autograder/``, ``solutions/``, ``helpers/``, ``notebooks/``,
  ``requirements.txt``, ``requirements-grader.txt`` (what setup.sh installs), ``pyproject.toml``
  (no ``tests/``, ``docs/``, ``.git``, outputs or venvs; no ``requirements-dev.txt``: the tests' tools).

``GRADESCOPE_PYTHON`` (default the venv's python) lets the tests run ``run_autograder`` with their own.
"""

import json
import os
import secrets
import shlex
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from autograder.assignment import check_cells
from autograder.harnesses.common import failure_message
from autograder.harnesses.gradescope_runtime import CONFIG, failure_results
from autograder.paths import ROOT
from autograder.sandbox import container

DEFAULT_OUT = ROOT / "autograder.zip"
VISIBILITIES = ("after_published", "visible", "hidden", "after_due_date")
VENV = "/opt/ddpm-grader-venv"
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
  (cd "$ROOT/source" && PYTHONPATH="$ROOT/source" "$PY" -m autograder.harnesses.gradescope_runtime)
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


def course_files(exclude: list[Path] | tuple[Path, ...] = ()) -> list[str]:
    """Paths (relative, POSIX) of the course files the bundle carries, sorted."""
    excluded = {Path(p).resolve() for p in exclude}
    found = [name for name in COURSE_FILES if (ROOT / name).is_file()]
    for folder in COURSE_DIRS:
        for dirpath, dirnames, filenames in os.walk(ROOT / folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
            for name in filenames:
                path = Path(dirpath) / name
                if name.startswith(".") or name.endswith(".pyc") or path.is_symlink() or path.resolve() in excluded:
                    continue
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(found)


def torch_requirements(requirements: Path = ROOT / "requirements.txt") -> list[str]:
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


def fallback_results(max_points: float, visibility: str) -> str:
    """What ``run_autograder`` writes when Python itself cannot start."""
    message = failure_message("the grader's Python environment could not start (did setup.sh run?)")
    return json.dumps(failure_results(message, max_points, visibility), indent=1)


def setup_script() -> str:
    torch = " ".join(shlex.quote(r) for r in torch_requirements())
    script = SETUP_SH.replace("@VENV@", VENV).replace("@TORCH@", torch).replace("@GRADER_REQUIREMENTS@", GRADER_REQUIREMENTS)
    return script.replace("@CONTAINER_SETUP@", container.setup_lines('"$SOURCE"'))


def run_script(max_points: float, visibility: str) -> str:
    return RUN_AUTOGRADER.replace("@VENV@", VENV).replace("@FALLBACK@", fallback_results(max_points, visibility))


def _write(archive: zipfile.ZipFile, name: str, data: str | bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix: the permission bits in external_attr count
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, data)


def build(
    out: str | Path = DEFAULT_OUT,
    seed: int | None = None,
    visibility: str = "after_published",
    grade_timeout: int = DEFAULT_GRADE_TIMEOUT,
) -> tuple[Path, dict[str, Any]]:
    """Write the bundle to ``out`` (replaced); returns ``(path, config)``."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    points = check_cells.exercise_points()
    bonus = check_cells.bonus_exercises()
    config: dict[str, Any] = {
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


def instructions(out: Path, config: dict[str, Any]) -> str:
    """What the instructor does with the bundle ``build`` wrote."""
    extra = ", ".join(f"{e} ({p:g})" for e, p in config["extra_credit"].items())
    with zipfile.ZipFile(out) as archive:
        files = len(archive.infolist())
    return (
        f"gradescope: {out} ({files} files). Upload it as the assignment's autograder (Ubuntu base image).\n"
        f"  seed {config['seed']}: every student's hidden tests get the same inputs; "
        f"per-part results visible to students: {config['visibility']}.\n"
        f"  Set the assignment's total points to {config['max_points']:g}"
        + (f" (extra credit on top: {extra})" if extra else "")
        + f" and Gradescope's autograder timeout above {config['grade_timeout'] // 60 + 1} minutes.\n"
        "  Each submission is graded in a bubblewrap sandbox where Gradescope's container allows one, else in container "
        "mode (student code as the user ddpm-student; the results' extra_data.isolation says which ran)."
    )
