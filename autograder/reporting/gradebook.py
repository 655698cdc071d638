"""nbgrader as gradebook and feedback engine, fed with the sandbox's results. Runs no student code.

The course directory (``DIR/nbgrader`` of the class folder by default: one gradebook per class) holds one nbgrader assignment,
``ddpm``, whose only notebook is ``grading.ipynb``: one graded cell per exercise, the
self-check cell of the course notebooks (same ``grade_id``, same points).

Per student, the trusted side writes:
- ``submitted/<id>/ddpm/``: what the student handed in, as text only, since Formgrader's "Autograde"
  button and ``nbgrader autograde`` would run it outside the sandbox with the instructor's uid: the
  ``helpers/`` files that were graded as ``helpers/<name>.py.txt`` (the bytes read from the hand-in,
  never a copied path) and the student's check cells as fenced code in markdown cells, never code
  cells. The course's config refuses ``nbgrader autograde`` too (``nbgrader_config.py``); a course
  folder written by an earlier version is made inert the same way when ``build`` runs;
- ``autograded/<id>/ddpm/grading.ipynb``: the course's check cells with, as their output, the
  result of re-running each self-check in the sandbox, and under each a markdown cell with
  the hidden tests' verdict per part (student text escaped);
- the gradebook: the trusted verdict as ``auto_score``. ``manual_score`` belongs to the instructor:
  a score set by hand in Formgrader is never overwritten, and ``grade`` reads it back as a decision
  that replaces the verdict (``decisions``). An ``overrides.csv`` line becomes ``extra_credit``, the
  difference that makes nbgrader's score the overridden one. A bonus exercise's cell is worth 0
  points, its score being extra credit, so nbgrader's maximum is ``max_total``; the late penalty, in
  points, is the submission's ``late_submission_penalty``: nbgrader's score is grades.csv's ``total``.
When the course's exercises change after students were recorded (an exercise added), nbgrader
refuses to change the grading notebook; ``build`` then removes the recorded submissions (their
Formgrader scores were read first and are written back as each student is recorded again).
``nbgrader generate_feedback`` then renders the feedback HTML (``sanitize_html`` on). One
grading run holds the course's lock while it writes, so two runs never mix their files.
"""

import fcntl
import json
import os
import re
import shutil
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autograder import untrusted
from autograder.assignment import exercises
from autograder.authoring import stubs
from autograder.grading import withheld
from autograder.grading.student_row import FinalScores, SelfCheck, StudentCells, StudentRow, failure_flag
from autograder.records import ExerciseVerdict
from autograder.reporting import feedback
from autograder.reporting.nbgrader_cli import nbgrader

Cells = dict[str, tuple[str, str, float]]  # grade_id -> (notebook, source, points): the course's check cells
Notebook = dict[str, Any]
Decisions = dict[str, dict[str, tuple[float, str]]]  # student_id -> exercise -> (points, reason)

HERE = Path(__file__).resolve().parent
ASSIGNMENT = "ddpm"
NOTEBOOK = "grading"


def _code_cell(source: str, grade_id: str | None = None, points: float | None = None, outputs: tuple | list = ()) -> dict:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": list(outputs),
        "source": source,
    }
    if grade_id:
        cell["metadata"] = {
            "deletable": False,
            "editable": False,
            "nbgrader": {
                "grade": True,
                "grade_id": grade_id,
                "locked": True,
                "points": points,
                "schema_version": 3,
                "solution": False,
                "task": False,
            },
        }
    return cell


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


PREFIX = "from helpers import checks  # added by the grader: the course notebooks import it in their set-up\n"
INTRO = (
    "# Grading: the self-checks of the course notebooks\n\n"
    "Each cell below is a self-check of the course notebooks, re-run by the grader on your `helpers/`. "
    "Your score comes from the hidden tests, which run each exercise on other inputs; "
    "their verdict is shown under each cell."
)


def _notebook(cells: list[dict]) -> Notebook:
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def gradebook_points(grade_id: str, points: float) -> float:
    """A cell's points in nbgrader: a bonus exercise's are 0, and what it earns is ``extra_credit``, so
    nbgrader's maximum is the required points (``max_total``), as in grades.csv."""
    return 0 if grade_id[len("check_") :] in exercises.BONUS else points


def grading_notebook(cells: Cells) -> Notebook:
    """The grading notebook's source version: the course's own check cells (no student code)."""
    nb_cells = [_markdown(INTRO)]
    for grade_id, (_nb, source, points) in cells.items():
        nb_cells.append(_code_cell(PREFIX + source, grade_id, gradebook_points(grade_id, points)))
    return _notebook(nb_cells)


