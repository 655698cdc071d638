"""What the grading harnesses (Gradescope, PrairieLearn) share, inside their containers. Trusted side.

One hand-in arrives as a folder the harness wrote (Gradescope's ``/autograder/submission``, PrairieLearn's
``/grade/student``): its files laid out like the release, loose files, or one zip. :func:`grade_hand_in`
copies it into a fresh temporary folder outside the course, runs the course's own ``grade`` on it (same
hidden tests, ``--no-nbgrader``, the seed baked in at build time) with the harness's isolation, and returns
``report.json`` or why there is none. Each harness turns that into its own results format.

Isolation: ``auto`` unless ``DDPM_HARNESS_ISOLATION`` says ``bubblewrap`` or ``container``: bubblewrap where
the container lets it make namespaces, else container mode (``autograder.container``: student code as a
separate user; needs root, as harness containers run). Before grading, as root, the course is made readable
by root only, as the image's setup does (``container.setup_lines``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grading.student_row import StudentRow, row_from_report
from autograder.intake.junk import OS_JUNK
from autograder.paths import ROOT
from autograder.records import PartVerdict
from autograder.reporting.numbers import score_text
from autograder.sandbox import container
from autograder.untrusted import visible

STUDENT_ID = "submission"
CODE_SUFFIXES = (".py", ".ipynb")
STAFF_ONLY = "Details are in the autograder output, which only course staff can see."
ISOLATION_ENV = "DDPM_HARNESS_ISOLATION"  # bubblewrap | container | auto (default)


@dataclass
class Graded:
    """One hand-in's grading: ``report`` (grade's report.json) or ``reason`` (why it did not run)."""

    report: dict[str, Any] | None
    reason: str = ""
    notes: list[str] = field(default_factory=list)  # what staging skipped or chose, for the student


def failure_message(reason: str) -> str:
    return (
        "The autograder could not grade this submission, so it shows 0 points for now. This is a problem with the "
        f"course's grading setup, not with your work: please tell your instructor. Reason: {reason}"
    )


def _has_code(folder: Path, limit: int = 20_000) -> bool:
    """Whether ``folder`` holds a .py or .ipynb file anywhere (links not followed)."""
    seen = 0
    for _dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            seen += 1
            if name.endswith(CODE_SUFFIXES) or seen > limit:
                return name.endswith(CODE_SUFFIXES)
    return False


def stage(submission: str | Path, submissions: str | Path) -> list[str]:
    """Copy the harness's submission folder into ``submissions`` (a grade SUBMISSIONS folder) as one
    student: the zip when that is all the student uploaded, else the folder. Returns notes for the output."""
    submission, notes = Path(submission), []
    target = Path(submissions) / STUDENT_ID
    if not submission.is_dir() or submission.is_symlink():
        target.mkdir()
        return ["the submission folder is missing: nothing to grade"]
    entries = [p for p in sorted(submission.iterdir()) if p.name not in OS_JUNK]
    zips = [p for p in entries if p.suffix.lower() == ".zip" and p.is_file() and not p.is_symlink()]
    if zips and not _has_code(submission):
        if len(zips) > 1:
            notes.append(f"several zips uploaded: graded {visible(zips[0].name)[:100]!r} only")
        shutil.copyfile(zips[0], target.with_suffix(".zip"))
        return notes
    try:
        shutil.copytree(submission, target, symlinks=True)  # links stay links: grading never follows them
    except shutil.Error as error:
        notes.append(f"{len(error.args[0])} uploaded file(s) could not be copied (not regular files)")
    return notes


def scratch_parent() -> str:
    """Where the student's copy goes: the system's temporary folder, never inside the bundle's checkout."""
    folder = Path(tempfile.gettempdir()).resolve()
    return "/tmp" if folder == ROOT or ROOT in folder.parents else str(folder)


def _reason(stderr: str) -> str:
    """grade's own one-line explanation of why it did not run (its lines start with ``grade:``)."""
    said = [line.strip() for line in stderr.splitlines() if line.startswith("grade:")]
    return visible(" ".join(said))[:1500] if said else f"grading stopped unexpectedly. {STAFF_ONLY}"


