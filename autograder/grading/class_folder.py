"""``python -m autograder grade``: grade a class into its class folder, graded once and then kept up to date.

``SUBMISSIONS`` is a folder (or the zip of one) as an LMS downloads it: one folder or ``<id>.zip``
per student, or Canvas, Moodle or Gradescope's own layouts (``autograder.intake.lms`` maps their names to
student ids, through ``--roster``); stray files (``roster.csv``, ``__MACOSX``, ``.DS_Store``) are
skipped and reported. Writes ``DIR/grades.csv``, ``DIR/feedback/<student_id>.html`` and ``DIR/report.json``
(``autograder.reporting.class_files``).

Grading into a class folder again merges (the students graded now replace their rows, every other row
stays, and the class's seed is reused), and ``--only ID ...`` regrades some students. Instructors'
decisions survive every regrade: the lines of ``DIR/overrides.csv`` and the scores set by hand in nbgrader's
Formgrader (the class's own course, ``DIR/nbgrader``, with its ``gradebook.db``) replace the hidden tests'
verdict for that exercise (``autograder.reporting.final_scores``). Late penalties follow the course config
(``autograder/course.ini``, ``[late]``), counted from a student's own due date where ``DIR/extensions.csv`` gives
one; ``DIR/adjustments.json`` dates every adjustment (``autograder.reporting.audit``). nbgrader records the rows as
its gradebook and renders the feedback (``autograder.reporting.gradebook``), without running any student code itself.
Exit code 0 whenever grading ran, whatever the scores; 2 when it could not (no sandbox, a bad option).
"""

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from autograder.assignment import exercises
from autograder.grading.class_grader import ClassGrader
from autograder.grading.student_row import StudentRow, row_from_report
from autograder.intake import lms, roster, submission
from autograder.intake.lms_entries import Collection, Entry
from autograder.paths import ROOT
from autograder.reporting import audit, extensions, gradebook, late, overrides
from autograder.reporting.class_files import ClassRun, write_class_folder
from autograder.reporting.final_scores import finalize
from autograder.sandbox import bubblewrap

COURSE_FOLDER = "nbgrader"  # the class folder's own nbgrader course: its gradebook lists this class only
DECISIONS = ("overrides.csv", extensions.FILE)  # an instructor may write these before the first grading


class GradeError(Exception):
    """Grading cannot start; the message says what to do."""


def default_out() -> Path:
    return ROOT / "grading" / dt.date.today().isoformat()


def earlier_grading(out: Path, replace: bool) -> tuple[dict[str, StudentRow], dict[str, Any]]:
    """The class folder's earlier rows ``{student_id: row}`` and settings (its ``seed``, ``roster`` and
    ``id_sources``: which name made each cleaned id), or ``({}, {})``; refuses a folder that is not one.
    ``replace``: the earlier rows are to be dropped (once grading can run, never before)."""
    report = out / "report.json"
    if not out.exists() or all(p.name in DECISIONS for p in out.iterdir()):
        return {}, {}
    if not report.is_file():
        raise GradeError(f"--out {out} is not empty and holds no report.json of an earlier grading: choose another folder")
    if replace:
        return {}, {}
    data = json.loads(report.read_text())
    rows = {student["student_id"]: row_from_report(student) for student in data.get("students", [])}
    collection = data.get("collection")
    sources = collection.get("id_sources") if isinstance(collection, dict) else None
    sources = {k: v for k, v in sources.items() if k in rows and isinstance(v, str)} if isinstance(sources, dict) else {}
    return rows, {"seed": data.get("seed"), "roster": data.get("roster"), "id_sources": sources}


def late_policy(config: str) -> late.Policy | None:
    path = Path(config)
    return late.load_config(path) if path.is_file() else None


