"""``python -m autograder grade SUBMISSIONS [--out DIR] [--only ID ...] [--jobs N]``: grade a class.

``SUBMISSIONS`` is a folder (or the zip of one) as an LMS downloads it: one folder or ``<id>.zip``
per student, or Canvas, Moodle or Gradescope's own layouts (``autograder.lms`` maps their names to
student ids, through ``--roster``); stray files (``roster.csv``, ``__MACOSX``, ``.DS_Store``) are
skipped and reported. Writes ``DIR/grades.csv`` (``student_id``, one column per required exercise,
``points``, ``late_minutes``, ``late_penalty``, ``total``, ``max_total``, the bonus exercises,
``adjustments``, ``flags``), ``DIR/feedback/<student_id>.html`` and ``DIR/report.json`` (every part's
verdict, the run's seed and how sandboxes were isolated).

A class folder ``DIR`` is graded once and then kept up to date: grading into it again merges (the
students graded now replace their rows, every other row stays, and the class's seed is reused), and
``--only ID ...`` regrades some students. Instructors' decisions survive every regrade: the lines of
``DIR/overrides.csv`` (``student_id, exercise, points, reason``) and the scores set by hand in
nbgrader's Formgrader (the class's own course, ``DIR/nbgrader``, with its ``gradebook.db``) replace
the hidden tests' verdict for that exercise, with their reason in ``adjustments``. Late penalties follow the course
config (``autograder/course.ini``, ``[late]``).

What a student reads (the feedback page's title, header and summary, ``report.json``'s ``final``) and
nbgrader's gradebook (the late penalty as its ``late_submission_penalty``, bonus exercises as extra
credit over a maximum of ``max_total``) state the one total of ``grades.csv`` (``finalize``,
``autograder.feedback``).

Scores are the *trusted verdicts*: ``autograder.assignment.hidden_tests`` compares, in this process,
outputs that the student's code produced in a bubblewrap sandbox. The same sandbox re-runs
the notebooks' self-checks; nbgrader records both as its gradebook and renders the
feedback (``autograder.nbgrade``), without running any student code itself.
Exit code 0 whenever grading ran, whatever the scores; 2 when it could not (no sandbox, a bad option).
"""

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder import untrusted
from autograder.assignment import check_cells, exercises
from autograder.grading import scoring
from autograder.grading.grading_run import GradingRun
from autograder.intake import lms, roster, submission
from autograder.paths import ROOT
from autograder.reporting import feedback, overrides
from autograder.sandbox import bubblewrap, container
from autograder.sandbox.limits import Limits

COURSE_FOLDER = "nbgrader"  # the class folder's own nbgrader course: its gradebook lists this class only
DEFAULT_CONFIG = ROOT / "autograder" / "course.ini"
PASSED = "all checks passed"
NO_HELPERS_PART = "not graded: your hand-in has no helpers/ folder (see the notes)"


