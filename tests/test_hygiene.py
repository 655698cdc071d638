"""Repository hygiene that CI enforces: lint, notebooks without outputs, generated code marked."""

import json
import subprocess
import sys
from pathlib import Path

from autograder.paths import ROOT


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_notebooks_are_committed_without_outputs():
    dirty = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        if any(cell.get("outputs") or cell.get("execution_count") for cell in cells):
            dirty.append(path.name)
    assert not dirty, f"clear the outputs of {dirty} (e.g. `jupyter nbconvert --clear-output --inplace`)"


# The course tooling: requirements-dev.txt names it, requirements.txt never does.
TOOLING = {"nbgrader", "nbconvert", "nbclient", "pytest", "diffusers", "ruff"}
# What a student's Jupyter Notebook brings along (its server converts and runs notebooks too): no course tooling.
FRONT_END_BRINGS = {"nbconvert", "nbclient"}


def read_requirements(path):
    """The requirements of a pip requirements file, ``-r`` includes followed (relative to the including file)."""
    from packaging.requirements import Requirement

    found = []
    for line in Path(path).read_text().splitlines():
        line = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
        if line.startswith(("-r ", "--requirement ")):
            found += read_requirements(Path(path).parent / line.split(maxsplit=1)[1])
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def _requirement_names(path):
    return {requirement.name.lower() for requirement in read_requirements(path)}


def test_students_install_the_runtime_only():
    """requirements.txt (what Colab and the release install) holds what the notebooks need and the Jupyter front end,
    no course tooling; the tooling file pulls it in, so one install sets up everything for instructors and CI."""
    student = _requirement_names(ROOT / "requirements.txt")
    runtime = {"torch", "torchvision", "einops", "datasets", "matplotlib", "tqdm", "numpy", "pillow", "ipykernel"}
    assert runtime | {"notebook", "ipywidgets"} <= student
    assert not student & TOOLING, student & TOOLING
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    assert {"nbgrader", "pytest", "diffusers", "ruff"} <= _requirement_names(dev)
    assert "requirements-dev.txt" in (ROOT / ".ci" / "setup").read_text()
    conda = [line.split("#")[0] for line in (ROOT / "environment.yml").read_text().splitlines()]
    assert [line.strip() for line in conda if "requirements" in line] == ["- -r requirements.txt"]
