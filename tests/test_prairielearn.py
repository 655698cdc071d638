"""The PrairieLearn question (issue 19, item 3): what ``python -m autograder prairielearn`` writes, and its entry point
run in a simulated ``/grade`` (``PRAIRIELEARN_ROOT``) grading a correct, a wrong, an empty and a broken hand-in.

Files arrive in ``/grade/student`` as ``pl-file-upload`` stores them: flat, by their own names. Locally the
grading runs with bubblewrap; container mode, where user namespaces are refused, is tested through the same
harness in ``test_container_isolation.py`` (root only).
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.assignment import check_cells, exercises, mutants, regions
from autograder.harnesses import common, prairielearn
from autograder.sandbox import bubblewrap, container

from .harness_reports import one_student_report, part
from .test_hygiene import ROOT

SEED = 4242


@pytest.fixture(scope="module")
def question(tmp_path_factory):
    out = tmp_path_factory.mktemp("pl") / "ddpm-handin"
    prairielearn.build(out, seed=SEED, image="example/ddpm-grader", timeout=600)
    return out


def grade(question, tmp_path, fill):
    """PrairieLearn's grading job, simulated: the question's ``tests/`` in ``/grade/tests``, the hand-in that
    ``fill(folder)`` writes in ``/grade/student``, then the entry point; the results.json it wrote."""
    root = tmp_path / "grade"
    shutil.copytree(question / "tests", root / "tests")
    (root / "student").mkdir()
    fill(root / "student")
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),  # its python3
        "PRAIRIELEARN_ROOT": str(root),
        common.ISOLATION_ENV: container.BUBBLEWRAP,
    }
    done = subprocess.run([str(root / "tests" / "run.sh")], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["gradable"] is True, results
    assert 0.0 <= results["score"] <= 1.0 and isinstance(results["message"], str)
    for test in results["tests"]:
        assert {"name", "points", "max_points", "message", "output"} <= set(test), test
    return results


def flat_solutions(folder):
    """The helpers as pl-file-upload stores them: flat, by their own names."""
    for module in exercises.MODULES:
        shutil.copyfile(ROOT / "solutions" / f"{module}.py", folder / f"{module}.py")


def test_the_question_holds_what_prairielearn_reads(question):
    info = json.loads((question / "info.json").read_text())
    assert info["gradingMethod"] == "External" and info["type"] == "v3" and len(info["uuid"]) == 36
    options = info["externalGradingOptions"]
    assert options == {"enabled": True, "image": "example/ddpm-grader", "entrypoint": "/grade/tests/run.sh", "timeout": 600}
    html = (question / "question.html").read_text()
    assert "<pl-file-upload" in html and "*.zip" in html and "<pl-external-grader-results>" in html
    run_sh = question / "tests" / "run.sh"
    assert run_sh.stat().st_mode & 0o111 and "python3 -m autograder.harnesses.prairielearn" in run_sh.read_text()
    course = question / "tests" / "course"
    config = json.loads((course / prairielearn.CONFIG).read_text())
    assert config["seed"] == SEED and config["grade_timeout"] < options["timeout"]
    assert (course / "autograder" / "assignment" / "hidden_tests").is_dir() and (course / "solutions").is_dir()
    assert not (course / "tests").exists() and not (course / ".git").exists()
    dockerfile = (question / "image" / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3" in dockerfile and "bubblewrap" in dockerfile
    assert "useradd --system" in dockerfile and "ddpm-student" in dockerfile and "'torch>=" in dockerfile
    requirements = (question / "image" / "requirements.txt").read_text()
    assert "pyseccomp" in requirements and "-r " not in requirements
    bash = shutil.which("bash")
    assert subprocess.run([bash, "-n", str(run_sh)]).returncode == 0


def test_refuses_to_write_the_question_inside_the_course():
    with pytest.raises(ValueError, match="inside the course"):
        prairielearn.build(ROOT / "pl-question", seed=1)


def test_a_report_becomes_a_score_between_0_and_1_with_one_test_per_part():
    student = {"isolation": "bubblewrap 0.8.0, seccomp", "self_checks": {"extract": True, "p_sample": False}}
    report = one_student_report(1.0, student, isolation="bubblewrap 0.8.0 ...", isolation_mode="bubblewrap")
    results = prairielearn.convert(report, notes=["several zips uploaded"])
    assert results["gradable"] and results["score"] == pytest.approx(3.5 / 4)  # extra credit on top of 2.5 / 4
    assert [t["name"] for t in results["tests"]] == [
        "extract: a[t] shaped", "p_sample: mean", "p_sample: noise", "ddim_step (extra credit): deterministic",
    ]  # fmt: skip
    failed = results["tests"][2]
    assert failed["points"] == 0 and failed["max_points"] == 1.5 and failed["message"] == "1 of 4 cases fail"
    assert "Score: 2.5 / 4, plus extra credit 1 / 1" in results["message"] and "- several zips uploaded" in results["message"]
    assert "Your code ran isolated by: bubblewrap 0.8.0" in results["message"] and results["isolation_mode"] == "bubblewrap"
    report["students"][0]["verdicts"]["p_sample"] = {"points": 3.0, "max": 3.0, "parts": [part("mean", 3.0, 3.0, True)]}
    assert prairielearn.convert(report)["score"] == 1.0  # capped: PrairieLearn's scores are 0 to 1


def test_when_grading_cannot_run_the_results_say_why_and_charge_no_attempt(question, tmp_path):
    root = tmp_path / "grade"
    shutil.copytree(question / "tests", root / "tests")
    (root / "student").mkdir()
    env = {**os.environ, "PRAIRIELEARN_ROOT": str(root), bubblewrap.BWRAP_ENV: str(tmp_path / "no-bwrap")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env[common.ISOLATION_ENV] = container.BUBBLEWRAP
    done = subprocess.run([str(root / "tests" / "run.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["gradable"] is False and results["score"] == 0
    assert "not with your work" in results["message"] and "without a sandbox" in results["message"]


@pytest.mark.slow
def test_correct_files_score_1(question, tmp_path):
    results = grade(question, tmp_path, flat_solutions)
    assert results["score"] == 1.0, results["message"]
    points = check_cells.exercise_points()
    assert sum(t["max_points"] for t in results["tests"]) == pytest.approx(sum(points.values()))
    assert all(t["points"] == t["max_points"] for t in results["tests"])
    assert results["isolation_mode"] == "bubblewrap" and results["seed"] == SEED


@pytest.mark.slow
def test_a_wrong_zip_scores_below_1(question, tmp_path):
    mutant = mutants.MUTANTS[0]
    bonus = {module for exercise, module in regions.module_by_exercise().items() if exercise in check_cells.bonus_exercises()}

    def fill(folder):  # the required modules, one with a known mistake; no extra credit to make up for it
        with zipfile.ZipFile(folder / "my-work.zip", "w") as archive:
            for module in sorted(set(exercises.MODULES) - bonus):
                text = (ROOT / "solutions" / f"{module}.py").read_text()
                archive.writestr(f"ddpm/helpers/{module}.py", mutants.apply(mutant, text) if module == mutant.module else text)

    results = grade(question, tmp_path, fill)
    assert 0 < results["score"] < 1
    lost = [t["name"].split(":")[0] for t in results["tests"] if t["points"] < t["max_points"]]
    assert mutant.exercise in lost and all(name == mutant.exercise or "(extra credit)" in name for name in lost), lost


@pytest.mark.slow
@pytest.mark.parametrize(
    "fill, said",
    [
        (lambda folder: None, "helpers"),  # nothing uploaded
        (lambda folder: (folder / "work.zip").write_bytes(b"PK\x03\x04 not really a zip"), "zip"),
        (lambda folder: (folder / "schedules.py").write_text("def cosine_beta_schedule(:\n"), "schedules.py"),
    ],
    ids=["empty", "broken-zip", "syntax-error"],
)
def test_an_empty_or_broken_hand_in_is_graded_with_a_message(question, tmp_path, fill, said):
    results = grade(question, tmp_path, fill)
    assert results["score"] < 1 and said in results["message"], results["message"]