def add_arguments(parser):
    parser.add_argument("submissions", help="the class's hand-ins: a folder (or its zip) as downloaded from an LMS")
    parser.add_argument(
        "--out", default=None, help="the class folder: grades.csv, feedback/, report.json (default: grading/<today>, said aloud)"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        metavar="ID",
        help="regrade only these students and merge into --out (no ID: re-apply overrides, Formgrader scores and penalties)",
    )
    parser.add_argument("--replace", action="store_true", help="start --out afresh: drop its earlier rows and feedback")
    parser.add_argument("--roster", default=None, help="roster CSV: maps LMS ids to student ids, lists who handed in nothing")
    parser.add_argument("--overrides", default=None, help="manual adjustments CSV (default: DIR/overrides.csv when present)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="course config with the due date and late rule")
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    parser.add_argument(
        "--course-dir",
        default=None,
        help="the class's nbgrader course directory, its gradebook.db (default: DIR/nbgrader, one per class folder)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the hidden tests' inputs (default: the class's, or fresh)"
    )
    parser.add_argument("--task-timeout", type=float, default=30.0, help="wall-clock seconds per exercise task in the sandbox")
    parser.add_argument(
        "--import-timeout", type=float, default=60.0, help="wall-clock seconds to import torch and student modules"
    )
    parser.add_argument(
        "--isolation",
        choices=container.MODES,
        default=container.BUBBLEWRAP,
        help="how student code is isolated: bubblewrap (the default, and the only choice for local grading); container "
        "and auto (bubblewrap where it works, else container) are for the Gradescope and PrairieLearn harnesses, where the "
        "container is the sandbox and student code runs as a separate user (needs root; README: which isolation runs where)",
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


_fmt = feedback.number


def _replace_file(path, text):
    """``path`` holds ``text`` as UTF-8, written to a fresh file that is then renamed over it (never through a
    link or file left in the output folder). A character UTF-8 cannot hold becomes ``?``: the last defence,
    after ``untrusted.visible`` made student text printable where it came in."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    with open(fd, "w", encoding="utf-8", errors="replace", newline="") as f:
        f.write(text)
    os.replace(partial, path)


def _failure(what, error):
    """A flag for a step that failed on one student: the error's type only (its text may be the student's)."""
    return f"{what} ({type(error).__name__}): this student's other outputs and every other row are complete"


def _as_dicts(verdicts):  # until h-rows merges: the rows still hold verdicts as dicts
    return {exercise: dataclasses.asdict(verdict) for exercise, verdict in verdicts.items()}


class GradeError(Exception):
    """Grading cannot start; the message says what to do."""


class ClassGrader:
    def __init__(self, args, seed):
        self.out = Path(args.out).resolve()
        self.submissions = Path(args.submissions).resolve()
        self.course_dir = Path(args.course_dir).resolve() if args.course_dir else self.out / COURSE_FOLDER
        self.cells = check_cells.course_cells()
        self.points = dict(exercises.POINTS)
        self.bonus = list(exercises.BONUS)
        self.required = list(exercises.REQUIRED)
        limits = Limits(task_seconds=args.task_timeout, import_seconds=args.import_timeout)
        hidden = [self.course_dir, self.submissions, self.out]
        self.run = GradingRun(
            seed=seed,
            limits=limits,
            hidden=hidden,
            user=args.sandbox_user,
            unsafe=args.unsafe_no_sandbox,
            mode=getattr(args, "isolation", container.BUBBLEWRAP),
        )
        self.use_nbgrader = not args.no_nbgrader
        self.roster = args.roster

    def grade_one(self, entry):
        start = time.monotonic()
        sub = submission.read(str(entry.path), entry.student_id)
        course_cells = {g: (nb, src) for g, (nb, src, _) in self.cells.items()}
        student_cells = submission.compare_check_cells(sub, course_cells)
        sandbox = self.run.run(sub.helpers)
        results, info, events = sandbox.results, sandbox.imports, sandbox.events
        verdicts = _as_dicts(scoring.score(self.points, self.run.inputs, self.run.references, results))
        for verdict in verdicts.values():
            for part in verdict["parts"]:
                # a hand-in without helpers/ ran the stubs: what failed is the missing folder, not "COMPLETE THIS"
                said = NO_HELPERS_PART if sub.no_helpers and not part["ok"] else part["message"]
                part["message"] = untrusted.clean(said)
        checks = {}
        for exercise in exercises.EXERCISES:
            result = results.get(f"check:{exercise}", scoring.NOT_RUN)
            outputs = result.outputs
            # the self-check's words are the student's code's: made printable and leak-free here, once
            if "ok" in outputs:
                checks[exercise] = (bool(outputs["ok"]), untrusted.clean(outputs.get("message", ""), 600, lines=6))
            else:
                said = f"{result.status}: {result.detail}"
                checks[exercise] = (False, untrusted.clean(said, 600, lines=6))
            if sub.no_helpers and not checks[exercise][0]:
                checks[exercise] = (False, NO_HELPERS_PART)
        flags = [*entry.notes, *sub.flags, *self.run.isolation.row_flags()]
        for module, message in info.errors.items():
            flags.append(f"helpers/{module}.py does not import ({message}): graded as the stub")
        for module, names in info.replaced.items():
            flags.append(f"tampering: importing helpers/{module}.py replaced {', '.join(names[:5])} (seen in the sandbox)")
        flags.extend(f"self-check {e[len('check:') :]}" if e.startswith("check:") else e for e in events)
        for grade_id, cell in student_cells.items():
            exercise = grade_id[len("check_") :]
            if cell is not None and PASSED in cell[1] and not checks.get(exercise, (True,))[0]:
                flags.append(
                    f"{grade_id}: the notebook's saved output says it passed, but re-running it on the submitted "
                    "helpers/ fails (code changed after the run, or the output was edited)"
                )
        row = self._row(entry, verdicts, checks, flags)
        row.update(seconds=round(time.monotonic() - start, 2), student_cells=student_cells, helpers=sub.helpers)
        return row

    def _row(self, entry, verdicts, checks, flags):
        return {
            "student_id": entry.student_id,
            "verdicts": verdicts,
            "checks": checks,
            "flags": [untrusted.clean(flag, 400) for flag in flags],
            "submitted_at": entry.submitted_at.isoformat() if entry.submitted_at else None,
            "time_source": entry.time_source,
            "source": untrusted.clean(entry.original_name, 200),
            "isolation": self.run.isolation.summary(),  # which bubblewrap and layers graded this row
            "seconds": 0,
            "student_cells": {},
            "helpers": {},
        }

    def safe_grade_one(self, entry):
        """A row for every hand-in: a failure grading it scores it 0 (flagged), and never stops the class."""
        try:
            return self.grade_one(entry)
        except Exception as error:
            traceback.print_exc()
            flag = f"grading error ({type(error).__name__}: {error}): scored 0, grade again"
        try:
            verdicts = _as_dicts(scoring.score(self.points, self.run.inputs, self.run.references, {}))
            return self._row(entry, verdicts, {}, [flag])
        except Exception as error:  # nothing of the hand-in's text in this row: only its id, which the grader chose
            traceback.print_exc()
            row = dict.fromkeys(("submitted_at", "time_source", "source"))
            flags = [f"grading error ({type(error).__name__}): scored 0, grade again"]
            return row | {"student_id": entry.student_id, "verdicts": {}, "checks": {}, "flags": flags, "seconds": 0}

    def write_csv(self, path, rows):
        text = io.StringIO()
        writer = csv.writer(text)
        header = ["student_id", *self.required, "points", "late_minutes", "late_penalty", "total", "max_total",
                  *self.bonus, "adjustments", "flags"]  # fmt: skip
        writer.writerow(header)
        for row in rows:
            try:
                writer.writerow(self._csv_cells(row))
            except Exception as error:  # that student's row says so, in its flags column; the others are written
                traceback.print_exc()
                empty = [""] * (len(header) - 2)
                writer.writerow([untrusted.csv_cell(row.get("student_id", "?")), *empty, _failure("row not written", error)])
        _replace_file(Path(path), text.getvalue())

    def _csv_cells(self, row):
        final = row["final"]
        cells = [
            row["student_id"],
            *(_fmt(final["exercises"][e]) for e in self.required),
            _fmt(final["points"]),
            _fmt(float(round(final["late_minutes"]))),
            f"{_fmt(100.0 * final['late_penalty'])}%" if final["late_penalty"] else "0",
            _fmt(final["total"]),
            _fmt(final["max_total"]),
            *(_fmt(final["exercises"][e]) for e in self.bonus),
            "; ".join(a["text"] for a in final["adjustments"]),
            "; ".join(row["flags"] + ([final["late_note"]] if final["late_note"] else [])),
        ]
        return [untrusted.csv_cell(cell) for cell in cells]

    def feedback_html(self, row):
        """A self-contained page (used when nbgrader's feedback is not available): the summary of the
        row's final scores (``feedback.summary``), then every part's verdict."""
        esc = untrusted.html
        final = row["final"]
        about = feedback.summary(row, self.bonus)
        parts = []
        for exercise, v in row["verdicts"].items():
            for p in v["parts"]:
                parts.append(
                    f"<tr><td>{esc(exercise)}</td><td>{esc(p['part'])}</td>"
                    f"<td>{_fmt(p['points'])} / {_fmt(p['max'])}</td><td>{esc(p['message'] or 'passed')}</td></tr>"
                )
        flags = "".join(f"<li>{esc(f)}</li>" for f in row["flags"]) or "<li>none</li>"
        checks = "".join(
            f"<li>{esc(e)}: {'passed' if ok else 'failed'}: {esc(untrusted.clean(msg))}</li>"
            for e, (ok, msg) in row["checks"].items()
        )
        grade = "".join(f"<li>{esc(line)}</li>" for line in about.lines())
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(about.title)}</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;padding:.3em .6em}"
            "table{border-collapse:collapse}</style></head><body>"
            f"<h1>{esc(about.title)}: {_fmt(final['total'])} / {_fmt(final['max_total'])}</h1>"
            f"<h2>Your grade</h2><ul>{grade}</ul>"
            "<h2>The hidden tests, part by part</h2>"
            "<table><tr><th>exercise</th><th>part</th><th>points</th><th>result</th></tr>" + "".join(parts) + "</table>"
            f"<h2>Your notebooks' self-checks, re-run by the grader</h2><ul>{checks}</ul>"
            f"<h2>Notes</h2><ul>{flags}</ul></body></html>"
        )

    def nbgrader_phase(self, rows, tmp, decisions):
        """nbgrader's gradebook and feedback; any failure leaves the trusted scores standing, and a failure
        recording one student costs that student's nbgrader entry only."""
        from autograder.reporting import gradebook

        try:
            course = gradebook.Course(self.course_dir, self.cells, Path(tmp) / "nbgrader-home")
            with course.locked():
                course.build(log=lambda line: print(f"grade: {line}", file=sys.stderr))
                for row in rows:
                    fresh = row.get("regraded")
                    try:
                        course.record(
                            row, row.get("student_cells") if fresh else None, row.get("helpers") if fresh else None, decisions
                        )
                    except Exception as error:
                        traceback.print_exc()
                        row["flags"].append(_failure("nbgrader record not written; scores are the trusted verdicts", error))
                course.finish(rows)
        except Exception as error:
            traceback.print_exc()
            for row in rows:
                if row.get("regraded"):
                    row["flags"].append(f"nbgrader step failed ({type(error).__name__}); scores are the trusted verdicts")

    def write_feedback(self, folder, row):
        """One student's page, ``folder/<student_id>.html``; a failure costs that page (flagged in the row)."""
        try:
            name = f"{row['student_id']}.html"
            if "/" in name or name.startswith(".") or untrusted.visible(name) != name or name != name.strip():
                raise ValueError("the student id is not a plain file name")
            _replace_file(folder / name, row.get("feedback_html") or self.feedback_html(row))
        except Exception as error:
            traceback.print_exc()
            row["flags"].append(_failure("feedback page not written", error))

    def _report_entry(self, row):
        keep = (
            *("student_id", "verdicts", "checks", "flags", "seconds", "submitted_at", "time_source", "source"),
            *("isolation", "final"),
        )
        try:
            return {k: row.get(k) for k in keep} | {"self_checks": {e: ok for e, (ok, _msg) in row["checks"].items()}}
        except Exception as error:
            traceback.print_exc()
            return {"student_id": row.get("student_id"), "flags": [*row.get("flags", []), _failure("report entry cut", error)]}

    def write(self, rows, elapsed, jobs, collection_report):
        """The class folder's files: feedback pages first (a page that fails is flagged in its row), then
        report.json (what a later run merges into), then grades.csv. Student text arrives printable; the
        files are written as UTF-8 whatever they hold."""
        feedback = self.out / "feedback"
        feedback.mkdir(parents=True, exist_ok=True)
        for row in rows:
            self.write_feedback(feedback, row)
        report = {
            "seed": self.run.seed,
            "isolation": self.run.isolation.describe(),
            "isolation_mode": self.run.isolation.mode,  # bubblewrap, container or none: what graded this run
            "seconds": round(elapsed, 2),
            "seconds_per_submission": round(elapsed / max(1, sum(bool(r.get("regraded")) for r in rows)), 2),
            "jobs": jobs,
            "exercises": exercises.EXERCISES,
            "bonus": self.bonus,
            "collection": collection_report,
            "roster": str(Path(self.roster).resolve()) if self.roster else None,
            "students": [self._report_entry(row) for row in rows],
        }
        # ASCII JSON: \u escapes hold any text; ``default=str`` writes what JSON has no type for
        _replace_file(self.out / "report.json", json.dumps(report, indent=1, default=str))
        self.write_csv(self.out / "grades.csv", rows)


def _default_out():
    return ROOT / "grading" / dt.date.today().isoformat()


def _earlier(out, args):
    """The class folder's earlier rows ``{student_id: row}`` and settings (its ``seed``, ``roster`` and
    ``id_sources``: which name made each cleaned id), or ``({}, {})``; refuses a folder that is not one."""
    report = out / "report.json"
    if not out.exists() or not any(out.iterdir()):
        return {}, {}
    if not report.is_file():
        raise GradeError(f"--out {out} is not empty and holds no report.json of an earlier grading: choose another folder")
    if args.replace:
        return {}, {}  # dropped once grading can run (``_run``), never before
    data = json.loads(report.read_text())
    rows = {}
    for student in data.get("students", []):
        checks = student.get("checks") or {e: [ok, ""] for e, ok in student.get("self_checks", {}).items()}
        rows[student["student_id"]] = student | {
            "checks": {e: tuple(c) for e, c in checks.items()},
            "flags": student.get("flags", []),
        }
    collection = data.get("collection")
    sources = collection.get("id_sources") if isinstance(collection, dict) else None
    sources = {k: v for k, v in sources.items() if k in rows and isinstance(v, str)} if isinstance(sources, dict) else {}
    return rows, {"seed": data.get("seed"), "roster": data.get("roster"), "id_sources": sources}


def _late_policy(args):
    from autograder.reporting import late

    path = Path(args.config)
    return late.load_config(path) if path.is_file() else None


def finalize(row, required, bonus, decisions, overrides, policy):
    """The row's final scores: the verdicts, then Formgrader's scores, then overrides.csv (each with its
    reason), the sum, the late penalty from the submission time and the course's rule."""
    from autograder.reporting import late

    points = {e: row["verdicts"][e]["points"] if e in row["verdicts"] else 0.0 for e in (*required, *bonus)}
    adjustments = []
    for source, table in (("Formgrader", decisions), ("overrides.csv", overrides)):
        for exercise, (value, reason) in table.get(row["student_id"], {}).items():
            if exercise in points:
                was = points[exercise]
                points[exercise] = value
                text = f"{exercise}: {_fmt(was)} -> {_fmt(value)} ({source}: {reason})"
                adjustments.append(
                    {"exercise": exercise, "points": value, "was": was, "source": source, "reason": reason, "text": text}
                )
    total = sum(points.values())
    submitted = dt.datetime.fromisoformat(row["submitted_at"]) if row.get("submitted_at") else None
    assessment = policy.assess(submitted) if policy is not None else None
    penalty = assessment.penalty if assessment else 0.0
    row["final"] = {
        "exercises": points,
        "points": total,
        "late_minutes": assessment.late_minutes if assessment else 0.0,
        "late_penalty": penalty,
        "late_note": assessment.note if assessment and assessment.penalty else "",
        "total": late.apply(total, assessment) if assessment else total,
        "max_total": sum(exercises.POINTS[e] for e in required),
        "adjustments": adjustments,
    }
    return row


def run(args):
    try:
        return _run(args)
    except (GradeError, roster.RosterError, overrides.OverridesError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2


def _run(args):
    folder = Path(args.submissions)
    if not folder.is_dir() and not (folder.is_file() and folder.suffix.lower() == ".zip"):
        raise GradeError(f"{folder} is not a folder of submissions (or the zip of one)")
    if args.out is None:
        args.out = str(_default_out())
        print(f"grade: no --out given: writing to {args.out}", file=sys.stderr)
    out = Path(args.out).resolve()
    earlier, settings = _earlier(out, args)
    class_seed = settings.get("seed")
    if args.only is not None and not earlier and not args.replace:
        raise GradeError(f"--only merges into an earlier grading, and {out} holds none: grade the class first")
    if earlier and args.seed is not None and class_seed is not None and args.seed != class_seed:
        raise GradeError(
            f"{out} was graded with seed {class_seed}; rows graded with seed {args.seed} would not be comparable: "
            f"use --seed {class_seed}, or --replace to regrade everyone"
        )
    seed = args.seed if args.seed is not None else class_seed
    if args.roster is None and earlier and settings.get("roster"):
        args.roster = settings["roster"]
        print(f"grade: using the class's roster {args.roster} (give --roster to use another)", file=sys.stderr)
    roster_rows = roster.load(args.roster) if args.roster else None
    overrides_path = Path(args.overrides) if args.overrides else out / "overrides.csv"
    overrides = overrides.load_overrides(overrides_path, exercises.POINTS) if overrides_path.is_file() else {}
    if args.overrides and not overrides_path.is_file():
        raise GradeError(f"--overrides {overrides_path} not found")
    policy = _late_policy(args)
    try:
        grader = ClassGrader(args, seed)
    except bubblewrap.SandboxUnavailable as error:
        print(f"grade: refusing to run student code without a sandbox: {error}", file=sys.stderr)
        return 2
    if args.replace and (out / "report.json").is_file():
        shutil.rmtree(out / "feedback", ignore_errors=True)
        (out / "report.json").unlink()
        print(f"grade: --replace: {out}'s earlier rows and feedback dropped", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="ddpm-grade-") as tmp:
        zone = policy.timezone if policy is not None else None  # zip member times are wall-clock times
        # the class folder's rows keep their owners: a hand-in takes an earlier id only if it made that row
        sources = settings.get("id_sources", {})
        owners = {sid: sources.get(sid) for sid in earlier}
        collection = lms.collect(folder, roster_rows, workdir=Path(tmp) / "collected", timezone=zone, earlier=owners)
        entries = collection.entries
        if args.only is not None:
            unknown = sorted(set(args.only) - {e.student_id for e in entries})
            if unknown:
                known = ", ".join(sorted(e.student_id for e in entries)[:20])
                raise GradeError(f"--only: no hand-in for {', '.join(unknown)} in {folder} (its hand-ins: {known})")
            entries = [e for e in entries if e.student_id in set(args.only)]
        print(collection.report(), file=sys.stderr)
        print(f"grading {len(entries)} submission(s) with {args.jobs} job(s); {grader.run.isolation.describe()}", file=sys.stderr)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            graded = list(pool.map(grader.safe_grade_one, entries))
        for row in graded:
            row["regraded"] = True
        kept = {sid: row for sid, row in earlier.items() if sid not in {r["student_id"] for r in graded}}
        if kept:
            print(f"grade: {len(kept)} earlier row(s) kept from {out / 'report.json'}", file=sys.stderr)
        rows = sorted([*kept.values(), *graded], key=lambda r: r["student_id"])
        course = None
        decisions = {}
        if grader.use_nbgrader:
            from autograder.reporting import gradebook

            course = gradebook.Course(grader.course_dir, grader.cells, Path(tmp) / "nbgrader-home")
            decisions = course.decisions()
        for row in rows:
            finalize(row, grader.required, grader.bonus, decisions, overrides, policy)
        if course is not None:
            grader.nbgrader_phase(rows, tmp, decisions)
        elapsed = time.monotonic() - start
        out.mkdir(parents=True, exist_ok=True)
        collected = {"layouts": sorted(collection.layouts), "skipped": [list(s) for s in collection.skipped]}
        # which name made each id that is not the name itself, kept for the next run into this folder
        made = {e.student_id: submission.id_source(e.raw_id) for e in entries if e.raw_id not in ("", e.student_id)}
        collected["id_sources"] = {sid: src for sid, src in sources.items() if sid in kept} | made
        grader.write(rows, elapsed, args.jobs, collected)
    grader.run.close()  # the seccomp program and the run's cgroups
    missing = collection.missing(roster_rows) if roster_rows else []
    if missing:
        print(f"grade: no hand-in from {len(missing)} roster student(s): {', '.join(missing)}", file=sys.stderr)
    each = f" ({elapsed / len(graded):.1f} s each)" if graded else ""
    print(
        f"graded {len(graded)} submission(s) in {elapsed:.1f} s{each}; "
        f"{len(rows)} row(s) in {out / 'grades.csv'}, {out / 'feedback'}/",
        file=sys.stderr,
    )
    return 0
