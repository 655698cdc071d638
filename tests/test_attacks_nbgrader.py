"""Issue 18, row 8: nbgrader's course folder holds nothing that runs student code, whoever autogrades it.

``grade`` records every student in an nbgrader course (``autograder/reporting/gradebook.py``) so that instructors
can grade by hand in Formgrader. Formgrader's per-submission "Autograde" button and ``nbgrader
autograde`` run outside the sandbox with the instructor's uid. Two layers keep student code out of
them: the course's config refuses to autograde (before anything in the course is touched), and the
recorded submission holds the student's work only as text, so an instructor whose own config
replaces the course's still runs no student code.

Each attack plants a canary: student code that, wherever it runs, creates a file in this test's
temporary folder. The sandbox cannot see that folder, so the file appears only if student code
ran on the instructor's side.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.assignment import check_cells, exercises
from autograder.authoring import stubs
from autograder.grading.student_row import StudentRow
from autograder.paths import ROOT
from autograder.records import ExerciseVerdict, PartVerdict
from autograder.reporting import gradebook

CHECK = "check_cosine_beta_schedule"  # the check cell the attacks edit (notebook 01, schedules.py)
STUDENT_MARK = "ATK-NBGRADER"  # in every line of code the student wrote, to find it wherever it lands


def _canary(path):
    """Code that leaves a file at ``path`` when it runs, and carries on where the folder is not there
    (in the sandbox), so that the student's module still imports and earns its points."""
    return f"try:  # {STUDENT_MARK}\n    open({str(path)!r}, 'w').write({STUDENT_MARK!r})\nexcept OSError:\n    pass\n"


def _instructor_env(home):
    """What an instructor's shell gives nbgrader: a home of its own, so no user config of this machine counts."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "LANG": "C.UTF-8",
    }


def _instructor(course, home, *args, script=None):
    """``nbgrader ARGS`` (or a Python script given ARGS) run by hand in the course folder, as the instructor would."""
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "nbgrader", *args]
    return subprocess.run(cmd, cwd=course, env=_instructor_env(home), capture_output=True, text=True, timeout=600)


# Formgrader's "Autograde" button, as its handler does it: the server's config (course folder as the
# working directory), then NbGraderAPI.autograde(assignment, student) (nbgrader/server_extensions/formgrader).
FORMGRADER_BUTTON = """
import json, sys
from nbgrader.apps import NbGrader
from nbgrader.apps.api import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
app = NbGrader()
app.load_config_file()
coursedir = CourseDirectory(parent=app)
api = NbGraderAPI(coursedir, Authenticator(parent=app), parent=app)
print(json.dumps(api.autograde("ddpm", sys.argv[1])))
"""


def _student(tmp_path):
    """A student's recorded work, as ``grade`` hands it to ``Course.record``: a check cell and a helpers
    module that each write a canary when run."""
    cells = check_cells.course_cells()
    source = cells[CHECK][1]
    student_cells = {g: (src, "") for g, (_nb, src, _p) in cells.items()}
    student_cells[CHECK] = (source + "\n" + _canary(tmp_path / "canary-cell"), "passed\n")
    helpers = {
        "schedules.py": (_canary(tmp_path / "canary-helpers") + (stubs.SOLUTIONS / "schedules.py").read_text()).encode(),
        "mine.py": _canary(tmp_path / "canary-own-module").encode(),  # an extra module of the student's own
    }
    return student_cells, helpers


def _row(sid, cells):
    """A graded row as ``grade`` makes it: every exercise full marks, every self-check passed."""
    verdicts, checks = {}, {}
    for grade_id, (_nb, _src, points) in cells.items():
        exercise = grade_id[len("check_") :]
        verdicts[exercise] = ExerciseVerdict(points, points, [PartVerdict("value", points, points, True, "")])
        checks[exercise] = (True, "ok")
    return StudentRow(sid, verdicts, checks, regraded=True)


def _canaries(tmp_path):
    return sorted(p.name for p in tmp_path.glob("canary-*"))


def _recorded_course(tmp_path, sid="alice"):
    """A course folder with one student recorded the way ``grade`` records them (no sandbox needed)."""
    cells = check_cells.course_cells()
    course = gradebook.Course(tmp_path / "course", cells, tmp_path / "grader-home")
    student_cells, helpers = _student(tmp_path)
    with course.locked():
        course.build(log=lambda line: None)
        course.record(_row(sid, cells), student_cells, helpers, {})
    return course


def _scores(course, sid):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course_id="ddpm") as gb:
        grades = gb.find_submission("ddpm", sid).notebooks[0].grades
        return {g.name: (g.auto_score, g.max_score) for g in grades}


def _student_code_cells(notebook_path):
    """Code cells whose source holds anything the student wrote."""
    nb = json.loads(Path(notebook_path).read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code" and STUDENT_MARK in "".join(c["source"])]


def _runnable_files(folder):
    """Files Python could import or a kernel could load: anything named like a module, a package or a
    native extension (what an ``import`` in a check cell or a ``sys.path`` entry would pick up)."""
    suffixes = (".py", ".pyc", ".pyw", ".so", ".pth", ".pyd")
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.name.endswith(suffixes))


def test_submission_holds_the_students_work_only_as_text(tmp_path):
    """The recorded submission (submitted/<id>/ddpm) has no importable module and no code cell of the
    student's, and still shows the instructor what the student handed in."""
    course = _recorded_course(tmp_path)
    submitted = course.root / "submitted" / "alice" / "ddpm"
    assert _runnable_files(submitted) == []
    assert _student_code_cells(submitted / "grading.ipynb") == []
    # what the student wrote is still there to read, byte for byte for the modules
    nb_text = (submitted / "grading.ipynb").read_text()
    assert nb_text.count(STUDENT_MARK) >= 1
    texts = {p.name: p.read_bytes() for p in submitted.rglob("*") if p.is_file() and p.suffix != ".ipynb"}
    _cells, helpers = _student(tmp_path)
    assert sorted(texts.values()) == sorted(helpers.values())