def isolation_mode(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    mode = environ.get(ISOLATION_ENV) or container.AUTO
    if mode not in container.MODES:
        raise ValueError(f"{ISOLATION_ENV}={mode!r}: use one of {', '.join(container.MODES)}")
    return mode


def grade_hand_in(submission: str | Path, seed: int, timeout: float, mode: str = container.AUTO) -> Graded:
    """Grade one hand-in folder with the course's own ``grade`` (never raises for a grading failure)."""
    if mode != container.BUBBLEWRAP:
        container.lock_course(ROOT)  # as the image's setup does: the student user must not read the course
    with tempfile.TemporaryDirectory(prefix="ddpm-harness-", dir=scratch_parent()) as tmp:
        submissions = Path(tmp) / "submissions"
        submissions.mkdir()
        notes = stage(submission, submissions)
        out = Path(tmp) / "out"  # fresh: grade creates it
        command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--no-nbgrader"]
        command += ["--seed", str(seed), "--isolation", mode]
        print("running:", " ".join(command), flush=True)
        try:
            done = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Graded(None, f"grading took longer than {timeout:g} s and was stopped", notes)
        print(done.stdout, done.stderr, sep="\n", flush=True)
        report = out / "report.json"
        if done.returncode != 0 or not report.is_file():
            return Graded(None, _reason(done.stderr), notes)
        return Graded(json.loads(report.read_text()), "", notes)


def write_results(root: Path, results: dict[str, Any], started: float) -> Path:
    """``results/results.json`` under the harness's root, written whole or not at all (the harness reads it once)."""
    results["execution_time"] = round(time.monotonic() - started, 1)
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("results.json.partial")
    partial.write_text(json.dumps(results, indent=1))
    os.replace(partial, target)
    print(f"score {results['score']}; results written to {target}")
    return target


def the_student(report: dict[str, Any]) -> StudentRow:
    """The one student's row of a harness's ``report.json``."""
    return row_from_report(report["students"][0])


def parts(report: dict[str, Any]) -> Iterator[tuple[int, int, str, bool, PartVerdict]]:
    """``(exercise number, part number, exercise, extra credit?, part)`` for every graded part of the one student."""
    bonus = set(report.get("bonus", []))
    for n, (exercise, verdict) in enumerate(the_student(report).verdicts.items(), 1):
        for m, part in enumerate(verdict.parts, 1):
            yield n, m, exercise, exercise in bonus, part


def summary(report: dict[str, Any], notes: list[str] | tuple[str, ...] = ()) -> tuple[float, float, float, float, list[str]]:
    """``(points, max, extra points, extra max, lines)``: the totals and the text a student reads first (score,
    self-checks re-run, the grader's notes, which isolation graded the hand-in)."""
    student = the_student(report)
    bonus = set(report.get("bonus", []))
    got, most = {False: 0.0, True: 0.0}, {False: 0.0, True: 0.0}  # keyed by "extra credit?"
    for exercise, verdict in student.verdicts.items():
        got[exercise in bonus] += verdict.points
        most[exercise in bonus] += verdict.max
    lines = [f"Score: {score_text(got[False])} / {score_text(most[False])}"]
    if most[True]:
        lines[0] += (
            f", plus extra credit {score_text(got[True])} / {score_text(most[True])}: {score_text(got[False] + got[True])} in all"
        )
    failing = [e for e, (ok, _message) in student.checks.items() if not ok]
    if student.checks:
        lines.append(
            f"Your notebooks' self-checks, re-run by the grader: {len(student.checks) - len(failing)} of "
            f"{len(student.checks)} pass" + (f" (failing: {', '.join(failing)})" if failing else "")
        )
    flags = [*notes, *student.flags]
    if flags:
        lines += ["", "Notes from the grader:", *(f"- {flag}" for flag in flags)]
    if student.isolation:
        lines += ["", f"Your code ran isolated by: {student.isolation}"]
    return got[False], most[False], got[True], most[True], lines