def run(args: argparse.Namespace) -> int:
    try:
        return grade_class(args)
    except (GradeError, roster.RosterError, overrides.OverridesError, extensions.ExtensionsError, audit.AuditError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2


def say(line: str) -> None:
    print(f"grade: {line}", file=sys.stderr)


def _settings(args: argparse.Namespace, out: Path, earlier: dict[str, StudentRow], settings: dict[str, Any]) -> int | None:
    """The seed to grade with, after refusing options that contradict the class folder; sets the class's roster."""
    class_seed = settings.get("seed")
    if args.only is not None and not earlier and not args.replace:
        raise GradeError(f"--only merges into an earlier grading, and {out} holds none: grade the class first")
    if earlier and args.seed is not None and class_seed is not None and args.seed != class_seed:
        raise GradeError(
            f"{out} was graded with seed {class_seed}; rows graded with seed {args.seed} would not be comparable: "
            f"use --seed {class_seed}, or --replace to regrade everyone"
        )
    if args.roster is None and earlier and settings.get("roster"):
        args.roster = settings["roster"]
        say(f"using the class's roster {args.roster} (give --roster to use another)")
    return args.seed if args.seed is not None else class_seed


def _chosen(entries: list[Entry], only: list[str] | None, folder: Path) -> list[Entry]:
    """The hand-ins ``--only`` names (all of them without it); refuses an id with no hand-in."""
    if only is None:
        return entries
    unknown = sorted(set(only) - {e.student_id for e in entries})
    if unknown:
        known = ", ".join(sorted(e.student_id for e in entries)[:20])
        raise GradeError(f"--only: no hand-in for {', '.join(unknown)} in {folder} (its hand-ins: {known})")
    return [e for e in entries if e.student_id in set(only)]


def _overrides(given: str | None, out: Path) -> dict[str, dict[str, overrides.Override]]:
    """The instructor's overrides: ``--overrides``, else the class folder's ``overrides.csv`` when there is one."""
    path = Path(given) if given else out / "overrides.csv"
    if given and not path.is_file():
        raise GradeError(f"--overrides {path} not found")
    return overrides.read_overrides(path, exercises.POINTS) if path.is_file() else {}


def _extensions(out: Path, policy: late.Policy | None) -> dict[str, extensions.Extension]:
    path = out / extensions.FILE
    return extensions.load_extensions(path, policy) if path.is_file() else {}


def _collection_facts(collection: Collection, entries: list[Entry], kept_sources: dict[str, str]) -> dict[str, Any]:
    """``report.json``'s ``collection``: the layouts seen, what was skipped, and which name made each id that is
    not the name itself (``kept_sources``: those of the rows kept), for the next run into this folder."""
    made = {e.student_id: submission.id_source(e.raw_id) for e in entries if e.raw_id not in ("", e.student_id)}
    return {
        "layouts": sorted(collection.layouts),
        "skipped": [list(s) for s in collection.skipped],
        "id_sources": kept_sources | made,
    }


def _run_facts(grader: ClassGrader, args: argparse.Namespace, elapsed: float, collected: dict[str, Any]) -> ClassRun:
    isolation = grader.run.isolation
    return ClassRun(
        seed=grader.run.seed,
        isolation=isolation.describe(),
        isolation_mode=isolation.mode,
        seconds=elapsed,
        jobs=args.jobs,
        exercises=list(exercises.EXERCISES),
        required=list(exercises.REQUIRED),
        bonus=list(exercises.BONUS),
        collection=collected,
        roster=args.roster,
    )


def grade_class(args: argparse.Namespace) -> int:
    """The ``grade`` command: grade, merge, finalize, record in nbgrader, write the class folder."""
    folder = Path(args.submissions)
    if not folder.is_dir() and not (folder.is_file() and folder.suffix.lower() == ".zip"):
        raise GradeError(f"{folder} is not a folder of submissions (or the zip of one)")
    if args.out is None:
        args.out = str(default_out())
        say(f"no --out given: writing to {args.out}")
    out = Path(args.out).resolve()
    earlier, settings = earlier_grading(out, args.replace)
    seed = _settings(args, out, earlier, settings)
    roster_rows = roster.load(args.roster) if args.roster else None
    decided = _overrides(args.overrides, out)
    policy = late_policy(args.config)
    granted, trail = _extensions(out, policy), audit.Trail.open(out)
    course_dir = Path(args.course_dir).resolve() if args.course_dir else out / COURSE_FOLDER
    try:
        grader = ClassGrader(args, seed, hidden=[course_dir, Path(args.submissions).resolve(), out])
    except bubblewrap.SandboxUnavailable as error:
        say(f"refusing to run student code without a sandbox: {error}")
        return 2
    if args.replace and (out / "report.json").is_file():
        shutil.rmtree(out / "feedback", ignore_errors=True)
        (out / "report.json").unlink()
        say(f"--replace: {out}'s earlier rows and feedback dropped")
    with tempfile.TemporaryDirectory(prefix="ddpm-grade-") as tmp:
        zone = policy.timezone if policy is not None else None  # zip member times are wall-clock times
        # the class folder's rows keep their owners: a hand-in takes an earlier id only if it made that row
        sources = settings.get("id_sources", {})
        owners = {sid: sources.get(sid) for sid in earlier}
        collection = lms.collect(folder, roster_rows, workdir=Path(tmp) / "collected", timezone=zone, earlier=owners)
        entries = _chosen(collection.entries, args.only, folder)
        print(collection.report(), file=sys.stderr)
        print(f"grading {len(entries)} submission(s) with {args.jobs} job(s); {grader.run.isolation.describe()}", file=sys.stderr)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            graded = list(pool.map(grader.safe_grade_one, entries))
        for row in graded:
            row.regraded = True
        kept = {sid: row for sid, row in earlier.items() if sid not in {r.student_id for r in graded}}
        if kept:
            say(f"{len(kept)} earlier row(s) kept from {out / 'report.json'}")
        rows = sorted([*kept.values(), *graded], key=lambda r: r.student_id)
        course = gradebook.Course(course_dir, grader.cells, Path(tmp) / "nbgrader-home") if not args.no_nbgrader else None
        decisions = course.decisions() if course is not None else {}
        for row in rows:
            finalize(row, exercises.REQUIRED, exercises.BONUS, decisions, decided, policy, granted, trail)
        unknown = extensions.unknown(granted, (row.student_id for row in rows))
        if unknown:
            say(f"{extensions.FILE}: no row for {', '.join(unknown)} (ids are grades.csv's student_id): not applied")
        if course is not None:
            gradebook.record_class(course, rows, decisions, log=say)
        elapsed = time.monotonic() - start
        out.mkdir(parents=True, exist_ok=True)
        collected = _collection_facts(collection, entries, {sid: src for sid, src in sources.items() if sid in kept})
        write_class_folder(out, rows, _run_facts(grader, args, elapsed, collected))
        trail.save()
    grader.run.close()  # the seccomp program and the run's cgroups
    missing = collection.missing(roster_rows) if roster_rows else []
    if missing:
        say(f"no hand-in from {len(missing)} roster student(s): {', '.join(missing)}")
    each = f" ({elapsed / len(graded):.1f} s each)" if graded else ""
    print(
        f"graded {len(graded)} submission(s) in {elapsed:.1f} s{each}; "
        f"{len(rows)} row(s) in {out / 'grades.csv'}, {out / 'feedback'}/",
        file=sys.stderr,
    )
    return 0