SUBMITTED_INTRO = (
    "# What the student handed in, kept as text\n\n"
    "Nothing here runs: the grader ran this code in its sandbox, and nbgrader must never run it outside "
    "(the course's config refuses `nbgrader autograde`; grade again with `python -m autograder grade`). "
    "The graded modules are in `helpers/` as `<name>.py.txt`; below, the student's copies of the check cells. "
    "The self-checks as re-run by the grader, and the scores, are in the autograded notebook (Formgrader)."
)
# Names Python or a kernel could import or load from a folder on sys.path: none may hold student bytes.
RUNNABLE = (".py", ".pyw", ".pyc", ".pyd", ".so", ".pth")


def _fenced(text: str) -> str:
    """Student text as a fenced code block: a fence longer than any run of backticks in it, so no line
    of the text can close the block, and Markdown renderers escape everything inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}python\n{text}\n{fence}"


def submitted_notebook(cells: Cells, student_cells: StudentCells | None) -> Notebook:
    """The student's copies of the check cells, as markdown (no code cell: nothing to execute)."""
    nb_cells = [_markdown(SUBMITTED_INTRO)]
    if student_cells is None:  # a row kept from an earlier run whose course folder is gone
        nb_cells.append(_markdown("The student's files were not recorded here: see the run that graded them."))
        return _notebook(nb_cells)
    for grade_id in cells:
        kept = student_cells.get(grade_id)
        if kept is None:
            nb_cells.append(_markdown(f"### `{grade_id}`: not in the student's notebooks (deleted or not handed in)"))
        else:
            nb_cells.append(_markdown(f"### `{grade_id}` as the student's notebook holds it\n\n{_fenced(kept[0])}"))
    return _notebook(nb_cells)


