"""The notebooks' set-up cell on a simulated Google Colab.

Colab is played by a fake ``google.colab`` package (``drive.mount`` links a temporary folder that stands in
for the student's Drive, ``files.download`` records its argument), a temporary folder stands in for
``/content`` (a fresh one per "runtime"), and a local git repository made from this checkout's student files
stands in for the course's public repository. Each runtime is a subprocess that runs the set-up cell in an
IPython shell, with ``pip install`` recorded instead of run.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.paths import ROOT

NOTEBOOK = ROOT / "notebooks" / "01_noise_schedules.ipynb"
SETUP_NOTEBOOK = ROOT / "notebooks" / "00_setup.ipynb"

FAKE_DRIVE = """
import json, os
from pathlib import Path


def mount(mountpoint, **kwargs):
    with open(os.environ["FAKE_COLAB_LOG"], "a") as log:
        log.write(json.dumps({"mount": str(mountpoint)}) + "\\n")
    if os.environ.get("FAKE_DRIVE_DECLINE"):
        raise ValueError("mount failed")  # what Colab raises when the student declines
    Path(mountpoint).mkdir(parents=True, exist_ok=True)
    os.symlink(os.environ["FAKE_MYDRIVE"], Path(mountpoint) / "MyDrive")
"""

FAKE_FILES = """
import json, os


def download(path):
    with open(os.environ["FAKE_COLAB_LOG"], "a") as log:
        log.write(json.dumps({"download": str(path)}) + "\\n")
"""

# One Colab runtime: import google.colab (Colab does at start-up), record subprocess calls (git runs, pip is
# only recorded), run the given cells in an IPython shell, and print where the kernel ended up.
HARNESS = r"""
import json, os, subprocess, sys
from IPython.core.interactiveshell import InteractiveShell

if not os.environ.get("FAKE_NOT_COLAB"):
    import google.colab  # noqa: F401

real_run = subprocess.run


def run(args, *rest, **kwargs):
    with open(os.environ["FAKE_COLAB_LOG"], "a") as log:
        log.write(json.dumps({"run": [str(a) for a in args]}) + "\n")
    if "pip" in args:
        return subprocess.CompletedProcess(args, 0)
    return real_run(args, *rest, **kwargs)


subprocess.run = run
shell = InteractiveShell.instance(colors="NoColor")
for cell in json.loads(sys.argv[1]):
    shell.run_cell(cell).raise_error()
import helpers

