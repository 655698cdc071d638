"""``python -m autograder release [--out DIR] [--repo-url URL]``: the student bundle, and its leak check
(``autograder.commands.release`` reads the options; ``publish`` does the work).

The bundle (``DIR``, default ``release/``, plus ``DIR.zip``) is what students get:
``notebooks/`` (the numbered notebooks, outputs cleared, passed through nbgrader's
``generate_assignment``), ``helpers/`` (the stubs generated from ``solutions/``, with the students'
headers: what to complete and how to check it),
``requirements.txt``, ``environment.yml`` and a student ``README.md``.
No ``solutions/``, no hidden test, no solution line: ``leak_check`` proves it and runs
after every build (and in ``validate`` and the test suite).

``--repo-url`` (where the instructor publishes the bundle, e.g. a public GitHub repo)
replaces, in every notebook:
- the placeholder ``{{REPO_URL}}`` (and ``{{REPO_SLUG}}``: ``owner/name`` of a GitHub URL);
- the value of the set-up cell's ``COURSE_REPO_URL = "..."`` line;
- the repository part of Colab badge links ``https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/...``;
and adds an "Open in Colab" badge to notebooks that have none (GitHub URLs only).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from autograder.assignment import check_cells, regions
from autograder.authoring import stubs
from autograder.paths import AUTOGRADER, ROOT

DEFAULT_OUT = ROOT / "release"
ASSIGNMENT = "ddpm"
COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)\"']+/[^/\s)\"']+/blob/(?P<branch>[^/\s)\"']+)/")
REPO_LINE = re.compile(r"^(?P<head>\s*COURSE_REPO_URL\s*=\s*)(?P<q>[\"'])[^\"']*(?P=q)", re.M)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN HIDDEN")

STUDENT_README = """# DDPM from scratch: student course files

Welcome! You will build a Denoising Diffusion Probabilistic Model (Ho et al. 2020) in PyTorch,
one idea per notebook, and train it to draw Fashion-MNIST clothes.

