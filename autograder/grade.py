"""``python -m autograder grade SUBMISSIONS [--out DIR] [--jobs N]``: grade a class.

``SUBMISSIONS`` holds one folder or ``.zip`` per student, named by student id. Writes
``DIR/grades.csv`` (``student_id``, one column per required exercise, ``total``, ``max_total``,
the bonus exercises, ``flags``), ``DIR/feedback/<student_id>.html`` and ``DIR/report.json``
(every part's verdict, the run's seed and how sandboxes were isolated).

Scores are the *trusted verdicts*: ``autograder.hidden_tests`` compares, in this process,
outputs that the student's code produced in a bubblewrap sandbox. The same sandbox re-runs
the notebooks' self-checks; nbgrader records both as its gradebook and renders the
feedback (``autograder.nbgrade``), without running any student code itself.
Exit code 0 whenever grading ran, whatever the scores; 2 when it could not (no sandbox).
"""

import csv
import json
import os
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import coursefiles, hidden_tests, sandbox, submission, untrusted
from .engine import ROOT, GradingRun

DEFAULT_OUT = ROOT / "grading"
DEFAULT_COURSE = ROOT / "autograder" / "course"
PASSED = "all checks passed"


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
    parser.add_argument("--sandbox-user", default="nobody", help="the unprivileged user bwrap runs as when grade runs as root")
    parser.add_argument(
        "--no-nbgrader", action="store_true", help="trusted verdicts only: skip nbgrader's gradebook and feedback"
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code without bubblewrap (trusted code only, e.g. your own solutions); flagged on every row",
    )


def list_submissions(folder):
    """Every entry of the folder (dot-names and odd names too), except the operating system's own junk."""
    return [p for p in sorted(Path(folder).iterdir()) if p.name not in submission.OS_JUNK]


def _fmt(x):
    return f"{x:.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


