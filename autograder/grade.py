"""``python -m autograder grade SUBMISSIONS [--out DIR] [--jobs N]``: grade a class.

``SUBMISSIONS`` holds one folder or ``.zip`` per student, named by student id. Writes
``DIR/grades.csv`` (``student_id``, one column per exercise, ``total``, ``max_total``,
``flags``), ``DIR/feedback/<student_id>.html`` and ``DIR/report.json`` (every part's
verdict, the run's seed and how sandboxes were isolated).

Scores are the *trusted verdicts* (``autograder.hidden_tests`` compared in this process
against outputs the student's code produced in a sandbox). nbgrader runs the visible test
cells as the gradebook and feedback engine (``autograder.nbgrade``); where its in-kernel
result disagrees with the trusted verdict, the trusted verdict wins and ``flags`` says so.
Exit code 0 whenever grading ran, whatever the scores.
"""

import csv
import html
import json
import re
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import coursefiles, hidden_tests, sandbox, submission
from .engine import ROOT, GradingRun

DEFAULT_OUT = ROOT / "grading"
DEFAULT_COURSE = ROOT / "autograder" / "course"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


def add_arguments(parser):
    parser.add_argument("submissions", help="folder with one folder or .zip per student, named by student id")
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help="where grades.csv, feedback/ and report.json go (default: grading/)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    parser.add_argument(
        "--course-dir", default=str(DEFAULT_COURSE), help="the nbgrader course directory (default: autograder/course/)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden tests' random inputs (default: fresh per run)")
    parser.add_argument("--task-timeout", type=float, default=30.0, help="wall-clock seconds per exercise task in the sandbox")
    parser.add_argument(
        "--import-timeout", type=float, default=60.0, help="wall-clock seconds to import torch and student modules"
    )
    parser.add_argument(
        "--cell-timeout", type=int, default=30, help="nbgrader's per-cell timeout (seconds) for the self-check cells"
    )
    parser.add_argument("--sandbox-user", default="nobody", help="unprivileged user for student code when run as root")
    parser.add_argument(
        "--no-nbgrader", action="store_true", help="trusted verdicts only: skip nbgrader's gradebook and feedback"
    )


def list_submissions(folder):
    entries = [p for p in sorted(Path(folder).iterdir()) if not p.name.startswith(".")]
    return [p for p in entries if p.is_dir() or p.suffix.lower() == ".zip" or p.is_file()]


def _fmt(x):
    return f"{x:.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


class ClassGrader:
    def __init__(self, args):
        self.out = Path(args.out).resolve()
        self.submissions = Path(args.submissions).resolve()
        self.course_dir = Path(args.course_dir).resolve()
        self.use_nbgrader = not args.no_nbgrader
        self.cells = coursefiles.course_cells()
        self.points = coursefiles.exercise_points()
        limits = sandbox.Limits(task_seconds=args.task_timeout, import_seconds=args.import_timeout)
        self.tmp = Path(tempfile.mkdtemp(prefix="ddpm-grade-"))
        self.tmp.chmod(0o700)
        mask = [self.course_dir, self.submissions, self.out, self.tmp]
        for path in mask[:3]:
            path.mkdir(parents=True, exist_ok=True)
        self.run = GradingRun(seed=args.seed, limits=limits, user=args.sandbox_user, mask=mask)
        self.course = None
        self.nbgrader_problem = None
        self.nb_pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
        if self.use_nbgrader:
            from . import nbgrade

            try:
                course = nbgrade.Course(self.course_dir, self.cells, self.run.isolation, self.tmp, cell_timeout=args.cell_timeout)
                course.build()
                self.course = course
            except Exception as error:  # without nbgrader the trusted grades still stand
                print(f"grade: nbgrader course could not be built, grading without it: {error}", file=sys.stderr)
                self.nbgrader_problem = f"nbgrader unavailable ({type(error).__name__}); scores are the trusted verdicts"

    def close(self):
        self.nb_pool.shutdown(wait=True)
        self.run.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def grade_one(self, path, student_id, index=0):
        start = time.monotonic()
        isolation = self.run.isolation.for_student(index, 0)
        work = self.tmp / student_id
        work.mkdir()
        sub = submission.resolve(path, work)
        sub.student_id = student_id
        student_cells = submission.compare_check_cells(sub, {g: (nb, src) for g, (nb, src, _) in self.cells.items()})
        # nbgrader (visible checks, in the student's kernel) runs while the sandbox computes the trusted verdicts
        pending = None
        if self.course is not None:
            nb_isolation = self.run.isolation.for_student(index, 1)
            pending = self.nb_pool.submit(self.course.autograde, student_id, sub, student_cells, nb_isolation)
        verdicts, import_errors, events = self.run.grade(
            sub.exercise_files, self.points, log=work / "sandbox.log", isolation=isolation
        )
        flags = list(sub.flags)
        for module, message in import_errors.items():
            flags.append(f"helpers/{module}.py does not import ({message}): graded as the stub")
        flags.extend(events)
        if self.nbgrader_problem:
            flags.append(self.nbgrader_problem)
        nbgrader_info = None
        if pending is not None:
            hangs = any("timed out" in message for message in import_errors.values())
            if hangs:  # every test cell would hit its timeout: stop nbgrader now
                self.course.cancel(nb_isolation)
            try:
                nbgrader_info = self.course.record(pending.result(), verdicts, run_kernel=not hangs)
                flags.extend(nbgrader_info["flags"])
            except Exception as error:  # nbgrader trouble never costs the student their trusted score
                flags.append(f"nbgrader step failed ({type(error).__name__}: {error}); scores are the trusted verdicts")
        return {
            "student_id": student_id,
            "verdicts": verdicts,
            "flags": flags,
            "nbgrader": nbgrader_info,
            "seconds": round(time.monotonic() - start, 2),
        }

    def safe_grade_one(self, path, student_id, index=0):
        try:
            return self.grade_one(path, student_id, index)
        except Exception as error:
            traceback.print_exc()
            verdicts = hidden_tests.score(self.points, self.run.inputs, self.run.references, {})
            return {
                "student_id": student_id,
                "verdicts": verdicts,
                "flags": [f"grading error ({type(error).__name__}: {error}): scored 0, grade again"],
                "nbgrader": None,
                "seconds": 0,
            }