def _code_to_markdown(notebook: Path) -> bool:
    """Rewrite a grader-written notebook's code cells as fenced text; whether there were any."""
    try:
        nb = json.loads(notebook.read_text(errors="replace"))
        cells = nb["cells"]
        code = [i for i, cell in enumerate(cells) if cell.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return False  # not a notebook nbgrader could read, so nothing it could run
    for i in code:
        source = cells[i].get("source", "")
        cells[i] = _markdown(_fenced("".join(map(str, source)) if isinstance(source, list) else str(source)))
    if code:
        notebook.write_text(json.dumps(nb, indent=1))
    return bool(code)


def make_inert(folder: Path, log: Callable[[str], object] = print, cells: bool = True) -> None:
    """Turn what an earlier version of ``grade`` left in a ``submitted/<id>/ddpm`` folder (the student's
    modules as ``helpers/*.py``, their check cells as code cells) into text, nothing lost. ``cells``
    False: an ``autograded/<id>/ddpm`` folder, whose notebook is the grader's own (its code cells hold
    the course's checks, which Formgrader needs as code) but whose ``helpers/`` an earlier ``nbgrader
    autograde`` may have filled with the student's modules."""
    changed = False
    helpers = folder / "helpers"
    if helpers.is_dir() and not helpers.is_symlink():
        for entry in os.scandir(helpers):
            # only regular files the grader wrote; a link or folder here was not written by grade: left alone
            if entry.is_file(follow_symlinks=False) and entry.name.endswith(RUNNABLE):
                os.replace(entry.path, f"{entry.path}.txt")
                changed = True
    notebook = folder / f"{NOTEBOOK}.ipynb"
    if cells and notebook.is_file() and not notebook.is_symlink() and _code_to_markdown(notebook):
        changed = True
    if changed:
        log(f"{folder.relative_to(folder.parents[2])}: the student's code from an earlier run is now kept as text")


def _config_text(root: Path) -> str:
    return (HERE / "nbgrader_config.py").read_text() + f"\nc.CourseDirectory.root = {str(root)!r}\n"


def verdict_markdown(exercise: str, verdict: ExerciseVerdict, check: SelfCheck | None, final: FinalScores | None = None) -> str:
    """The hidden tests' verdict for one exercise, in escaped markdown (no test code). ``final``: the row's
    final scores, whose override or Formgrader score for this exercise (with its reason) is then said."""
    bonus = " (bonus: extra credit, on top of the required points)" if exercise in exercises.BONUS else ""
    changed = [a for a in (final.adjustments if final is not None else ()) if a.exercise == exercise]
    if changed:
        last = changed[-1]
        reason = untrusted.markdown(f"{last.source}: {last.reason or last.text}")
        lines = [
            f"**Your score for `{exercise}`: {last.points:g} / {verdict.max:g} points**{bonus}, set by the "
            f"instructor ({reason}); the hidden tests gave {verdict.points:g} / {verdict.max:g}:"
        ]
    else:
        score = f"{verdict.points:g} / {verdict.max:g}"
        lines = [f"**Hidden tests for `{exercise}`: {score} points** (this is your score){bonus}"]
    for part in verdict.parts:
        mark = "passed" if part.ok else f"failed: {untrusted.markdown(part.message)}"
        lines.append(f"- {untrusted.markdown(part.part)} ({part.points:g}/{part.max:g}): {mark}")
    if check and check[0] and verdict.points < verdict.max:
        lines.append("\nYour self-check passed; the hidden tests use other inputs (shapes, time steps, schedules).")
    return "\n".join(lines)


class Course:
    """The nbgrader course directory used by ``grade``."""

    def __init__(self, root: str | Path, cells: Cells, home: str | Path) -> None:
        self.root = Path(root)
        self.cells = cells  # {grade_id: (notebook, source, points)}
        self.home = Path(home)

    @contextmanager
    def locked(self) -> Iterator["Course"]:
        """Exclusive use of the course directory for one grading run (a second run waits)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # every student's work is in here
        with open(self.root / ".grading.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _gradebook(self) -> Any:
        import warnings

        from nbgrader.api import Gradebook

        warnings.filterwarnings("ignore", message=".*not in session.*")
        return Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", course_id=ASSIGNMENT)

    def decisions(self) -> Decisions:
        """``{student_id: {exercise: (points, reason)}}``: the scores set by hand in Formgrader."""
        if not (self.root / "gradebook.db").is_file():
            return {}
        found: Decisions = {}
        with self._gradebook() as gb:
            try:
                submissions = gb.find_assignment(ASSIGNMENT).submissions
            except Exception:
                return {}
            for sub in submissions:
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.manual_score is not None and grade.name.startswith("check_"):
                            found.setdefault(sub.student.id, {})[grade.name[len("check_") :]] = (
                                float(grade.manual_score),
                                "score set by hand",
                            )
        return found

    def _drop_changed(self, log: Callable[[str], object]) -> None:
        """Remove recorded submissions when the grading notebook's cells changed (nbgrader would refuse)."""
        if not (self.root / "gradebook.db").is_file():
            return
        with self._gradebook() as gb:
            try:
                notebook = gb.find_notebook(NOTEBOOK, ASSIGNMENT)
            except Exception:
                return
            recorded = {cell.name: cell.max_score for cell in notebook.grade_cells}
            wanted = {g: float(gradebook_points(g, points)) for g, (_nb, _src, points) in self.cells.items()}
            if recorded == wanted or not notebook.submissions:
                return
            students = [s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions]
            for student in students:
                gb.remove_submission(ASSIGNMENT, student)
        log(
            f"the course's exercises or points changed: nbgrader's {len(students)} recorded submission(s) removed and recorded "
            "again (Formgrader scores kept)"
        )

    def build(self, log: Callable[[str], object] = print) -> None:
        """(Re)write the course's config and source, and register the assignment in the gradebook."""
        (self.root / "nbgrader_config.py").write_text(_config_text(self.root))
        source = self.root / "source" / ASSIGNMENT
        if source.exists():
            shutil.rmtree(source)
        (source / "helpers").mkdir(parents=True)
        (source / f"{NOTEBOOK}.ipynb").write_text(json.dumps(grading_notebook(self.cells), indent=1))
        for name, text in stubs.generate().items():
            (source / "helpers" / name).write_text(text)
        self.home.mkdir(parents=True, exist_ok=True)
        # rows kept from a run of an earlier version keep their folders: nothing runnable may stay there
        for kind in ("submitted", "autograded"):
            for folder in sorted((self.root / kind).glob(f"*/{ASSIGNMENT}")):
                make_inert(folder, log, cells=kind == "submitted")
        self._drop_changed(log)
        done = nbgrader(["generate_assignment", ASSIGNMENT, "--force", "--log-level=WARN"], self.root, self.home)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def autograded_notebook(self, row: StudentRow) -> Notebook:
        """The student's graded notebook: the summary of their grade, each check cell with the self-check's
        re-run as its output, and under it the hidden tests' verdict (student text cleaned and escaped)."""
        cells = [_markdown(INTRO)]
        if row.final is not None:
            cells.append(_markdown(feedback.summary(row).markdown()))  # the grade, then "Adjustments"
        for grade_id, (_nb, source, points) in self.cells.items():
            exercise = grade_id[len("check_") :]
            check = row.checks.get(exercise)
            if check is None:
                text = "not run"
            else:
                text = ("passed: " if check[0] else "failed: ") + withheld.clean(check[1], 600, lines=6)
            output = {"output_type": "stream", "name": "stdout", "text": text + "\n"}
            cells.append(_code_cell(PREFIX + source, grade_id, gradebook_points(grade_id, points), [output]))
            if exercise in row.verdicts:
                cells.append(_markdown(verdict_markdown(exercise, row.verdicts[exercise], check, row.final)))
        return _notebook(cells)

    def record(
        self, row: StudentRow, student_cells: StudentCells | None, helpers: dict[str, bytes] | None, decisions: Decisions
    ) -> None:
        """Write one student's submitted and autograded folders and gradebook entries. ``helpers`` None:
        a row kept from an earlier run (its submitted files stay as they are, made inert by ``build``)."""
        sid = row.student_id
        submitted = self.root / "submitted" / sid / ASSIGNMENT
        if helpers is not None or not submitted.is_dir():
            for kind in ("submitted", "autograded", "feedback"):
                target = self.root / kind / sid / ASSIGNMENT
                if target.exists():
                    shutil.rmtree(target)
            (submitted / "helpers").mkdir(parents=True)
            for name, data in (helpers or {}).items():
                (submitted / "helpers" / f"{name}.txt").write_bytes(data)  # text: nothing can import it
            (submitted / f"{NOTEBOOK}.ipynb").write_text(json.dumps(submitted_notebook(self.cells, student_cells), indent=1))
        autograded = self.root / "autograded" / sid / ASSIGNMENT
        autograded.mkdir(parents=True, exist_ok=True)
        (autograded / f"{NOTEBOOK}.ipynb").write_text(json.dumps(self.autograded_notebook(row), indent=1))
        final = row.final.exercises if row.final is not None else {}
        with self._gradebook() as gb:
            gb.update_or_create_student(sid)
            gb.update_or_create_submission(ASSIGNMENT, sid)
            for grade_id in self.cells:
                exercise = grade_id[len("check_") :]
                try:
                    grade = gb.find_grade(grade_id, NOTEBOOK, ASSIGNMENT, sid)
                except Exception:
                    continue
                if exercise in exercises.BONUS:
                    grade.auto_score = 0.0  # a 0-point cell: what it earned is its extra credit (below)
                elif exercise in row.verdicts:
                    grade.auto_score = row.verdicts[exercise].points
                kept = decisions.get(sid, {}).get(exercise)
                if grade.manual_score is None and kept is not None:
                    grade.manual_score = kept[0]  # a Formgrader score from before the course was rebuilt
                base = grade.manual_score if grade.manual_score is not None else grade.auto_score
                wanted = final.get(exercise)
                grade.extra_credit = None if wanted is None or base is None or wanted == base else wanted - base
                grade.needs_manual_grade = False
            if row.final is not None:  # nbgrader's own late penalty, in points: its score is then grades.csv's total
                notebook = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, sid)
                lost = row.final.points - row.final.total
                notebook.late_submission_penalty = round(lost, 6) if lost > 0 else None
            gb.db.commit()

    def finish(self, rows: list[StudentRow]) -> None:
        """nbgrader's feedback for the graded students; each row points at its HTML."""
        students = [row.student_id for row in rows]
        if not students:
            return
        done = nbgrader(["generate_feedback", ASSIGNMENT, "--force", "--log-level=WARN"], self.root, self.home)
        for row in rows:
            path = self.root / "feedback" / row.student_id / ASSIGNMENT / f"{NOTEBOOK}.html"
            if path.is_file() and not path.is_symlink():
                # nbgrader titles the page with the notebook's name: the student's id says whose it is
                name = untrusted.html(feedback.title(row.student_id))
                page = path.read_text(errors="replace").replace(f"<title>{NOTEBOOK}</title>", f"<title>{name}</title>", 1)
                row.feedback_html = page
            else:
                last = (done.stderr.strip().splitlines() or ["?"])[-1][:200]
                flag = f"no nbgrader feedback ({last}): the feedback file is the grader's own summary"
                if flag not in row.flags:  # a row kept from an earlier run may carry it already
                    row.flags.append(flag)


def record_class(course: Course, rows: list[StudentRow], decisions: Decisions, log: Callable[[str], object] = print) -> None:
    """nbgrader's gradebook and feedback for the class: any failure leaves the trusted scores standing, and a
    failure recording one student costs that student's nbgrader entry only (each said in the row's flags)."""
    try:
        with course.locked():
            course.build(log=log)
            for row in rows:
                try:  # a row kept from an earlier run: its submitted files stay as nbgrader has them
                    course.record(
                        row, row.student_cells if row.regraded else None, row.helpers if row.regraded else None, decisions
                    )
                except Exception as error:
                    traceback.print_exc()
                    row.flags.append(failure_flag("nbgrader record not written; scores are the trusted verdicts", error))
            course.finish(rows)
    except Exception as error:
        traceback.print_exc()
        for row in rows:
            if row.regraded:
                row.flags.append(f"nbgrader step failed ({type(error).__name__}); scores are the trusted verdicts")