def test_nbgrader_autograde_in_the_course_folder_runs_no_student_code(tmp_path):
    """`nbgrader autograde ddpm --force`, as an instructor would type it in the course folder: refused by
    the course's config before it touches anything; the gradebook, the autograded notebook Formgrader shows
    and nbgrader's feedback are as `grade` left them."""
    course = _recorded_course(tmp_path)
    autograded = course.root / "autograded" / "alice" / "ddpm" / "grading.ipynb"
    before = (_scores(course, "alice"), autograded.read_text())
    done = _instructor(course.root, tmp_path / "instructor", "autograde", "ddpm", "--force")
    assert _canaries(tmp_path) == [], done.stdout[-2000:] + done.stderr[-2000:]
    assert done.returncode != 0 and "python -m autograder grade" in done.stdout + done.stderr
    assert (_scores(course, "alice"), autograded.read_text()) == before
    # full marks: every required cell at its maximum; a bonus cell is worth 0, what it earned is extra credit
    bonus = {f"check_{e}" for e in exercises.BONUS}
    assert all(auto == top and (top > 0) == (name not in bonus) for name, (auto, top) in before[0].items())
    # the manual-grading flow goes on: feedback from the notebook `grade` wrote
    done = _instructor(course.root, tmp_path / "instructor", "generate_feedback", "ddpm", "--force")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    feedback = (course.root / "feedback" / "alice" / "ddpm" / "grading.html").read_text()
    assert "Hidden tests for" in feedback and CHECK in feedback
    assert _canaries(tmp_path) == []


def test_formgrader_autograde_button_runs_no_student_code(tmp_path):
    """The button's code path (NbGraderAPI.autograde with the server's config): refused, nothing runs,
    the scores stay."""
    course = _recorded_course(tmp_path)
    before = _scores(course, "alice")
    done = _instructor(course.root, tmp_path / "instructor", "alice", script=FORMGRADER_BUTTON)
    done_args = done.stdout + done.stderr
    assert _canaries(tmp_path) == [], done_args[-3000:]
    assert done.stdout.strip(), done_args[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["success"] is False and "python -m autograder grade" in result.get("log", ""), result
    assert _scores(course, "alice") == before


def test_autograde_under_the_instructors_own_config_runs_no_student_code(tmp_path):
    """An instructor whose nbgrader config replaces the course's (Formgrader started elsewhere, with its
    own nbgrader_config.py): autograde is not refused, and still finds no student code to run."""
    course = _recorded_course(tmp_path)
    own = f"c = get_config()\nc.CourseDirectory.root = {str(course.root)!r}\nc.CourseDirectory.course_id = 'ddpm'\n"
    (course.root / "nbgrader_config.py").write_text(own)
    done = _instructor(course.root, tmp_path / "instructor", "autograde", "ddpm", "--force")
    assert _canaries(tmp_path) == [], done.stdout[-2000:] + done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]  # it did run, on what it found
    autograded = course.root / "autograded" / "alice" / "ddpm"
    assert _student_code_cells(autograded / "grading.ipynb") == []
    # what it copied from submitted/ next to the course's modules: no module of the student's
    assert [f for f in _runnable_files(autograded) if STUDENT_MARK.encode() in (autograded / f).read_bytes()] == []