print("RESULT " + json.dumps({"cwd": os.getcwd(), "root": str(shell.user_ns["ROOT"]), "helpers": helpers.__file__}))
"""


def first_code_cell(path):
    return next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def course_repo(tmp_path_factory):
    """A git repository holding what a student clones (helpers/, notebooks/, the requirements), as it
    is now on disk; made from files, not from git, since CI runs in a copy of the checkout without .git."""
    repo = tmp_path_factory.mktemp("course-repo")
    junk = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    for name in ("helpers", "notebooks"):
        shutil.copytree(ROOT / name, repo / name, ignore=junk)
    for name in ("requirements.txt", "README.md"):
        shutil.copyfile(ROOT / name, repo / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "course"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo.as_uri()


@pytest.fixture
def colab(tmp_path, course_repo):
    """Runs cells on fresh simulated Colab runtimes that share one Google Drive."""
    fake = tmp_path / "fake-colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "drive.py").write_text(FAKE_DRIVE)
    (fake / "files.py").write_text(FAKE_FILES)
    mydrive = tmp_path / "MyDrive"
    mydrive.mkdir()

    class Colab:
        drive = mydrive
        runtimes = 0

        def run(self, *cells, content=None, cwd=None, **env_extra):
            """Run ``cells`` in a new runtime (or in ``content``, the folder of a runtime still alive)."""
            if content is None:
                Colab.runtimes += 1
                content = tmp_path / f"content-{Colab.runtimes}"
                content.mkdir()
            log = content.parent / f"{content.name}.log"
            log.write_text("")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DDPM_", "FAKE_"))}
            env.update(
                PYTHONPATH=str(fake.parent.parent),
                DDPM_COLAB_CONTENT=str(content),
                DDPM_COLAB_REPO_URL=course_repo,
                FAKE_MYDRIVE=str(mydrive),
                FAKE_COLAB_LOG=str(log),
                **env_extra,
            )
            done = subprocess.run(
                [sys.executable, "-c", HARNESS, json.dumps(cells)],
                cwd=cwd or content,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            result = json.loads(done.stdout.split("RESULT ")[-1])
            result["stdout"] = done.stdout
            result["content"] = content
            result["calls"] = [json.loads(line) for line in log.read_text().splitlines()]
            return result

    return Colab()


def _resolved(path):
    return Path(path).resolve()


def _pip_calls(result):
    return [c["run"] for c in result["calls"] if "run" in c and "pip" in c["run"]]


def _git_calls(result):
    return [c["run"] for c in result["calls"] if "run" in c and c["run"][0] == "git"]


def test_drive_keeps_the_students_edits_across_runtimes(colab):
    cell = first_code_cell(NOTEBOOK)
    course = colab.drive / "ddpm-course"

    first = colab.run(cell)
    assert "Google Drive" in first["stdout"]  # the explanation comes before the mount
    assert [c["mount"] for c in first["calls"] if "mount" in c] == [str(first["content"] / "drive")]
    assert len(_git_calls(first)) == 1 and (course / "helpers" / "schedules.py").is_file()
    assert _resolved(first["cwd"]) == _resolved(course / "notebooks")
    assert _resolved(first["helpers"]).is_relative_to(_resolved(course))
    [pip] = _pip_calls(first)
    assert _resolved(pip[-1]) == _resolved(course / "requirements.txt")

    # The student edits a helper in Drive; Colab then recycles the machine.
    edited = course / "helpers" / "schedules.py"
    edited.write_text(edited.read_text() + "\nSTUDENT_EDIT = 'kept'\n")
    second = colab.run(cell)
    assert _git_calls(second) == [], "the course was cloned again over the student's edits"
    assert "STUDENT_EDIT = 'kept'" in edited.read_text()
    assert "edits are kept" in second["stdout"]
    assert _resolved(second["cwd"]) == _resolved(course / "notebooks")
    assert _resolved(second["helpers"]).is_relative_to(_resolved(course))
    assert len(_pip_calls(second)) == 1, "a new runtime needs the requirements again"
    assert "LOST" not in second["stdout"]

    # Another notebook in the same runtime: Drive is mounted and the packages are there.
    again = colab.run(cell, content=second["content"])
    assert not [c for c in again["calls"] if "mount" in c] and _pip_calls(again) == [] and _git_calls(again) == []
    assert _resolved(again["helpers"]).is_relative_to(_resolved(course))


def test_without_drive_it_works_in_content_and_says_work_will_be_lost(colab):
    result = colab.run(first_code_cell(NOTEBOOK), FAKE_DRIVE_DECLINE="1")
    course = result["content"] / "ddpm-course"
    assert (course / "helpers" / "__init__.py").is_file()
    assert _resolved(result["cwd"]) == _resolved(course / "notebooks")
    assert _resolved(result["helpers"]).is_relative_to(_resolved(course))
    assert "LOST when the runtime resets" in result["stdout"]
    assert not any(colab.drive.iterdir())


def test_locally_it_only_finds_the_course_folder(colab):
    result = colab.run(first_code_cell(NOTEBOOK), cwd=ROOT / "notebooks", FAKE_NOT_COLAB="1")
    assert result["calls"] == [] and result["stdout"].startswith("RESULT ")
    assert _resolved(result["root"]) == ROOT and _resolved(result["helpers"]).is_relative_to(ROOT)


def test_hand_in_from_colab_downloads_the_zip(colab):
    cells = nbformat.read(SETUP_NOTEBOOK, as_version=4).cells
    setup = first_code_cell(SETUP_NOTEBOOK)
    hand_in = next(c.source for c in cells if c.cell_type == "code" and "def zip_my_work" in c.source)
    assert setup == first_code_cell(NOTEBOOK)
    colab.run(setup)
    edited = colab.drive / "ddpm-course" / "helpers" / "forward.py"
    edited.write_text(edited.read_text() + "\nSTUDENT_EDIT = 'handed in'\n")

    result = colab.run(setup, hand_in, 'print("ZIP", zip_my_work("s1234567"))')
    archive = result["stdout"].split("ZIP ")[1].splitlines()[0]
    assert [c["download"] for c in result["calls"] if "download" in c] == [archive]
    assert _resolved(archive) == _resolved(colab.drive / "s1234567.zip")
    with zipfile.ZipFile(archive) as zipped:
        assert "STUDENT_EDIT = 'handed in'" in zipped.read("helpers/forward.py").decode()
        assert any(name.startswith("notebooks/") for name in zipped.namelist())


def test_release_still_sets_the_repository_url():
    from autograder.authoring import release

    cell = first_code_cell(NOTEBOOK)
    url = "https://github.com/example-org/ddpm-student"
    personalized = release.personalize(cell, url)
    assert f'COURSE_REPO_URL = "{url}"  # set by' in personalized
    assert [a for a, b in zip(cell.splitlines(), personalized.splitlines()) if a != b] == [
        next(line for line in cell.splitlines() if line.startswith("COURSE_REPO_URL = "))
    ]


# What Google Colab preinstalls, for every package requirements.txt names: googlecolab/backend-info,
# pip-freeze.gpu.txt of early 2026 (Python 3.12). Update it when Colab moves on.
COLAB_PYTHON = "3.12"
COLAB_PREINSTALLED = {
    "torch": "2.10.0+cu128",
    "torchvision": "0.25.0+cu128",
    "einops": "0.8.2",
    "datasets": "4.0.0",
    "matplotlib": "3.10.0",
    "tqdm": "4.67.3",
    "numpy": "2.0.2",
    "pillow": "11.3.0",
    "ipykernel": "6.17.1",  # Colab's front end and google-colab rely on these three
    "notebook": "6.5.7",
    "ipywidgets": "7.7.1",
}


def test_on_colab_the_requirements_replace_nothing_colab_preinstalls():
    """The set-up cell runs `pip install -r requirements.txt` (no --upgrade) in Colab's running kernel: where every
    range admits Colab's version pip changes nothing, so no 6 GB torch download and no new ipykernel, notebook or
    ipywidgets under Colab's own front end."""
    from packaging.version import Version

    from .test_hygiene import read_requirements

    colab = {"python_version": COLAB_PYTHON, "python_full_version": f"{COLAB_PYTHON}.0", "sys_platform": "linux"}
    for requirement in read_requirements(ROOT / "requirements.txt"):
        if requirement.marker is not None and not requirement.marker.evaluate(colab):
            continue
        name = requirement.name.lower()
        assert name in COLAB_PREINSTALLED, (
            f"{name} is not preinstalled on Colab: every runtime would install it (check that it is small and changes "
            "nothing Colab ships, then record it in COLAB_PREINSTALLED with a version of None)"
        )
        version = COLAB_PREINSTALLED[name]
        if version is not None:
            assert requirement.specifier.contains(Version(version), prereleases=True), (
                f"requirements.txt asks for {requirement}, Colab has {name} {version}: widen the range to admit it"
            )


def test_the_set_up_cell_does_not_upgrade_what_colab_has():
    pip = next(line for line in first_code_cell(NOTEBOOK).splitlines() if '"pip", "install"' in line)
    assert '"-r"' in pip and "requirements.txt" in pip
    assert not any(flag in pip for flag in ('"-U"', '"--upgrade"', "--force-reinstall", "--ignore-installed")), pip
