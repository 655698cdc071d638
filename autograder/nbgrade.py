"""nbgrader as gradebook and feedback engine, fed with trusted verdicts.

The course directory (``autograder/course/`` by default) holds one nbgrader assignment,
``ddpm``, whose only notebook is ``grading.ipynb``: one graded cell per exercise, the
self-check cell of the course notebooks (same ``grade_id``, same points). Running
the seven teaching notebooks per student would take minutes; the self-checks take
seconds. Hidden tests are *not* in it: they run outside the student's kernel.

Per student:
1. ``submitted/<id>/ddpm/`` gets a grading notebook made of the student's own copies of
   the test cells (edited ones as edited, deleted ones missing) and their helpers.
2. ``nbgrader autograde`` runs in a private copy of the course, under the same
   isolation as the sandbox (unprivileged user, private mount namespace, rlimits): the
   student's kernel can neither read the reference nor touch the real gradebook.
   nbgrader restores edited/deleted test cells (``OverwriteCells``), keeps the student's
   exercise modules (``exclude_overwriting``), ignores stderr (``IgnorePattern``).
3. Back in the trusted process, the autograded notebook and the submission are copied
   into the real course, the in-kernel scores are recorded as nbgrader's ``auto_score``,
   the trusted verdicts as ``manual_score`` (which nbgrader reports as the score), and a
   markdown cell with the trusted verdict is added under each test cell. A test cell that
   passed in the kernel while the trusted verdict is lower is flagged.
4. ``nbgrader generate_feedback`` writes the feedback HTML (checked for hidden tests).
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import hidden_tests, sandbox, stubs

HERE = Path(__file__).resolve().parent
ASSIGNMENT = "ddpm"
NOTEBOOK = "grading"
EXERCISE_MODULES = sandbox.MODULES


def _code_cell(source, grade_id=None, points=None):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
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


def _markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


PREFIX = "from helpers import checks  # added by the grader: the course notebooks import it in their set-up\n"


def grading_notebook(cells, student_sources=None):
    """The grading notebook: the source version, or a student's (their test-cell copies)."""
    nb_cells = [
        _markdown(
            "# Grading: the self-checks of the course notebooks\n\n"
            "Each cell below is a self-check cell of the course notebooks, run on your `helpers/`. "
            "Your score is decided by the hidden tests (run outside this notebook, one exercise at a time); "
            "their verdict is shown under each cell."
        )
    ]
    for grade_id, (_nb, source, points) in cells.items():
        if student_sources is not None:
            source = student_sources.get(grade_id)
            if source is None:
                continue  # deleted by the student: nbgrader puts it back
        nb_cells.append(_code_cell(PREFIX + source, grade_id, points))
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _config_text(root, cell_timeout=None):
    text = (HERE / "nbgrader_config.py").read_text() + f"\nc.CourseDirectory.root = {str(root)!r}\n"
    if cell_timeout is not None:
        text += f"c.Execute.timeout = {int(cell_timeout)}\n"
    return text


def _env(home):
    bindir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_RUNTIME_DIR": str(Path(home) / "runtime"),
        "JUPYTER_CONFIG_DIR": str(Path(home) / "jupyter"),
        "IPYTHONDIR": str(Path(home) / "ipython"),
        "MPLBACKEND": "Agg",
        "DDPM_FAST": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TQDM_DISABLE": "1",
        "LANG": "C.UTF-8",
    }


# `python -m nbgrader`, minus 1.6 s: jsonschema's optional IRI checker (rfc3987_syntax) builds a
# grammar at import time that nbformat never uses; hiding it makes jsonschema skip that format.
LAUNCH = (
    "import sys; sys.modules['rfc3987_syntax'] = None; sys.argv[0] = 'nbgrader'; "
    "from nbgrader.apps.nbgraderapp import main; main()"
)


def nbgrader(args, cwd, env=None, timeout=600, preexec_fn=None):
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )
    return done


@dataclass
class Run:
    """One student's ``nbgrader autograde`` in its private course."""

    student_id: str
    isolation: object
    base: Path
    private: Path
    log: str = ""
    seconds: float = 0.0