class ClassGrader:
    def __init__(self, args):
        self.out = Path(args.out).resolve()
        self.submissions = Path(args.submissions).resolve()
        self.course_dir = Path(args.course_dir).resolve()
        self.cells = coursefiles.course_cells()
        self.points = coursefiles.exercise_points()
        self.bonus = coursefiles.bonus_exercises()
        self.required = [e for e in hidden_tests.EXERCISES if e not in self.bonus]
        limits = sandbox.Limits(task_seconds=args.task_timeout, import_seconds=args.import_timeout)
        hidden = [self.course_dir, self.submissions, self.out]
        self.run = GradingRun(seed=args.seed, limits=limits, hidden=hidden, user=args.sandbox_user, unsafe=args.unsafe_no_sandbox)
        self.use_nbgrader = not args.no_nbgrader

    def grade_one(self, path, student_id):
        start = time.monotonic()
        sub = submission.read(path, student_id)
        course_cells = {g: (nb, src) for g, (nb, src, _) in self.cells.items()}
        student_cells = submission.compare_check_cells(sub, course_cells)
        results, info, events, _stderr = self.run.run(sub.helpers)
        verdicts = hidden_tests.score(self.points, self.run.inputs, self.run.references, results)
        for verdict in verdicts.values():
            for part in verdict["parts"]:
                part["message"] = untrusted.clean(part["message"])
        checks = {}
        for exercise in hidden_tests.EXERCISES:
            result = results.get(f"check:{exercise}", {})
            outputs = result.get("outputs", {})
            if "ok" in outputs:
                checks[exercise] = (bool(outputs["ok"]), str(outputs.get("message", "")))
            else:
                checks[exercise] = (False, f"{result.get('status', 'not run')}: {result.get('detail', '')}")
        flags = [*sub.flags, *self.run.isolation.row_flags()]
        for module, message in info["errors"].items():
            flags.append(f"helpers/{module}.py does not import ({message}): graded as the stub")
        for module, names in info["replaced"].items():
            flags.append(f"tampering: importing helpers/{module}.py replaced {', '.join(names[:5])} (seen in the sandbox)")
        flags.extend(f"self-check {e[len('check:') :]}" if e.startswith("check:") else e for e in events)
        for grade_id, cell in student_cells.items():
            exercise = grade_id[len("check_") :]
            if cell is not None and PASSED in cell[1] and not checks.get(exercise, (True,))[0]:
                flags.append(
                    f"{grade_id}: the notebook's saved output says it passed, but re-running it on the submitted "
                    "helpers/ fails (code changed after the run, or the output was edited)"
                )
        return {
            "student_id": student_id,
            "verdicts": verdicts,
            "checks": checks,
            "flags": [untrusted.clean(flag, 400) for flag in flags],
            "seconds": round(time.monotonic() - start, 2),
            "student_cells": student_cells,
            "helpers": sub.helpers,
        }

    def safe_grade_one(self, path, student_id):
        try:
            return self.grade_one(path, student_id)
        except Exception as error:
            traceback.print_exc()
            return {
                "student_id": student_id,
                "verdicts": hidden_tests.score(self.points, self.run.inputs, self.run.references, {}),
                "checks": {},
                "flags": [untrusted.clean(f"grading error ({type(error).__name__}: {error}): scored 0, grade again", 400)],
                "seconds": 0,
                "student_cells": {},
                "helpers": {},
            }

    def totals(self, row):
        v = row["verdicts"]
        return sum(v[e]["points"] for e in (*self.required, *self.bonus)), sum(v[e]["max"] for e in self.required)

    def write_csv(self, path, rows):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["student_id", *self.required, "total", "max_total", *self.bonus, "flags"])
            for row in rows:
                v = row["verdicts"]
                total, max_total = self.totals(row)
                cells = [
                    row["student_id"],
                    *(_fmt(v[e]["points"]) for e in self.required),
                    _fmt(total),
                    _fmt(max_total),
                    *(_fmt(v[e]["points"]) for e in self.bonus),
                    "; ".join(row["flags"]),
                ]
                writer.writerow([untrusted.csv_cell(cell) for cell in cells])

    def feedback_html(self, row):
        """A self-contained summary page (used when nbgrader's feedback is not available)."""
        esc = untrusted.html
        parts = []
        for exercise, v in row["verdicts"].items():
            for p in v["parts"]:
                parts.append(
                    f"<tr><td>{esc(exercise)}</td><td>{esc(p['part'])}</td>"
                    f"<td>{_fmt(p['points'])} / {_fmt(p['max'])}</td><td>{esc(p['message'] or 'passed')}</td></tr>"
                )
        total, max_total = self.totals(row)
        flags = "".join(f"<li>{esc(f)}</li>" for f in row["flags"]) or "<li>none</li>"
        checks = "".join(
            f"<li>{esc(e)}: {'passed' if ok else 'failed'}: {esc(untrusted.clean(msg))}</li>"
            for e, (ok, msg) in row["checks"].items()
        )
        bonus = f" (bonus exercises {', '.join(self.bonus)} are extra credit)" if self.bonus else ""
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;padding:.3em .6em}"
            "table{border-collapse:collapse}</style></head><body>"
            f"<h1>Feedback for {esc(row['student_id'])}: {_fmt(total)} / {_fmt(max_total)}{esc(bonus)}</h1>"
            "<table><tr><th>exercise</th><th>part</th><th>points</th><th>result</th></tr>" + "".join(parts) + "</table>"
            f"<h2>Your notebooks' self-checks, re-run by the grader</h2><ul>{checks}</ul>"
            f"<h2>Notes</h2><ul>{flags}</ul></body></html>"
        )

    def nbgrader_phase(self, rows, tmp):
        """nbgrader's gradebook and feedback; any failure leaves the trusted scores standing."""
        from . import nbgrade

        try:
            course = nbgrade.Course(self.course_dir, self.cells, Path(tmp) / "nbgrader-home")
            with course.locked():
                course.build()
                for row in rows:
                    course.record(row, row["student_cells"], row["helpers"])
                course.finish(rows)
        except Exception as error:
            traceback.print_exc()
            for row in rows:
                row["flags"].append(f"nbgrader step failed ({type(error).__name__}); scores are the trusted verdicts")

    def write(self, rows, elapsed, jobs):
        (self.out / "feedback").mkdir(parents=True, exist_ok=True)
        self.write_csv(self.out / "grades.csv", rows)
        for row in rows:
            target = self.out / "feedback" / f"{row['student_id']}.html"
            target.unlink(missing_ok=True)  # never write through something left in the output folder
            target.write_text(row.get("feedback_html") or self.feedback_html(row))
        report = {
            "seed": self.run.seed,
            "isolation": self.run.isolation.describe(),
            "seconds": round(elapsed, 2),
            "seconds_per_submission": round(elapsed / max(1, len(rows)), 2),
            "jobs": jobs,
            "bonus": self.bonus,
            "students": [
                {k: row[k] for k in ("student_id", "verdicts", "flags", "seconds")}
                | {"self_checks": {e: ok for e, (ok, _msg) in row["checks"].items()}}
                for row in rows
            ],
        }
        (self.out / "report.json").write_text(json.dumps(report, indent=1))


def run(args):
    folder = Path(args.submissions)
    if not folder.is_dir():
        print(f"grade: {folder} is not a folder of submissions", file=sys.stderr)
        return 2
    try:
        grader = ClassGrader(args)
    except sandbox.SandboxUnavailable as error:
        print(f"grade: refusing to run student code without a sandbox: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        traceback.print_exc()
        print(f"grade: could not set up grading: {error}", file=sys.stderr)
        return 2
    entries = submission.assign_ids([p.name for p in list_submissions(folder)])
    print(f"grading {len(entries)} submission(s) with {args.jobs} job(s); {grader.run.isolation.describe()}", file=sys.stderr)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda e: grader.safe_grade_one(os.path.join(folder, e[0]), e[1]), entries))
    for (_name, _sid, flag), row in zip(entries, rows):
        if flag:
            row["flags"].insert(0, untrusted.clean(flag, 400))
    with tempfile.TemporaryDirectory(prefix="ddpm-grade-") as tmp:
        if grader.use_nbgrader:
            grader.nbgrader_phase(rows, tmp)
        elapsed = time.monotonic() - start
        grader.write(rows, elapsed, args.jobs)
    print(
        f"graded {len(rows)} submission(s) in {elapsed:.1f} s ({elapsed / max(1, len(rows)):.1f} s each): "
        f"{grader.out / 'grades.csv'}, {grader.out / 'feedback'}/",
        file=sys.stderr,
    )
    return 0