## Getting started
- **Colab**: open a notebook with its "Open in Colab" badge; the first cell asks for your Google Drive,
  fetches the course files into `MyDrive/ddpm-course` once (your edits there survive Colab's resets)
  and installs the requirements. Later, open the notebooks from that Drive folder to keep your outputs.
- **Your machine** (Python 3.10 or later): in this folder, install the requirements (the libraries and
  Jupyter Notebook) into a virtual environment once, then start Jupyter, which opens in your browser:

  ```bash
  python3 -m venv .venv
  .venv/bin/pip install -r requirements.txt
  .venv/bin/jupyter notebook notebooks/
  ```

  On Windows, use `py -m venv .venv`, `.venv\\Scripts\\pip` and `.venv\\Scripts\\jupyter`. With conda instead:
  `conda env create -f environment.yml && conda activate ddpm-course`, then `jupyter notebook notebooks/`.

## What to do
Work through the notebooks in order: `00_setup`, then `01_noise_schedules`, `02_forward_diffusion`,
`03_training_objective`, `04_unet`, `05_sampling` and `06_training` build and train the model; `07_bonus_schedules`,
`08_bonus_ddim`, `09_bonus_colour` and `10_bonus_guidance` are optional (08 and 10 hold extra credit). Each exercise is a
`# COMPLETE THIS` block in one of these files: replace the `raise NotImplementedError(...)` with your code.

{exercise_files}

The notebooks import your code and run a **self-check** cell after each exercise
(`checks.check_<exercise>()`); these cells are graded, so do not edit or delete them. The other
files in `helpers/` are provided: nothing to complete there.

## How you are graded
Your `helpers/*.py` files are graded: each exercise is run on inputs you have not seen and compared
with the reference, part by part (partial credit where an exercise has parts). Each exercise is graded
on its own: when it uses another exercise (say `q_sample` uses `extract`), the reference version of
that other exercise is used, so one mistake costs points once. A passing self-check is a good sign,
not a guarantee.

## Handing in
Zip your course folder (`helpers/` and `notebooks/`) as `<your student id>.zip`: the last cell of
`00_setup.ipynb` (`zip_my_work("your_student_id")`) does it for you. Keep the file names.
"""


def exercise_files() -> str:
    """The README's list of exercise files, from the one exercise table (bonus exercises marked)."""
    from autograder.assignment import exercises

    modules = regions.module_by_exercise()
    bonus = set(check_cells.bonus_exercises())
    by_file: dict[str, list[str]] = {}
    for exercise in exercises.EXERCISES:
        by_file.setdefault(modules[exercise], []).append(exercise)
    lines = []
    for module, names in by_file.items():
        tag = " (bonus, extra credit)" if all(name in bonus for name in names) else ""
        shown = ", ".join(f"`{name}`" + (" (bonus)" if name in bonus and not tag else "") for name in names)
        lines.append(f"- `helpers/{module}.py`{tag}: {shown}")
    return "\n".join(lines)


def student_readme() -> str:
    """The bundle's README.md."""
    return STUDENT_README.replace("{exercise_files}", exercise_files())


def placeholder_notebooks(notebooks: str | Path | None = None) -> list[str]:
    """Notebooks whose Colab badge, set-up cell or ``{{REPO_URL}}`` text names the repository (the
    placeholder one unless ``--repo-url`` is given)."""
    names = []
    for path in check_cells.notebook_paths(*([notebooks] if notebooks else [])):
        text = path.read_text()
        if COLAB.search(text) or "COURSE_REPO_URL" in text or "{{REPO_URL}}" in text or "{{REPO_SLUG}}" in text:
            names.append(path.name)
    return names


def warn_placeholder(stream: TextIO | None = None) -> None:
    """One loud warning: without ``--repo-url`` these notebooks point students at the placeholder repository."""
    names = placeholder_notebooks()
    if not names:
        return
    print(
        "WARNING: release without --repo-url: the Colab badge / set-up cell of these notebooks will point at the "
        f"placeholder repository, not yours: {', '.join(names)}. "
        "Pass --repo-url https://github.com/<owner>/<name> (where you publish the bundle).",
        file=stream or sys.stderr,
    )


def _slug(url: str | None) -> str | None:
    match = re.match(r"https?://github\.com/([^/\s]+)/([^/\s]+?)(?:\.git)?/?$", url or "")
    return f"{match.group(1)}/{match.group(2)}" if match else None


def personalize(text: str, repo_url: str | None) -> str:
    """Apply ``--repo-url`` to one cell's text."""
    if not repo_url:
        return text
    slug = _slug(repo_url)
    text = text.replace("{{REPO_URL}}", repo_url)
    if slug:
        text = text.replace("{{REPO_SLUG}}", slug)
        text = COLAB.sub(lambda m: f"https://colab.research.google.com/github/{slug}/blob/{m.group('branch')}/", text)
    return REPO_LINE.sub(lambda m: f"{m.group('head')}{m.group('q')}{repo_url}{m.group('q')}", text)


def _badge_cell(slug: str, name: str) -> dict[str, Any]:
    url = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{name}"
    return {
        "cell_type": "markdown",
        "metadata": {},
        "source": [f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"],
    }


def _prepare_notebook(path: Path, repo_url: str | None) -> dict[str, Any]:
    nb = json.loads(Path(path).read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = personalize(source, repo_url)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    slug = _slug(repo_url)
    has_badge = any("colab-badge" in "".join(c["source"]) for c in nb["cells"])
    if slug and not has_badge:
        nb["cells"].insert(0, _badge_cell(slug, Path(path).name))
    return nb


def _nbgrader(args, cwd, env=None):
    from autograder.reporting.nbgrader_cli import LAUNCH

    cmd = [sys.executable, "-c", LAUNCH, *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def build(out: str | Path = DEFAULT_OUT, repo_url: str | None = None, make_zip: bool = True) -> Path:
    """Build the bundle in ``out`` (replaced) and ``out.zip``; returns the bundle path.

    Raises ``RuntimeError`` when the leak check finds anything."""
    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="ddpm-release-") as tmp:
        course = Path(tmp) / "course"
        source = course / "source" / ASSIGNMENT
        (source / "helpers").mkdir(parents=True)
        (course / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.root = {str(course)!r}\n"
            f"c.CourseDirectory.course_id = {ASSIGNMENT!r}\n"
            "c.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__']\n"
        )
        for path in check_cells.notebook_paths():
            (source / path.name).write_text(json.dumps(_prepare_notebook(path, repo_url), indent=1, ensure_ascii=False) + "\n")
        for name, text in stubs.generate(release=True).items():
            (source / "helpers" / name).write_text(text)
        for name in ("requirements.txt", "environment.yml"):
            if (ROOT / name).exists():
                shutil.copyfile(ROOT / name, source / name)
        (source / "README.md").write_text(student_readme())
        env = {**os.environ, "HOME": tmp}
        _nbgrader(["generate_assignment", ASSIGNMENT, "--no-db", "--force", "--log-level=WARN"], cwd=course, env=env)
        released = course / "release" / ASSIGNMENT
        out.mkdir(parents=True)
        (out / "notebooks").mkdir()
        for item in sorted(released.iterdir()):
            target = out / "notebooks" / item.name if item.suffix == ".ipynb" else out / item.name
            if item.is_dir():
                shutil.copytree(item, target, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
            else:
                shutil.copyfile(item, target)
    zip_path = out.with_suffix(".zip")
    if make_zip:
        if zip_path.exists():
            zip_path.unlink()
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    archive.write(path, Path(out.name) / path.relative_to(out))
    leaks = leak_check(out, zip_path if make_zip else None)
    if leaks:
        raise RuntimeError("the release leaks:\n  " + "\n  ".join(leaks))
    return out


# ----------------------------------------------------------------------------- leak check


def solution_lines(solutions: str | Path = stubs.SOLUTIONS) -> set[str]:
    """Distinctive code lines of every solution region (comments and short lines excluded)."""
    solutions = Path(solutions)
    lines = set()
    for region in regions.regions(solutions):
        text = (Path(solutions) / f"{region.module}.py").read_text().splitlines()
        for line in text[region.start : region.end - 1]:
            code = line.strip()
            if code and not code.startswith("#") and len(code.replace(" ", "")) >= 14:
                lines.add(code)
    # a line that the provided (public) code also contains is no leak
    public = {line.strip() for text in stubs.generate(solutions).values() for line in text.splitlines()}
    return lines - public


def hidden_test_fingerprints() -> tuple[set[str], set[str]]:
    """Strings that only the grader's private files contain."""
    fingerprints = {"def make_references(", "def dep_sources(", "TASKS_BY_NAME", "def grade_mutant(", "class GradingRun"}
    names = {p.name for p in AUTOGRADER.rglob("*.py")} - {
        "__init__.py",
        "__main__.py",
        "standins.py",
    }
    names -= {name for name in stubs.generate()}
    return fingerprints, names


def _texts(bundle: str | Path, zip_path: str | Path | None) -> Iterator[tuple[str, bytes]]:
    for path in sorted(Path(bundle).rglob("*")):
        if path.is_file():
            yield str(path.relative_to(bundle)), path.read_bytes()
    if zip_path is not None and Path(zip_path).exists():
        with zipfile.ZipFile(zip_path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield f"{Path(zip_path).name}:{info.filename}", archive.read(info)


def leak_check(bundle: str | Path, zip_path: str | Path | None = None) -> list[str]:
    """Every leak found in the bundle (and its zip): solution lines, solution markers,
    ``solutions/`` files or any mention of them, hidden tests or grader files. Empty list: clean."""
    leaks = []
    lines = solution_lines()
    solution_files = {p.read_bytes() for p in stubs.SOLUTIONS.glob("*.py")}
    expected_helpers = {name: text.encode() for name, text in stubs.generate(release=True).items()}
    provided = {
        name for name in expected_helpers if stubs.SOLUTIONS.joinpath(name).read_text() in expected_helpers[name].decode()
    }
    fingerprints, grader_names = hidden_test_fingerprints()
    for name, data in _texts(bundle, zip_path):
        parts = Path(name.split(":")[-1]).parts
        if "solutions" in parts:
            leaks.append(f"{name}: a solutions/ file")
        if "hidden_tests" in parts or "autograder" in parts or (parts and parts[-1] in grader_names):
            leaks.append(f"{name}: a grader file")
        if data in solution_files and not (parts and parts[-1] in provided):
            leaks.append(f"{name}: identical to a reference solution file")
        text = data.decode("utf-8", errors="replace")
        if name.endswith(".ipynb"):
            try:
                nb = json.loads(text)
                text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"])
                text += "\n" + json.dumps([c.get("outputs", []) for c in nb["cells"]])
            except (ValueError, KeyError, TypeError):
                pass
        if "solutions" in text.lower():  # students never see that a solutions/ package exists
            leaks.append(f"{name}: mentions 'solutions'")
        for marker in MARKERS:
            if marker in text:
                leaks.append(f"{name}: contains {marker!r}")
        for fingerprint in fingerprints:
            if fingerprint in text:
                leaks.append(f"{name}: contains hidden-test code ({fingerprint!r})")
        stripped = {line.strip() for line in text.splitlines()}
        for line in sorted(lines & stripped):
            leaks.append(f"{name}: solution line {line!r}")
    helpers = Path(bundle) / "helpers"
    for name, data in expected_helpers.items():
        if not (helpers / name).exists() or (helpers / name).read_bytes() != data:
            leaks.append(f"helpers/{name}: missing or not the generated stub")
    return leaks


def publish(out: str | Path = DEFAULT_OUT, repo_url: str | None = None) -> int:
    """Builds the bundle (warning when ``repo_url`` is missing) and says where it is; the exit code."""
    if not repo_url:
        warn_placeholder()
    try:
        bundle = build(out, repo_url)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    files = sum(1 for p in bundle.rglob("*") if p.is_file())
    print(f"release: {bundle} ({files} files) and {bundle.with_suffix('.zip')}; leak check passed")
    return 0
