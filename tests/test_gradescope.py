"""The Gradescope bundle: what the zip holds, and ``run_autograder`` in a simulated ``/autograder``
(``GRADESCOPE_ROOT``) grading the reference solutions, the stubs and a zip, and saying why when it cannot."""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.assignment import check_cells, exercises
from autograder.commands import gradescope as gradescope_command
from autograder.harnesses import common, gradescope, gradescope_runtime

from .harness_reports import one_student_report
from .test_hygiene import ROOT

SEED = 4242


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The zip as the command builds it (visibility after_due_date, to see it carried through)."""
    parser = argparse.ArgumentParser()
    gradescope_command.add_arguments(parser)
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    args = parser.parse_args(["--out", str(out), "--seed", str(SEED), "--visibility", "after_due_date"])
    assert gradescope_command.run(args) == 0
    return out


def unpack(bundle, root):
    """Gradescope's layout: the bundle in ``root/source`` (modes from the zip), the submission folder empty."""
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            (source / info.filename).chmod((info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    return source


def run_autograder(root, **env):
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "GRADESCOPE_ROOT": str(root),
        "GRADESCOPE_PYTHON": sys.executable,
        **env,
    }
    script = str(root / "source" / "run_autograder")
    done = subprocess.run([script], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    for test in results["tests"]:
        assert {"name", "score", "max_score", "visibility", "status", "output"} <= set(test), test
    assert results["stdout_visibility"] == "hidden"
    return results, done.stdout


def solution_helpers(folder):
    folder.mkdir(parents=True)
    for module in exercises.MODULES:
        shutil.copyfile(ROOT / "solutions" / f"{module}.py", folder / f"{module}.py")


def assert_full_marks(results):
    points = check_cells.exercise_points()
    bonus = check_cells.bonus_exercises()
    assert results["score"] == pytest.approx(sum(points.values()))
    per_exercise = {}
    for test in results["tests"]:
        assert test["status"] == "passed" and test["score"] == pytest.approx(test["max_score"]), test
        assert test["visibility"] == "after_due_date"
        exercise = test["tags"][0]
        assert test["name"].startswith(f"{exercise} (extra credit): " if exercise in bonus else f"{exercise}: ")
        per_exercise[exercise] = per_exercise.get(exercise, 0) + test["max_score"]
    assert per_exercise == pytest.approx(points)
    assert results["extra_data"]["seed"] == SEED


# ----------------------------------------------------------------------------- the zip


def test_bundle_holds_the_scripts_and_the_course_code_only(bundle):
    with zipfile.ZipFile(bundle) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        config = json.loads(archive.read(gradescope_runtime.CONFIG))
    for script in ("setup.sh", "run_autograder"):
        mode = infos[script].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, (script, oct(mode))
    names = set(infos)
    for needed in (
        "autograder/grading/class_grader.py",
        "autograder/harnesses/gradescope_runtime.py",
        "autograder/assignment/hidden_tests/__init__.py",
        "pyproject.toml",
    ):
        assert needed in names
    assert {f"solutions/{m}.py" for m in exercises.MODULES} <= names and {f"helpers/{m}.py" for m in exercises.MODULES} <= names
    assert {f"notebooks/{p.name}" for p in check_cells.notebook_paths()} <= names
    assert {"requirements.txt", gradescope.GRADER_REQUIREMENTS} <= names and "requirements-dev.txt" not in names
    top = {name.split("/")[0] for name in names}
    assert not top & {"tests", ".git", "docs", ".venv", "venv", "release", "grading", ".ci", ".github"}, top
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("autograder/course/")]
    assert config["seed"] == SEED and config["visibility"] == "after_due_date"
    assert "bubblewrap" in setup and "python3-venv" in setup and gradescope.GRADER_REQUIREMENTS in setup
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    torch = [line.split("#")[0].strip() for line in lines if line.startswith("torch")]
    assert torch and all(f"'{spec}'" in setup for spec in torch)
    assert "DDPM_TORCH_INDEX-https://download.pytorch.org/whl/cpu}" in setup  # CPU wheels unless told otherwise


def test_scripts_are_valid_bash(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path, members=["setup.sh", "run_autograder"])
    for script in ("setup.sh", "run_autograder"):
        done = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_rejects_an_unknown_visibility():
    parser = argparse.ArgumentParser()
    gradescope_command.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--visibility", "sometimes"])


# ----------------------------------------------------------------------------- conversion and staging


def test_report_becomes_one_test_per_part_with_extra_credit_named():
    checks = {"extract": True, "p_sample": False, "ddim_step": True}
    report = one_student_report(0.5, {"seconds": 1.0, "self_checks": checks}, isolation="bubblewrap")
    results = gradescope_runtime.convert(report, "hidden", notes=["several zips uploaded"])
    assert results["score"] == 3.0 and results["visibility"] == "hidden" and results["stdout_visibility"] == "hidden"
    names = [t["name"] for t in results["tests"]]
    assert names == ["extract: a[t] shaped", "p_sample: mean", "p_sample: noise", "ddim_step (extra credit): deterministic"]
    failed = results["tests"][2]
    assert failed["status"] == "failed" and failed["score"] == 0 and failed["max_score"] == 1.5
    assert failed["output"] == "1 of 4 cases fail" and results["tests"][0]["output"] == "passed"
    assert all(t["visibility"] == "hidden" for t in results["tests"])
    assert "Score: 2.5 / 4, plus extra credit 0.5 / 0.5" in results["output"]
    assert "- zip submission" in results["output"] and "- several zips uploaded" in results["output"]
    assert "failing: p_sample" in results["output"]


def test_stage_grades_a_lone_zip_as_a_zip_and_a_folder_as_a_folder(tmp_path):
    upload = tmp_path / "upload"
    solution_helpers(upload / "helpers")
    (upload / "helpers" / "link.py").symlink_to("/etc/passwd")
    dest = tmp_path / "subs"
    dest.mkdir()
    assert common.stage(upload, dest) == []
    copied = dest / common.STUDENT_ID / "helpers"
    assert (copied / "schedules.py").read_bytes() == (ROOT / "solutions" / "schedules.py").read_bytes()
    assert (copied / "link.py").is_symlink()  # kept as a link: grading never follows it

    zipped = tmp_path / "zipped"
    zipped.mkdir()
    for name in ("b.zip", "a.zip"):
        with zipfile.ZipFile(zipped / name, "w") as archive:
            archive.writestr("ddpm/helpers/schedules.py", "x = 1\n")
    dest2 = tmp_path / "subs2"
    dest2.mkdir()
    notes = common.stage(zipped, dest2)
    assert [p.name for p in dest2.iterdir()] == [f"{common.STUDENT_ID}.zip"] and "'a.zip'" in notes[0]


def test_the_students_copy_lives_outside_the_bundle(monkeypatch):
    monkeypatch.setattr(common.tempfile, "tempdir", str(common.ROOT / "autograder"))
    assert common.scratch_parent() == "/tmp"
    monkeypatch.setattr(common.tempfile, "tempdir", None)
    parent = Path(common.scratch_parent()).resolve()
    assert common.ROOT not in parent.parents and parent != common.ROOT


# ----------------------------------------------------------------------------- run_autograder, simulated


@pytest.mark.slow
def test_reference_solutions_get_full_marks(bundle, tmp_path):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    solution_helpers(root / "submission" / "helpers")
    results, _ = run_autograder(root, GRADESCOPE_SEED=str(SEED))
    assert_full_marks(results)
    # issue 25: the results name the bubblewrap and the layers that graded the submission
    isolation = results["extra_data"]["isolation"]
    assert re.search(r"bubblewrap \d+\.\d+", isolation) and "seccomp filter" in isolation, isolation


@pytest.mark.slow
def test_a_zip_of_the_solutions_gets_full_marks(bundle, tmp_path):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    with zipfile.ZipFile(root / "submission" / "my-work.zip", "w") as archive:
        for module in exercises.MODULES:
            archive.write(ROOT / "solutions" / f"{module}.py", f"ddpm-course/helpers/{module}.py")
    results, _ = run_autograder(root, GRADESCOPE_SEED=str(SEED))
    assert_full_marks(results)
    assert "- zip submission" in results["output"]


@pytest.mark.slow
def test_untouched_stubs_get_zero_with_not_implemented_messages(bundle, tmp_path):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    shutil.copytree(ROOT / "helpers", root / "submission" / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks", root / "submission" / "notebooks", ignore=shutil.ignore_patterns(".*", "outputs"))
    results, _ = run_autograder(root, GRADESCOPE_SEED=str(SEED))
    assert results["score"] == 0
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(sum(check_cells.exercise_points().values()))
    for test in results["tests"]:
        assert test["status"] == "failed" and test["score"] == 0 and test["output"].startswith("not implemented yet"), test


def test_without_a_sandbox_the_result_says_why(bundle, tmp_path):
    """No bwrap on PATH (the container forbids it, or setup.sh could not install it): score 0, a visible reason."""
    root = tmp_path / "autograder"
    unpack(bundle, root)
    solution_helpers(root / "submission" / "helpers")
    bin_dir = tmp_path / "bin"  # the shell's tools, and no bwrap
    bin_dir.mkdir()
    for tool in ("bash", "env", "mkdir", "rm", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    # bubblewrap only: as root, the harness's default (auto) would grade in container mode instead
    results, stdout = run_autograder(root, PATH=str(bin_dir), DDPM_HARNESS_ISOLATION="bubblewrap")
    assert results["score"] == 0 and len(results["tests"]) == 1
    test = results["tests"][0]
    assert test["visibility"] == "visible" and test["status"] == "failed"
    assert test["max_score"] == pytest.approx(json.loads((root / "source" / gradescope_runtime.CONFIG).read_text())["max_points"])
    assert "could not grade this submission" in test["output"] and "not with your work" in test["output"]
    assert "refusing to run student code without a sandbox" in test["output"] and "bubblewrap" in test["output"]
    assert "refusing to run student code" in stdout  # the whole story for the instructor


def test_without_python_the_shell_still_writes_results(bundle, tmp_path):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    results, _ = run_autograder(root, GRADESCOPE_PYTHON=str(tmp_path / "no-venv" / "bin" / "python"))
    assert results["score"] == 0 and results["tests"][0]["visibility"] == "visible"
    assert "Python environment could not start" in results["tests"][0]["output"]