def write_csv(path, rows, exercises):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", *exercises, "total", "max_total", "flags"])
        for row in rows:
            v = row["verdicts"]
            total = sum(v[e]["points"] for e in exercises)
            max_total = sum(v[e]["max"] for e in exercises)
            writer.writerow(
                [
                    row["student_id"],
                    *(_fmt(v[e]["points"]) for e in exercises),
                    _fmt(total),
                    _fmt(max_total),
                    "; ".join(row["flags"]),
                ]
            )


def feedback_html(row):
    """A self-contained summary page (used when nbgrader's feedback is not available)."""
    parts = []
    for exercise, v in row["verdicts"].items():
        for p in v["parts"]:
            parts.append(
                f"<tr><td>{html.escape(exercise)}</td><td>{html.escape(p['part'])}</td>"
                f"<td>{_fmt(p['points'])} / {_fmt(p['max'])}</td><td>{html.escape(p['message'] or 'passed')}</td></tr>"
            )
    total = sum(v["points"] for v in row["verdicts"].values())
    max_total = sum(v["max"] for v in row["verdicts"].values())
    flags = "".join(f"<li>{html.escape(f)}</li>" for f in row["flags"]) or "<li>none</li>"
    visible = ""
    info = row.get("nbgrader") or {}
    if info.get("visible"):
        visible = (
            "<h2>Your notebooks' self-checks (as run by nbgrader)</h2><ul>"
            + "".join(f"<li>{html.escape(k)}: {'passed' if ok else 'failed'}</li>" for k, ok in info["visible"].items())
            + "</ul>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "table{border-collapse:collapse}</style></head><body>"
        f"<h1>Feedback for {html.escape(row['student_id'])}: {_fmt(total)} / {_fmt(max_total)}</h1>"
        "<table><tr><th>exercise</th><th>part</th><th>points</th><th>result</th></tr>" + "".join(parts) + "</table>"
        f"<h2>Notes</h2><ul>{flags}</ul>{visible}</body></html>"
    )


def run(args):
    folder = Path(args.submissions)
    if not folder.is_dir():
        print(f"grade: {folder} is not a folder of submissions", file=sys.stderr)
        return 2
    try:
        grader = ClassGrader(args)
    except Exception as error:
        traceback.print_exc()
        print(f"grade: could not set up grading: {error}", file=sys.stderr)
        return 2
    try:
        entries, seen = [], {}
        for path in list_submissions(folder):
            sid = submission.student_id_of(path)
            if not STUDENT_ID.match(sid):
                sid = re.sub(r"[^A-Za-z0-9_.@+-]", "_", sid).strip("._") or "student"
            if sid in seen:
                seen[sid] += 1
                sid = f"{sid}__{seen[sid]}"
            else:
                seen[sid] = 0
            entries.append((path, sid))
        print(f"grading {len(entries)} submission(s) with {args.jobs} job(s); {grader.run.isolation.describe()}", file=sys.stderr)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            rows = list(pool.map(lambda e: grader.safe_grade_one(*e[1], index=e[0]), enumerate(entries)))
        for (path, sid), row in zip(entries, rows):
            if sid != submission.student_id_of(path):
                row["flags"].insert(0, f"student id {submission.student_id_of(path)!r} renamed to {sid!r}")
        if grader.course is not None:
            grader.course.finish(rows)
        elapsed = time.monotonic() - start
        out = grader.out
        (out / "feedback").mkdir(parents=True, exist_ok=True)
        exercises = list(hidden_tests.EXERCISES)
        write_csv(out / "grades.csv", rows, exercises)
        for row in rows:
            target = out / "feedback" / f"{row['student_id']}.html"
            nb_html = (row.get("nbgrader") or {}).get("feedback_html")
            if nb_html and Path(nb_html).is_file():
                shutil.copyfile(nb_html, target)
            else:
                target.write_text(feedback_html(row))
        report = {
            "seed": grader.run.seed,
            "isolation": grader.run.isolation.describe(),
            "seconds": round(elapsed, 2),
            "seconds_per_submission": round(elapsed / max(1, len(rows)), 2),
            "jobs": args.jobs,
            "students": [{k: row[k] for k in ("student_id", "verdicts", "flags", "seconds")} for row in rows],
        }
        (out / "report.json").write_text(json.dumps(report, indent=1))
        print(
            f"graded {len(rows)} submission(s) in {elapsed:.1f} s ({elapsed / max(1, len(rows)):.1f} s each): "
            f"{out / 'grades.csv'}, {out / 'feedback'}/",
            file=sys.stderr,
        )
        return 0
    finally:
        grader.close()
