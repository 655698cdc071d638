"""An instructor's semester, one test per problem an instructor met (issue 10): add an exercise,
change points, check an edited reference, regrade one student, keep manual decisions, late
penalties, LMS downloads, stray files and grading twice into one class folder."""

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.assignment import check_cells, exercises, regions
from autograder.authoring import stubs
from autograder.paths import ROOT
from autograder.reporting import overrides

SOLUTION_MODULES = sorted(p.name for p in stubs.SOLUTIONS.glob("*.py") if p.name != "__init__.py")


COURSE_PARTS = ("autograder", "solutions", "helpers", "notebooks", "pyproject.toml", "requirements.txt")


def _copy_course(dest):
    """A copy of what the course's commands read (no git needed: CI's checkout has no .git)."""
    ignore = shutil.ignore_patterns("__pycache__", "course", ".ipynb_checkpoints")
    for part in COURSE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=ignore)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / part)
    return dest


def _cli(*args, cwd=ROOT, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def _solution_hand_in(folder, solutions=stubs.SOLUTIONS, edit=None):
    (folder / "helpers").mkdir(parents=True)
    for name in SOLUTION_MODULES:
        text = (Path(solutions) / name).read_text()
        (folder / "helpers" / name).write_text(edit(name, text) if edit else text)
    return folder


def _rows(out):
    return {row["student_id"]: row for row in csv.DictReader(open(out / "grades.csv"))}


QUADRATIC = (
    "    _check_timesteps(timesteps)\n"
    "    return torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=torch.float32) ** 2\n"
)


@pytest.mark.slow
def test_add_an_exercise_after_submissions_exist(tmp_path):
    """Solution region + new-exercise + helpers: validate passes (with a mutant of the new exercise
    caught), and a class graded before the exercise existed is regraded without nbgrader breaking."""
    course = _copy_course(tmp_path / "course")
    subs, out, nbcourse = tmp_path / "subs", tmp_path / "out", tmp_path / "nbgrader"
    _solution_hand_in(subs / "ada")
    done = _cli("grade", subs, "--out", out, "--course-dir", nbcourse, "--seed", 5, cwd=course)
    assert done.returncode == 0, done.stderr[-3000:]

    schedules = course / "solutions" / "schedules.py"
    text = schedules.read_text()
    assert QUADRATIC in text
    region = (
        QUADRATIC.replace("    return", "    # BEGIN SOLUTION: the betas, float32, shape (timesteps,)\n    return")
        + "    # END SOLUTION\n"
    )
    schedules.write_text(text.replace(QUADRATIC, region))
    done = _cli("new-exercise", "quadratic_beta_schedule", "--module", "schedules", "--notebook", "01", cwd=course)
    assert done.returncode == 0, done.stderr
    table = course / "autograder" / "assignment" / "exercises.py"
    mutant = 'M("quadratic_no_square", "dtype=torch.float32) ** 2", "dtype=torch.float32)", "The square is missing.")'
    table.write_text(table.read_text().replace("        mutants=(),\n", f"        mutants=({mutant},),\n", 1))
    assert _cli("helpers", cwd=course).returncode == 0
    assert "check_quadratic_beta_schedule" in (course / "notebooks" / "01_noise_schedules.ipynb").read_text()

    done = _cli("validate", "--only", "quadratic_no_square", "variance_as_std", cwd=course)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quadratic_beta_schedule 1/1" in done.stdout and "killed   quadratic_no_square" in done.stdout

    # the class is regraded with the new exercise: nbgrader's course follows, nothing is "unavailable"
    shutil.rmtree(subs / "ada")
    _solution_hand_in(subs / "ada", course / "solutions")
    done = _cli("grade", subs, "--out", out, "--course-dir", nbcourse, cwd=course)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recorded again" in done.stderr
    row = _rows(out)["ada"]
    assert row["quadratic_beta_schedule"] == "1" and "nbgrader" not in row["flags"], row


def test_points_live_in_the_table_and_reach_the_notebooks(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    assert check_cells.drift(notebooks) == []
    monkeypatch.setitem(exercises.POINTS, "extract", 5.0)
    drift = check_cells.drift(notebooks)
    assert len(drift) == 1 and "check_extract has 1 points, the table 5" in drift[0]
    changed = check_cells.sync_points(notebooks)
    assert [p.name for p in changed] == ["01_noise_schedules.ipynb"]
    assert check_cells.drift(notebooks) == []
    cell = next(
        c for c in json.loads((notebooks / "01_noise_schedules.ipynb").read_text())["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "check_extract"
    )  # fmt: skip
    assert cell["metadata"]["nbgrader"]["points"] == 5
    assert check_cells.course_cells(notebooks)["check_extract"][2] == 5.0


def test_the_table_is_the_one_list_of_exercises():
    assert exercises.check_table() == []
    assert set(regions.module_by_exercise()) == set(exercises.EXERCISES)
    assert {t.exercise for t in exercises.TASKS} == set(exercises.EXERCISES)
    assert exercises.MAX_TOTAL == sum(exercises.POINTS[e] for e in exercises.REQUIRED)
    assert exercises.BONUS == ["ddim_step", "p_losses_cfg", "p_sample_guided"]


COSINE = "f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2)"


@pytest.mark.parametrize(("old", "new", "named"), [(COSINE + " ** 2", COSINE, "cosine_beta_schedule")])
def test_a_wrong_reference_fails_validate_by_name(tmp_path, old, new, named):
    course = _copy_course(tmp_path / "course")
    path = course / "solutions" / "schedules.py"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    code = "from autograder.authoring.validate import check_reference; print('\\n'.join(check_reference()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=course, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(named in line and "reference" in line for line in done.stdout.splitlines()), done.stdout


def test_a_syntax_error_in_solutions_is_one_line_per_command(tmp_path):
    course = _copy_course(tmp_path / "course")
    path = course / "solutions" / "schedules.py"
    path.write_text(path.read_text().replace("def linear_beta_schedule(", "def linear_beta_schedule((", 1))
    assert _cli("--help", cwd=course).returncode == 0
    for command in (
        ["validate"],
        ["helpers"],
        ["grade", tmp_path, "--out", tmp_path / "o"],
        ["release", "--repo-url", "https://github.com/o/r"],
    ):
        done = _cli(*command, cwd=course, timeout=120)
        assert done.returncode == 2, (command, done.stderr)
        assert "Traceback" not in done.stderr and "solutions/schedules.py:" in done.stderr, (command, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (command, done.stderr)


def test_overrides_file_is_checked_line_by_line(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("student_id,exercise,points,reason\nada,extract,1,regrade request\nbob,nope,1,x\n")
    with pytest.raises(overrides.OverridesError, match="line 3: unknown exercise 'nope'"):
        overrides.load_overrides(path, exercises.POINTS)
    path.write_text("student_id,exercise,points,reason\nada,extract,1,\n")
    with pytest.raises(overrides.OverridesError, match="needs a student_id and a reason"):
        overrides.load_overrides(path, exercises.POINTS)
    path.write_text("student_id,exercise,points,reason\nada,extract,0.5,first\nada,extract,1,second\n")
    assert overrides.load_overrides(path, exercises.POINTS) == {"ada": {"extract": (1.0, "second")}}


def _zip(folder, target):
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*.py")):
            archive.write(path, path.relative_to(folder).as_posix())


def _set_formgrader_score(nbcourse, student, exercise, points):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{nbcourse / 'gradebook.db'}", course_id="ddpm") as gb:
        grade = gb.find_grade(f"check_{exercise}", "grading", "ddpm", student)
        grade.manual_score = points
        gb.db.commit()


@pytest.mark.slow
def test_a_semester_regrade_overrides_formgrader_late_and_lms(tmp_path):
    """Moodle download with a roster and stray files, a late hand-in, then: regrade one student,
    an override and a Formgrader score that survive it, grading twice into one folder."""
    subs, out, nbcourse = tmp_path / "moodle", tmp_path / "grading", tmp_path / "nbgrader"
    due = dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)
    # Moodle: one folder per participant holding the student's zip
    for name, pid, late_days in (("Ada Lovelace", "101", 0), ("Bob Stub", "102", 2)):
        folder = subs / f"{name}_{pid}_assignsubmission_file_"
        folder.mkdir(parents=True)
        hand_in = _solution_hand_in(tmp_path / "work" / pid)
        if pid == "102":  # Bob handed in the stubs of sampling.py
            shutil.copy(stubs.HELPERS / "sampling.py", hand_in / "helpers" / "sampling.py")
        _zip(hand_in, folder / "ddpm.zip")
        when = (due - dt.timedelta(hours=1) + dt.timedelta(days=late_days)).timestamp()
        os.utime(folder / "ddpm.zip", (when, when))
    (subs / "roster.csv").write_text("x\n")
    (subs / "__MACOSX").mkdir()
    (subs / ".DS_Store").write_text("junk")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,email,moodle_id\nada,Ada Lovelace,ada@uni.edu,101\nbob,Bob Stub,bob@uni.edu,102\n"
                      "cy,Cy Absent,cy@uni.edu,103\n")  # fmt: skip
    config = tmp_path / "course.ini"
    config.write_text(f"[late]\ndue = {due.isoformat()}\nrule = -10% per day, max 3 days\ntimezone = UTC\n")
    common = ["--course-dir", nbcourse, "--roster", roster, "--config", config]

    done = _cli("grade", subs, "--out", out, "--seed", 9, *common)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cy" in done.stderr  # a roster student without a hand-in is said
    rows = _rows(out)
    assert sorted(rows) == ["ada", "bob"], rows.keys()  # roster.csv, __MACOSX, .DS_Store: skipped, never graded
    full = sum(exercises.POINTS.values())  # the bonus counts in total, not in max_total
    assert float(rows["ada"]["total"]) == full and float(rows["ada"]["max_total"]) == exercises.MAX_TOTAL
    assert rows["ada"]["late_penalty"] == "0"
    bob = rows["bob"]
    assert float(bob["p_sample"]) == 0 and float(bob["late_minutes"]) > 24 * 60 and bob["late_penalty"] == "20%"
    assert float(bob["total"]) == pytest.approx(0.8 * float(bob["points"]))

    # Bob's sampling.py is fixed; an override for Ada and a Formgrader score for Bob must survive the regrade
    (out / "overrides.csv").write_text("student_id,exercise,points,reason\nada,extract,0.5,copied code\n")
    _set_formgrader_score(nbcourse, "bob", "ResnetBlock", 1.0)
    bob_zip = next(subs.glob("Bob*")) / "ddpm.zip"
    stat = bob_zip.stat()
    shutil.copy(stubs.SOLUTIONS / "sampling.py", tmp_path / "work" / "102" / "helpers" / "sampling.py")
    _zip(tmp_path / "work" / "102", bob_zip)
    os.utime(bob_zip, (stat.st_atime, stat.st_mtime))
    done = _cli("grade", subs, "--out", out, "--only", "bob", *common)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 earlier row(s) kept" in done.stderr
    rows = _rows(out)
    assert sorted(rows) == ["ada", "bob"]
    assert rows["ada"]["extract"] == "0.5" and "copied code" in rows["ada"]["adjustments"]
    assert float(rows["bob"]["p_sample"]) == 3 and rows["bob"]["ResnetBlock"] == "1"
    assert "score set by hand" in rows["bob"]["adjustments"]
    report = json.loads((out / "report.json").read_text())
    assert report["seed"] == 9  # the class's seed, reused
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["ada.html", "bob.html"]

    # a mistyped id regrades nobody and says so; the class's roster is remembered
    done = _cli("grade", subs, "--out", out, "--only", "zed", "--course-dir", nbcourse, "--config", config)
    assert done.returncode == 2 and "no hand-in for zed" in done.stderr and "ada, bob" in done.stderr

    # a new override applied without regrading anyone (`--only` with no id)
    with open(out / "overrides.csv", "a") as f:
        f.write("bob,q_sample,0,identical to ada's\n")
    done = _cli("grade", subs, "--out", out, "--only", *common)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(out)
    assert rows["bob"]["q_sample"] == "0" and "identical to ada's" in rows["bob"]["adjustments"]
    assert rows["ada"]["extract"] == "0.5" and rows["bob"]["ResnetBlock"] == "1"

    # grading the whole class again into the same folder merges; another seed is refused
    done = _cli("grade", subs, "--out", out, "--seed", 10, *common)
    assert done.returncode == 2 and "seed 9" in done.stderr
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text("mine")
    done = _cli("grade", subs, "--out", tmp_path / "elsewhere", *common)
    assert done.returncode == 2 and "no report.json" in done.stderr

    # export to the LMS from the same folder
    done = _cli("export", out, "--roster", roster, "--moodle", tmp_path / "moodle.csv", "--assignment", "DDPM")
    assert done.returncode == 0, done.stderr
    moodle = list(csv.DictReader(open(tmp_path / "moodle.csv")))
    assert [r["Email address"] for r in moodle][:2] == ["ada@uni.edu", "bob@uni.edu"]
