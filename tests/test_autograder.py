"""The autograder: hidden tests, sandbox, release leak check, and the adversarial corpus
graded end to end through the real CLI and real nbgrader (``-m slow`` for the long ones)."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.assignment import check_cells, exercises, mutants, regions
from autograder.authoring import release, stubs
from autograder.grading.grading_run import GradingRun
from autograder.intake import submission
from autograder.paths import ROOT


def _config():
    from traitlets.config import Config

    c = Config()
    exec((ROOT / "autograder" / "reporting" / "nbgrader_config.py").read_text(), {"get_config": lambda: c})
    return c


def test_every_exercise_has_hidden_tests_and_points():
    assert set(regions.module_by_exercise()) == set(exercises.EXERCISES)
    points = check_cells.exercise_points()
    assert set(points) == set(exercises.EXERCISES) and all(p > 0 for p in points.values())


def test_nbgrader_config_keeps_student_helpers_and_ignores_stderr():
    c = _config()
    kept = set(c.Autograde.exclude_overwriting["ddpm"])
    assert kept == {f"helpers/{m}.py" for m in set(regions.module_by_exercise().values())}
    assert c.OverwriteCells.add_missing_cells is True
    assert c.IgnorePattern.enabled is True and c.IgnorePattern.pattern
    assert c.Execute.timeout > 0
    assert c.HTMLExporter.sanitize_html is True


def test_mutants_apply_to_the_current_solutions():
    for mutant in mutants.MUTANTS:
        text = (stubs.SOLUTIONS / f"{mutant.module}.py").read_text()
        assert mutants.apply(mutant, text) != text
        assert regions.module_by_exercise()[mutant.exercise] == mutant.module
    assert len({m.pitfall for m in mutants.MUTANTS if m.pitfall}) >= 12


def _fake_bundle(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "helpers").mkdir(parents=True)
    for name, text in stubs.generate(release=True).items():
        (bundle / "helpers" / name).write_text(text)
    (bundle / "notebooks").mkdir()
    nb = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "x = 1\n"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (bundle / "notebooks" / "01.ipynb").write_text(json.dumps(nb))
    return bundle, nb


def test_leak_check_is_clean_on_stubs_and_catches_every_kind_of_leak(tmp_path):
    bundle, nb = _fake_bundle(tmp_path)
    assert release.leak_check(bundle) == []
    line = sorted(release.solution_lines())[0]
    nb["cells"][0]["source"] = f"# look\n{line}\n"
    (bundle / "notebooks" / "01.ipynb").write_text(json.dumps(nb))
    assert any("solution line" in leak for leak in release.leak_check(bundle))
    bundle2, _ = _fake_bundle(tmp_path / "b2")
    shutil.copytree(stubs.SOLUTIONS, bundle2 / "solutions")
    assert any("solutions/ file" in leak for leak in release.leak_check(bundle2))
    bundle3, _ = _fake_bundle(tmp_path / "b3")
    shutil.copyfile(ROOT / "autograder" / "assignment" / "hidden_tests" / "per_run.py", bundle3 / "notes.py")
    assert any("hidden-test code" in leak for leak in release.leak_check(bundle3))
    zip_path = tmp_path / "b4.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("b/helpers/extra.py", (stubs.SOLUTIONS / "forward.py").read_text())
    assert any("BEGIN SOLUTION" in leak for leak in release.leak_check(_fake_bundle(tmp_path / "b5")[0], zip_path))


def test_zip_reading_skips_traversal_links_and_junk(tmp_path):
    archive = tmp_path / "s1.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../evil.py", "x = 1")
        z.writestr("helpers/forward.py", "x = 2")
        z.writestr(".git/objects/ab/cdef", "blob")
        link = zipfile.ZipInfo("helpers/losses.py")
        link.external_attr = 0o120777 << 16  # a symbolic link member
        z.writestr(link, "../../solutions/losses.py")
    sub = submission.read(archive)
    assert sub.helpers["forward.py"] == b"x = 2" and "losses.py" not in sub.helpers
    assert not any("evil" in path for path in sub.files)
    assert "helpers/schedules.py missing: its exercises score 0" in sub.flags
    skipped = next(f for f in sub.flags if f.startswith("skipped:"))
    assert "paths outside the zip" in skipped and "symbolic links" in skipped and ".git/" in skipped


def test_student_ids_are_cleaned_and_never_merged():
    rows = submission.assign_ids(["bob", "bob ", ".bob", "+1+1", "=HYPERLINK(1)", "alice.zip", "alice"])
    ids = [sid for _name, sid, _flag in rows]
    assert len(set(ids)) == len(ids) and ids[0] == "bob" and ids[5] == "alice"
    assert all(flag for _name, sid, flag in rows[1:5]) and not rows[0][2]
    assert not any(sid[0] in "=+-@" for sid in ids)


@pytest.fixture(scope="module")
def grading_run():
    with GradingRun(seed=123, self_checks=False) as run:
        yield run


def test_reference_full_marks_and_stubs_zero(grading_run, tmp_path):
    points = check_cells.exercise_points()
    full = grading_run.grade({m: stubs.SOLUTIONS / f"{m}.py" for m in exercises.MODULES}, points)
    assert (full.import_errors, full.events) == ({}, [])
    assert {e: v.points for e, v in full.verdicts.items()} == points
    zero = grading_run.grade({m: stubs.HELPERS / f"{m}.py" for m in exercises.MODULES}, points)
    assert all(v.points == 0 for v in zero.verdicts.values())


def test_a_broken_dependency_costs_only_its_own_exercise(grading_run, tmp_path):
    files = {}
    for m in exercises.MODULES:
        files[m] = tmp_path / f"{m}.py"
        text = (stubs.SOLUTIONS / f"{m}.py").read_text()
        if m == "schedules":  # a broken extract and DiffusionSchedule: q_sample, p_losses, p_sample stay full
            text = text.replace("    out = a[t.to(a.device)]", "    out = a[t.to(a.device)] * 2")
            text = text.replace("self.alphas = 1.0 - betas", "self.alphas = 1.0 - 2 * betas")
        files[m].write_text(text)
    verdicts = grading_run.grade(files).verdicts
    assert verdicts["extract"].points == 0
    for exercise in ("q_sample", "p_losses", "p_sample", "p_sample_loop"):
        assert verdicts[exercise].points == verdicts[exercise].max, exercise


# ----------------------------------------------------------------------------- end to end (slow)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "ddpm-course"
    return release.build(out, repo_url="https://github.com/example-org/ddpm-student")


@pytest.mark.slow
def test_release_bundle(bundle):
    assert (bundle / "README.md").exists() and (bundle / "requirements.txt").exists()
    assert bundle.with_suffix(".zip").exists()
    assert sorted(p.name for p in (bundle / "notebooks").glob("*.ipynb")) == [p.name for p in check_cells.notebook_paths()]
    assert not (bundle / "solutions").exists()
    assert release.leak_check(bundle, bundle.with_suffix(".zip")) == []
    text = "".join(p.read_text() for p in (bundle / "notebooks").glob("*.ipynb"))
    assert "github.com/example-org/ddpm-student" in text and "{{REPO_URL}}" not in text


@pytest.mark.slow
def test_release_installs_no_course_tooling(bundle, tmp_path):
    """What `pip install -r requirements.txt` of the release would install (resolved, not installed):
    Jupyter Notebook and ipywidgets, no nbgrader, pytest or diffusers."""
    from tests.test_hygiene import FRONT_END_BRINGS, TOOLING

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "--python", str(tmp_path / "venv" / "bin" / "python"), "install", "-q"]
    cmd += ["--dry-run", "--ignore-installed", "--report", str(report), "-r", str(bundle / "requirements.txt")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    names = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(report.read_text())["install"]}
    assert {"torch", "matplotlib", "ipykernel", "notebook", "ipywidgets"} <= names
    assert not names & (TOOLING - FRONT_END_BRINGS), names & TOOLING


def _run_grade(submissions, out, course, *extra):
    cmd = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--course-dir", str(course)]
    cmd += ["--jobs", "2", "--task-timeout", "10", "--import-timeout", "40", "--seed", "2024", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)


@pytest.mark.slow
def test_corpus_end_to_end(bundle, tmp_path):
    from tests import corpus

    cases = corpus.build(tmp_path / "submissions", bundle)
    done = _run_grade(tmp_path / "submissions", tmp_path / "out", tmp_path / "course")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert re.search(r"bubblewrap [0-9.]+ allow-list sandbox", report["isolation"])
    rows = {row["student_id"]: row for row in csv.DictReader(open(tmp_path / "out" / "grades.csv"))}
    bonus = check_cells.bonus_exercises()
    required = [e for e in exercises.EXERCISES if e not in bonus]
    assert bonus == ["ddim_step", "p_losses_cfg", "p_sample_guided"]
    header = ["student_id", *required, "points", "late_minutes", "late_penalty", "total", "max_total", *bonus]
    assert list(next(iter(rows.values()))) == [*header, "adjustments", "flags"]
    assert len(rows) == len(cases) + len(corpus.EXTRA)
    points = check_cells.exercise_points()
    failures = []
    for sid, case in cases.items():
        row = rows[sid]
        expected = corpus.expected_points(case)
        got = {e: float(row[e]) for e in exercises.EXERCISES}
        if got != expected:
            failures.append(f"{sid}: expected {expected}, got {got}")
        # the bonus is extra credit: in the total, not in max_total
        max_total = sum(points[e] for e in required)
        if abs(float(row["total"]) - sum(expected.values())) > 1e-9 or float(row["max_total"]) != max_total:
            failures.append(f"{sid}: total {row['total']} / {row['max_total']}")
        for flag in case.flags:
            if flag not in row["flags"]:
                failures.append(f"{sid}: flag {flag!r} missing from {row['flags']!r}")
        if not case.flags and case.points == {} and "tampering" in row["flags"]:
            failures.append(f"{sid}: unexpected tampering flag {row['flags']!r}")
    for sid, flags in corpus.EXTRA.items():
        assert float(rows[sid]["total"]) == 0
        for flag in flags:
            if flag not in rows[sid]["flags"]:
                failures.append(f"{sid}: flag {flag!r} missing")
    # "tampering" is said only where the grader observed it
    tampering = {sid for sid, row in rows.items() if "tampering" in row["flags"]}
    assert tampering == {"sys_modules_swap", "allclose_monkeypatch"}, tampering
    assert not failures, "\n".join(failures)

    # feedback: one HTML per student, visible results shown, hidden tests never
    fingerprints, _ = release.hidden_test_fingerprints()
    for sid in rows:
        html = (tmp_path / "out" / "feedback" / f"{sid}.html").read_text()
        assert not any(f in html for f in fingerprints) and "BEGIN HIDDEN TESTS" not in html
    full_html = (tmp_path / "out" / "feedback" / "full_solution.html").read_text()
    assert "check_q_sample" in full_html and "Hidden tests for" in full_html
    # a failed part is one line saying what was wrong, with no traceback through library frames
    failed = (tmp_path / "out" / "feedback" / "crash_os_exit.html").read_text()
    assert "failed: crashed" in failed and "Traceback (most recent" not in failed and 'File "' not in failed
    # a missing exercise: the one-line "not implemented yet", no contextlib frames, no grader paths
    stubs_html = (tmp_path / "out" / "feedback" / "untouched_stubs.html").read_text()
    assert "not implemented yet: q_sample (COMPLETE THIS in helpers/forward.py)" in stubs_html
    assert "contextlib" not in stubs_html and "/box/" not in stubs_html and "Traceback (most recent" not in stubs_html

    # nbgrader's own gradebook: the self-checks re-run in the sandbox as auto scores, the trusted
    # verdicts as the score; a deleted check cell is back in the autograded notebook
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'course' / 'gradebook.db'}", course_id="ddpm") as gb:
        for sid in ("full_solution", "warning_but_correct", "deleted_test_cell", "zip_submission", "own_module"):
            sub = gb.find_submission("ddpm", sid)
            auto = {g.name: g.auto_score for g in sub.notebooks[0].grades}
            assert all(g.auto_score == g.max_score for g in sub.notebooks[0].grades), (sid, auto)
            # nbgrader's score and maximum are grades.csv's (the bonus is extra credit over max_total)
            assert (sub.score, sub.max_score) == (float(rows[sid]["total"]), float(rows[sid]["max_total"]))
        assert gb.find_submission("ddpm", "untouched_stubs").score == 0
    restored = json.loads((tmp_path / "course" / "autograded" / "deleted_test_cell" / "ddpm" / "grading.ipynb").read_text())
    assert any(c["metadata"].get("nbgrader", {}).get("grade_id") == "check_q_sample" for c in restored["cells"])


@pytest.mark.slow
def test_grade_exit_codes(tmp_path):
    done = _run_grade(tmp_path / "does-not-exist", tmp_path / "out", tmp_path / "course", "--no-nbgrader")
    assert done.returncode != 0
    (tmp_path / "empty").mkdir()
    done = _run_grade(tmp_path / "empty", tmp_path / "out", tmp_path / "course", "--no-nbgrader")
    assert done.returncode == 0
    assert (tmp_path / "out" / "grades.csv").read_text().startswith("student_id,")


@pytest.mark.slow
def test_validate_passes_with_every_mutant_and_pitfall_killed(ci_outputs):
    """The assignment's self-test, whole: the suite's and CI's one run of it (CI keeps its report, validate.log)."""
    cmd = [sys.executable, "-m", "autograder", "validate"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if ci_outputs:
        (ci_outputs / "validate.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    every, pitfalls = len(mutants.MUTANTS), len([m for m in mutants.MUTANTS if m.pitfall])
    assert f"mutation score: {every}/{every} = 100% (§5 pitfalls: {pitfalls}/{pitfalls} = 100%)" in done.stdout, done.stdout
    assert "(no leak)" in done.stdout and "validate passed" in done.stdout


def test_without_bubblewrap_no_student_code_runs(monkeypatch, tmp_path):
    from autograder.sandbox import bubblewrap, detection

    monkeypatch.setattr(bubblewrap.shutil, "which", lambda name: None)
    with pytest.raises(bubblewrap.SandboxUnavailable, match="apt-get install bubblewrap"):
        detection.detect()
    # bwrap present but user namespaces refused (AppArmor on Ubuntu 23.10+): the reason and the fix
    fake = Path(tempfile.mkdtemp(dir="/tmp")) / "bwrap"  # where the sandbox user, as root, can run it
    fake.parent.chmod(0o755)
    help_text = "\n".join(f"    {option}  x" for option in sorted(bubblewrap.REQUIRED_OPTIONS))
    fake.write_text(
        "#!/bin/sh\n"
        f"case \"$1\" in --help) echo '{help_text}';; --version) echo 'bubblewrap 0.6.1';;\n"
        "*) echo 'bwrap: setting up uid map: Permission denied' >&2; exit 1;; esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(bubblewrap.shutil, "which", lambda name: str(fake))
    try:
        with pytest.raises(
            bubblewrap.SandboxUnavailable, match="uid map: Permission denied.*apparmor_restrict_unprivileged_userns"
        ):
            detection.detect()
    finally:
        shutil.rmtree(fake.parent)


@pytest.mark.slow
def test_grade_refuses_without_a_sandbox_and_flags_unsafe_runs(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice" / "helpers").mkdir(parents=True)
    env = {**os.environ, "PATH": str(tmp_path / "no-bin")}  # no bwrap on PATH
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(tmp_path / "out"), "--no-nbgrader"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 2 and "refusing to run student code" in done.stderr and "--unsafe-no-sandbox" in done.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
    done = subprocess.run([*cmd, "--unsafe-no-sandbox"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = csv.DictReader(open(tmp_path / "out" / "grades.csv"))
    assert row["student_id"] == "alice" and "graded WITHOUT a sandbox" in row["flags"]
