"""The class folder's files: ``feedback/<student_id>.html``, ``report.json`` and ``grades.csv``.

Written from the rows once their final scores are set, each file whole or not at all (a fresh file renamed
over the old one, never written through a link left in the folder). A failure on one student costs that
student's page or entry only, said in their flags; the other rows are complete. Student text arrives
printable; the files are written as UTF-8 whatever they hold.
"""

import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import untrusted
from autograder.grading.student_row import StudentRow, failure_flag, report_entry
from autograder.reporting import feedback, grades_csv


@dataclass(frozen=True)
class ClassRun:
    """What ``report.json`` says about the run besides its rows."""

    seed: int
    isolation: str  # how sandboxes were isolated, in words
    isolation_mode: str  # bubblewrap, container or none
    seconds: float
    jobs: int
    exercises: list[str]
    required: list[str]
    bonus: list[str]
    collection: dict[str, Any]  # layouts found, what was skipped, which name made each id
    roster: str | None


def replace_file(path: Path, text: str) -> None:
    """``path`` holds ``text`` as UTF-8, written to a fresh file that is then renamed over it (never through a
    link or file left in the output folder). A character UTF-8 cannot hold becomes ``?``: the last defence,
    after ``untrusted.visible`` made student text printable where it came in."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    with open(fd, "w", encoding="utf-8", errors="replace", newline="") as f:
        f.write(text)
    os.replace(partial, path)


def write_feedback_page(folder: Path, row: StudentRow, bonus: list[str]) -> None:
    """One student's page, ``folder/<student_id>.html`` (nbgrader's when it made one, else the grader's own);
    a failure costs that page (flagged in the row)."""
    try:
        name = f"{row.student_id}.html"
        if "/" in name or name.startswith(".") or untrusted.visible(name) != name or name != name.strip():
            raise ValueError("the student id is not a plain file name")
        replace_file(folder / name, row.feedback_html or feedback.page(row, bonus))
    except Exception as error:
        traceback.print_exc()
        row.flags.append(failure_flag("feedback page not written", error))


def safe_report_entry(row: StudentRow) -> dict[str, Any]:
    """The row's ``report.json`` entry; one that cannot be made is cut to the id and the flags, saying so."""
    try:
        return report_entry(row)
    except Exception as error:
        traceback.print_exc()
        return {"student_id": row.student_id, "flags": [*row.flags, failure_flag("report entry cut", error)]}


def class_report(rows: list[StudentRow], run: ClassRun) -> dict[str, Any]:
    """``report.json``: the run, then every row (what a later run into the folder merges into)."""
    regraded = sum(row.regraded for row in rows)
    return {
        "seed": run.seed,
        "isolation": run.isolation,
        "isolation_mode": run.isolation_mode,  # bubblewrap, container or none: what graded this run
        "seconds": round(run.seconds, 2),
        "seconds_per_submission": round(run.seconds / max(1, regraded), 2),
        "jobs": run.jobs,
        "exercises": run.exercises,
        "bonus": run.bonus,
        "collection": run.collection,
        "roster": str(Path(run.roster).resolve()) if run.roster else None,
        "students": [safe_report_entry(row) for row in rows],
    }


def write_class_folder(out: Path, rows: list[StudentRow], run: ClassRun) -> None:
    """Feedback pages first (a page that fails is flagged in its row), then report.json, then grades.csv."""
    pages = out / "feedback"
    pages.mkdir(parents=True, exist_ok=True)
    for row in rows:
        write_feedback_page(pages, row, run.bonus)
    # ASCII JSON: \u escapes hold any text; ``default=str`` writes what JSON has no type for
    replace_file(out / "report.json", json.dumps(class_report(rows, run), indent=1, default=str))
    replace_file(out / "grades.csv", grades_csv.grades_csv(rows, run.required, run.bonus))