class Course:
    """The nbgrader course directory used by ``grade``."""

    def __init__(self, root, cells, isolation, tmp, cell_timeout=30):
        self.root = Path(root)
        self.cells = cells  # {grade_id: (notebook, source, points)}
        self.isolation = isolation
        self.tmp = Path(tmp)
        self.cell_timeout = cell_timeout
        self.lock = threading.Lock()
        self.limits = sandbox.Limits(cpu_seconds=900)
        import nbgrader.api  # noqa: F401 - imported once here: a first import from two threads races
        import nbgrader.utils  # noqa: F401

    # ------------------------------------------------------------------ build

    def build(self):
        """(Re)write the course's config and source, and register the assignment in the gradebook."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # every student's work is in here
        (self.root / "nbgrader_config.py").write_text(_config_text(self.root))
        source = self.root / "source" / ASSIGNMENT
        if source.exists():
            shutil.rmtree(source)
        (source / "helpers").mkdir(parents=True)
        (source / f"{NOTEBOOK}.ipynb").write_text(json.dumps(grading_notebook(self.cells), indent=1))
        for name, text in stubs.generate().items():
            (source / "helpers" / name).write_text(text)
        home = self.tmp / "nbgrader-home"
        home.mkdir(exist_ok=True)
        done = nbgrader(
            ["generate_assignment", ASSIGNMENT, "--force", "--log-level=WARN"], self.root, {**os.environ, **_env(home)}
        )
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        self.pristine_db = self.tmp / "pristine-gradebook.db"
        shutil.copyfile(self.root / "gradebook.db", self.pristine_db)

    # ------------------------------------------------------------------ one student

    def _private_course(self, student_id, sub, student_cells, isolation):
        base = Path(tempfile.mkdtemp(prefix="ddpm-nbg-"))
        base.chmod(0o711)
        private = base / secrets.token_hex(16)
        shutil.copytree(self.root / "source", private / "source")
        shutil.copyfile(self.pristine_db, private / "gradebook.db")
        (private / "nbgrader_config.py").write_text(_config_text(private, self.cell_timeout))
        submitted = private / "submitted" / student_id / ASSIGNMENT
        (submitted / "helpers").mkdir(parents=True)
        (submitted / f"{NOTEBOOK}.ipynb").write_text(json.dumps(grading_notebook(self.cells, student_cells), indent=1))
        stub_texts = stubs.generate()
        for module in EXERCISE_MODULES:
            target = submitted / "helpers" / f"{module}.py"
            if module in sub.exercise_files:
                shutil.copyfile(sub.exercise_files[module], target)
            else:
                target.write_text(stub_texts[f"{module}.py"])
        (private / "home").mkdir()
        for path in [private, *private.rglob("*")]:
            path.chmod(0o700 if path.is_dir() else 0o600)
            if isolation.user is not None:
                os.chown(path, *isolation.user)
        (base / "stage").mkdir()
        return base, private

    def autograde(self, student_id, sub, student_cells, isolation=None):
        """Phase 1 (may run while the sandbox grades the same student): ``nbgrader autograde`` in a
        private copy of the course, as the student's own uid. Returns a ``Run`` for ``record``."""
        isolation = isolation or self.isolation
        base, private = self._private_course(student_id, sub, student_cells, isolation)
        run = Run(student_id, isolation, base, private)
        preexec = sandbox._preexec(self.limits, isolation.user, isolation.mask, base / "stage")
        timeout = self.cell_timeout * (len(self.cells) + 2) + 120
        start = time.monotonic()
        try:
            done = nbgrader(
                ["autograde", ASSIGNMENT, "--student", student_id, "--force", "--log-level=WARN"],
                private,
                _env(private / "home"),
                timeout=timeout,
                preexec_fn=preexec,
            )
            run.log = done.stdout[-4000:] + done.stderr[-4000:]
        except subprocess.TimeoutExpired:
            run.log = f"nbgrader autograde killed after {timeout} s"
        except OSError as error:
            run.log = f"nbgrader autograde could not start: {error}"
        finally:
            if isolation.user is not None:
                sandbox.kill_uid(isolation.user[0])
        run.seconds = round(time.monotonic() - start, 2)
        return run

    @staticmethod
    def cancel(isolation):
        """Stop a running ``autograde`` of this isolation's uid (its helpers hang at import)."""
        if isolation.user is not None:
            sandbox.kill_uid(isolation.user[0])

    def record(self, run, verdicts, run_kernel=True):
        """Phase 2, trusted: in-kernel scores vs trusted verdicts, gradebook, annotated notebook."""
        info = {"flags": [], "visible": {}, "feedback_html": None, "seconds": run.seconds}
        try:
            nb = None
            autograded = run.private / "autograded" / run.student_id / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
            if not run_kernel:
                info["flags"].append("nbgrader autograde skipped (helpers hang at import); scores are the trusted verdicts")
            elif autograded.is_file() and not autograded.is_symlink():
                try:
                    nb = json.loads(autograded.read_text())
                except (ValueError, OSError):
                    nb = None
            if nb is None and run_kernel:
                last = (run.log.strip().splitlines() or ["?"])[-1][:200]
                info["flags"].append(f"nbgrader autograde did not finish ({last}); scores are the trusted verdicts")
            in_kernel = self._in_kernel_scores(nb) if nb is not None else {}
            info["visible"] = {g: s == m for g, (s, m) in in_kernel.items()}
            for grade_id, (score, max_score) in in_kernel.items():
                exercise = grade_id[len("check_") :]
                if exercise not in verdicts:
                    continue
                trusted = verdicts[exercise]["points"]
                if score >= max_score and trusted < verdicts[exercise]["max"]:
                    suspicion = "suspected tampering: " if trusted == 0 else ""
                    info["flags"].append(
                        f"{suspicion}{grade_id} passed in the student's kernel but the trusted verdict is "
                        f"{trusted:g}/{verdicts[exercise]['max']:g}"
                    )
            if not run_kernel:
                autograded_dir = run.private / "autograded"
                if autograded_dir.exists():
                    shutil.rmtree(autograded_dir, ignore_errors=True)
            with self.lock:
                self._record(run.student_id, run.private, nb, in_kernel, verdicts)
        finally:
            shutil.rmtree(run.base, ignore_errors=True)
        return info

    @staticmethod
    def _in_kernel_scores(nb):
        from nbformat import from_dict
        from nbgrader.utils import determine_grade, is_grade

        scores = {}
        for cell in nb.get("cells", []):
            try:
                node = from_dict(cell)
                if node.get("cell_type") == "code" and is_grade(node):
                    score, max_score = determine_grade(node)
                    if node.get("execution_count") is None:  # never ran (the kernel died): nbgrader would say full marks
                        score = 0
                    scores[node.metadata.nbgrader["grade_id"]] = (float(score or 0), float(max_score))
            except Exception:  # a malformed cell counts as failed
                continue
        return scores

    def _record(self, student_id, private, nb, in_kernel, verdicts):
        """Trusted side: copy the student's files into the course and write the gradebook."""
        import warnings

        from nbgrader.api import Gradebook

        warnings.filterwarnings("ignore", module="nbgrader")
        warnings.filterwarnings("ignore", message=".*not in session.*")

        stale = self.root / "feedback" / student_id / ASSIGNMENT
        if stale.exists():
            shutil.rmtree(stale)
        for kind in ("submitted", "autograded"):
            target = self.root / kind / student_id / ASSIGNMENT
            if target.exists():
                shutil.rmtree(target)
            source = private / kind / student_id / ASSIGNMENT
            if source.exists():
                shutil.copytree(source, target, symlinks=True)
        autograded = self.root / "autograded" / student_id / ASSIGNMENT
        if nb is not None:
            autograded.mkdir(parents=True, exist_ok=True)
            (autograded / f"{NOTEBOOK}.ipynb").write_text(json.dumps(self._annotate(nb, verdicts), indent=1))
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", course_id=ASSIGNMENT) as gb:
            gb.update_or_create_student(student_id)
            gb.update_or_create_submission(ASSIGNMENT, student_id)
            for grade_id in self.cells:
                exercise = grade_id[len("check_") :]
                try:
                    grade = gb.find_grade(grade_id, NOTEBOOK, ASSIGNMENT, student_id)
                except Exception:
                    continue
                if grade_id in in_kernel:
                    grade.auto_score = in_kernel[grade_id][0]
                if exercise in verdicts:
                    grade.manual_score = verdicts[exercise]["points"]
                grade.needs_manual_grade = False
            gb.db.commit()

    def _annotate(self, nb, verdicts):
        """The autograded notebook with the trusted verdict under each test cell (markdown, no test code)."""
        cells = []
        for cell in nb.get("cells", []):
            cells.append(cell)
            meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
            grade_id = meta.get("grade_id", "") if isinstance(meta, dict) else ""
            exercise = grade_id[len("check_") :]
            if meta.get("grade") and exercise in verdicts:
                v = verdicts[exercise]
                lines = [f"**Hidden tests for `{exercise}`: {v['points']:g} / {v['max']:g} points** (this is your score)"]
                for part in v["parts"]:
                    mark = "passed" if part["ok"] else f"failed: {part['message']}"
                    lines.append(f"- {part['part']} ({part['points']:g}/{part['max']:g}): {mark}")
                cells.append(_markdown("\n".join(lines)))
        return {**nb, "cells": cells}

    # ------------------------------------------------------------------ whole class

    def finish(self, rows):
        """Generate nbgrader's feedback for every graded student; point each row at its HTML."""
        students = [row["student_id"] for row in rows if row.get("nbgrader")]
        if not students:
            return
        home = self.tmp / "nbgrader-home"
        nbgrader(["generate_feedback", ASSIGNMENT, "--force", "--log-level=WARN"], self.root, {**os.environ, **_env(home)})
        for row in rows:
            info = row.get("nbgrader")
            if not info:
                continue
            path = self.root / "feedback" / row["student_id"] / ASSIGNMENT / f"{NOTEBOOK}.html"
            if not path.is_file():
                row["flags"].append("no nbgrader feedback: the feedback file is the grader's own summary")
            else:
                text = path.read_text(errors="replace")
                if any(marker in text for marker in ("BEGIN HIDDEN TESTS", "def make_references", "hidden_tests")):
                    row["flags"].append("nbgrader feedback contained hidden-test text: replaced by the grader's summary")
                else:
                    info["feedback_html"] = str(path)


__all__ = ["Course", "grading_notebook", "hidden_tests"]