def test_a_course_recorded_before_the_fix_is_made_inert(tmp_path):
    """A course folder from an earlier version of `grade` holds student modules and code cells under
    submitted/; a merge run that keeps that row (nothing regraded) leaves nothing runnable behind."""
    course = _recorded_course(tmp_path)
    submitted = course.root / "submitted" / "alice" / "ddpm"
    # the earlier layout: the student's modules as helpers/*.py, their check cells as code cells
    shutil.rmtree(submitted)
    (submitted / "helpers").mkdir(parents=True)
    _cells, helpers = _student(tmp_path)
    for name, data in helpers.items():
        (submitted / "helpers" / name).write_bytes(data)
    old = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                      "source": gradebook.PREFIX + _canary(tmp_path / "canary-old-cell")}],
           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    (submitted / "grading.ipynb").write_text(json.dumps(old))
    # and where an instructor's `nbgrader autograde` of that version copied the student's modules
    autograded = course.root / "autograded" / "alice" / "ddpm"
    (autograded / "helpers").mkdir()
    (autograded / "helpers" / "schedules.py").write_bytes(helpers["schedules.py"])
    cells = check_cells.course_cells()
    with course.locked():
        course.build(log=lambda line: None)
        course.record(_row("alice", cells), None, None, {})  # a row kept from the earlier run
    assert _runnable_files(submitted) == []
    assert _student_code_cells(submitted / "grading.ipynb") == []
    # nothing the student wrote was lost: it is kept as text
    assert sorted(p.read_bytes() for p in submitted.rglob("*") if p.is_file() and p.suffix != ".ipynb") == sorted(
        helpers.values()
    )
    assert "canary-old-cell" in (submitted / "grading.ipynb").read_text()
    assert [f for f in _runnable_files(autograded) if STUDENT_MARK.encode() in (autograded / f).read_bytes()] == []
    # the autograded notebook Formgrader shows keeps the course's checks as graded code cells
    graded = [c for c in json.loads((autograded / "grading.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    assert {c["metadata"]["nbgrader"]["grade_id"] for c in graded} == set(cells)


# ----------------------------------------------------------------------------- end to end


def _hand_in(folder, tmp_path):
    """One hand-in: a helpers module and a check cell, each writing a canary when run."""
    student_cells, helpers = _student(tmp_path)
    (folder / "helpers").mkdir(parents=True)
    for name, data in helpers.items():
        (folder / "helpers" / name).write_bytes(data)
    nb_name, _source, points = check_cells.course_cells()[CHECK]
    meta = {"nbgrader": {"grade": True, "grade_id": CHECK, "locked": True, "points": points, "schema_version": 3,
                         "solution": False, "task": False}}  # fmt: skip
    cell = {"cell_type": "code", "execution_count": 1, "metadata": meta, "outputs": [], "source": student_cells[CHECK][0]}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "notebooks").mkdir()
    (folder / "notebooks" / nb_name).write_text(json.dumps(nb))


@pytest.mark.slow
def test_graded_class_then_nbgrader_by_hand_runs_no_student_code(tmp_path):
    """`python -m autograder grade` on one hand-in, then the instructor's own `nbgrader autograde ddpm
    --force` and `nbgrader generate_feedback` in the course folder: no canary, the gradebook keeps the
    scores and the cells Formgrader shows, and submitted/ holds no code cell of the student's."""
    subs, out, course = tmp_path / "subs", tmp_path / "out", tmp_path / "course"
    _hand_in(subs / "alice", tmp_path)
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--course-dir", str(course)]
    cmd += ["--jobs", "1", "--task-timeout", "10", "--import-timeout", "60", "--seed", "2024"]
    env = {**os.environ, "HOME": str(tmp_path / "grader-home")}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _canaries(tmp_path) == []  # the sandbox ran it, where this folder does not exist
    scores = _scores(gradebook.Course(course, {}, tmp_path), "alice")
    assert scores[CHECK][0] == scores[CHECK][1] > 0 and scores["check_q_sample"][0] == 0  # schedules.py only

    done = _instructor(course, tmp_path / "instructor", "autograde", "ddpm", "--force")
    assert _canaries(tmp_path) == [], done.stdout[-2000:] + done.stderr[-2000:]
    submitted = course / "submitted" / "alice" / "ddpm"
    assert _student_code_cells(submitted / "grading.ipynb") == [] and _runnable_files(submitted) == []
    done = _instructor(course, tmp_path / "instructor", "generate_feedback", "ddpm", "--force")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _canaries(tmp_path) == []
    assert _scores(gradebook.Course(course, {}, tmp_path), "alice") == scores
    autograded = json.loads((course / "autograded" / "alice" / "ddpm" / "grading.ipynb").read_text())
    graded = {c["metadata"].get("nbgrader", {}).get("grade_id") for c in autograded["cells"]}
    assert set(check_cells.course_cells()) <= graded
    assert (course / "feedback" / "alice" / "ddpm" / "grading.html").is_file()
