"""LMS import files (``python -m autograder export DIR --roster roster.csv [--canvas FILE] [--moodle FILE] ...``).

Reads ``DIR/grades.csv`` (written by ``grade``; only its ``student_id``, ``total`` and ``max_total``
columns are used) and the class roster (``autograder.roster``), and writes, for every roster student,
that student's ``total`` in the format each LMS imports. Without ``--canvas``/``--moodle`` both files are
written into DIR (``canvas_import.csv``, ``moodle_import.csv``).

Canvas (Grades > Import, "How do I import grades in the Gradebook?"): the layout of Canvas's own
gradebook export. Header ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>``, where the
assignment column is named ``Name (assignment id)`` (``DDPM (12345)``, the id from the assignment's
URL) so the scores go to that existing assignment; a header without an id makes Canvas offer to create
a new assignment. The second row is ``Points Possible`` (as in Canvas's export; it is not a student).
Canvas matches each row to a student by ``ID`` (the Canvas user id, roster ``canvas_id``), else
``SIS User ID`` or ``SIS Login ID``; ``Student`` (the name) and ``Section`` are only shown, and rows it
cannot match are left for the instructor to resolve in the import preview. An empty score cell is a
student without a row in grades.csv.

Moodle (Grades > Import > CSV file, gradeimport_csv): any header row; under "Identify user by" the
instructor maps one column ("Map from") to a user field ("Map to": email address, ID number, username
or user id), then each grade column to a grade item, and may map a feedback column to that item's
feedback. We write ``Full name`` (for people; leave it unmapped), the identifier columns ``Email
address`` (roster ``email``) and ``ID number`` (roster ``moodle_idnumber``) -- each one every roster
student has, else only the one most students have -- then the grade column (named by
``--assignment``) and, with ``--moodle-feedback COLUMN``, a ``Feedback`` column copied from that
grades.csv column. Moodle aborts the whole import on an identifier it does not know, and its importer
(grade/import/csv/classes/load_data.php) does not reset the matched user on a row whose identifier
cell is empty, so that row's grade would go to the student of the row before: roster students missing
a written identifier are therefore left out of the Moodle file, and listed. An empty grade cell means
"no grade" to Moodle. The roster's ``moodle_id`` is the assignment's participant id (in download
folder names), not a user id, so it is not used here.

Every cell written is made inert for spreadsheets (``untrusted.csv_cell``: a leading ``= + - @``, tab
or CR gets a ``'``); scores are written as plain numbers. Students in grades.csv but not in the roster,
and roster students without a grade, are listed on stderr; the exit code is still 0. A missing
grades.csv, an unusable roster or an unwritable output gives exit code 2 and one line on stderr.
"""

import argparse
import csv
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from autograder import untrusted
from autograder.intake import roster as roster_mod
from autograder.reporting.numbers import score_text

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_ROSTER_COLUMNS = ("name", "canvas_id", "sis_user_id", "sis_login_id", "section")
CANVAS_MATCH_COLUMNS = ("canvas_id", "sis_user_id", "sis_login_id")
POINTS_POSSIBLE = "Points Possible"
DEFAULT_ASSIGNMENT = "DDPM"
PLACES = 4  # decimals of a score in the LMS files
Row = dict[str, str]  # a roster line or a grades.csv line, by column


class ExportError(ValueError):
    """An input the export cannot use; the message is the one line shown to the user."""


# --------------------------------------------------------------------------- reading


def read_grades(path: str | Path) -> tuple[list[str], list[Row]]:
    """``(header, rows)`` of a grades.csv, cells unquoted; ``ExportError`` when it is missing or unusable."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path} not found: run `python -m autograder grade SUBMISSIONS --out DIR` first")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in ("student_id", "total") if c not in header]
            if missing:
                raise ExportError(f"{path}: no {' or '.join(missing)} column (header: {', '.join(header) or 'empty'})")
            rows = [dict(zip(header, (untrusted.csv_text(c) for c in line))) for line in reader if any(c.strip() for c in line)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError(f"{path}: cannot read it ({error})") from error
    return header, rows


def number(text: str) -> float | None:
    """A finite float from a cell, or None."""
    try:
        value = float(untrusted.csv_text(text))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- matching


class Match:
    """Roster students and grades.csv rows paired by ``student_id``, with what did not pair."""

    def __init__(self, roster_rows: list[Row], grade_rows: list[Row]) -> None:
        self.roster = roster_rows
        self.grades: dict[str, Row] = {}
        self.duplicates: list[str] = []
        self.bad_totals: list[str] = []
        for row in grade_rows:
            sid = row.get("student_id", "")
            if not sid:
                continue
            if sid in self.grades:
                self.duplicates.append(sid)
                continue
            self.grades[sid] = row
        known = {r["student_id"] for r in roster_rows}
        self.not_in_roster = [sid for sid in self.grades if sid not in known]
        self.no_grade = [r["student_id"] for r in roster_rows if r["student_id"] not in self.grades]

    def score(self, sid: str) -> str:
        """The student's total as a plain-number string, or "" (no row, or a total that is not a number)."""
        row = self.grades.get(sid)
        if row is None:
            return ""
        value = number(row.get("total", ""))
        if value is None:
            if sid not in self.bad_totals:
                self.bad_totals.append(sid)
            return ""
        return score_text(value, PLACES)

    def max_total(self) -> tuple[float | None, bool]:
        """The most common ``max_total`` of the matched rows, and whether they disagree."""
        rows = [self.grades[r["student_id"]] for r in self.roster if r["student_id"] in self.grades]
        counts = Counter(v for v in (number(row.get("max_total", "")) for row in rows) if v is not None)
        if not counts:
            return None, False
        return counts.most_common(1)[0][0], len(counts) > 1


# --------------------------------------------------------------------------- formats


def canvas_rows(match: Match, assignment: str, points_possible: float | None) -> list[list[str]]:
    """Header, ``Points Possible`` row, then one row per roster student (roster order)."""
    points = score_text(points_possible, PLACES) if points_possible is not None else ""
    rows = [[*CANVAS_IDENTITY, assignment], [POINTS_POSSIBLE, "", "", "", "", points]]
    for student in match.roster:
        rows.append([*(student.get(c, "") for c in CANVAS_ROSTER_COLUMNS), match.score(student["student_id"])])
    return rows


def moodle_columns(roster_rows: list[Row]) -> list[tuple[str, str]]:
    """The identifier columns to write, ``[(header, roster column)]``: those every roster student has (the
    instructor may map on any of them), else the one most students have (the others are left out)."""
    columns = [("Email address", "email"), ("ID number", "moodle_idnumber")]
    filled = {col: sum(1 for r in roster_rows if r.get(col)) for _, col in columns}
    complete = [(header, col) for header, col in columns if filled[col] == len(roster_rows)]
    if complete:
        return complete
    best = max(columns, key=lambda c: filled[c[1]])
    return [best] if filled[best[1]] else []


def moodle_rows(match: Match, assignment: str, feedback_column: str | None = None) -> tuple[list[list[str]], list[str]]:
    """``(rows, left_out)``: the header and one row per roster student who has every identifier written,
    and the student ids of those left out for lacking one."""
    ids = moodle_columns(match.roster)
    if not ids:
        raise ExportError("roster: Moodle needs an email or moodle_idnumber column with values to match students")
    header = ["Full name", *(h for h, _ in ids), assignment]
    if feedback_column:
        header.append("Feedback")
    rows, left_out = [header], []
    for student in match.roster:
        sid = student["student_id"]
        if not all(student.get(col) for _, col in ids):
            left_out.append(sid)
            continue
        row = [student.get("name", ""), *(student[col] for _, col in ids), match.score(sid)]
        if feedback_column:
            grade = match.grades.get(sid)
            row.append(grade.get(feedback_column, "") if grade else "")
        rows.append(row)
    return rows, left_out


def write_csv(path: str | Path, rows: list[list[Any]]) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # cells go through ``csv_cell``; "replace" is the last defence for any text UTF-8 cannot hold
        with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
            writer = csv.writer(f)
            for row in rows:
                writer.writerow([untrusted.csv_cell(None if cell is None else str(cell)) for cell in row])
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from error


# --------------------------------------------------------------------------- command


def _ids(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(untrusted.visible(i)) for i in ids[:limit])
    return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def _report(warnings: list[str], what: str, ids: list[str]) -> None:
    if ids:
        warnings.append(f"{len(ids)} {what}: {_ids(ids)}")


def _canvas(match: Match, assignment: str, points: float | None, warnings: list[str]) -> list[list[str]]:
    if points is None:
        points, varies = match.max_total()
        if varies and points is not None:  # several values: the most common one is never None
            warnings.append(
                f"max_total differs between students; Points Possible = {score_text(points, PLACES)} (the most common)"
            )
        if points is None:
            warnings.append("no max_total in grades.csv and no --points-possible: the Points Possible row is empty")
    if "(" not in assignment or not assignment.rstrip().endswith(")"):
        warnings.append(f"Canvas: {assignment!r} has no '(assignment id)': Canvas will offer to create a new assignment")
    no_id = [s["student_id"] for s in match.roster if not any(s.get(c) for c in CANVAS_MATCH_COLUMNS)]
    _report(warnings, "roster student(s) with no canvas_id, sis_user_id or sis_login_id for Canvas to match", no_id)
    return canvas_rows(match, assignment, points)


def run(args: argparse.Namespace) -> int:
    """The ``export`` command: both files (or those asked for), warnings on stderr; 2 and one line when it cannot."""
    out_dir = Path(args.dir)
    canvas_path, moodle_path = args.canvas, args.moodle
    if not canvas_path and not moodle_path:
        canvas_path, moodle_path = out_dir / "canvas_import.csv", out_dir / "moodle_import.csv"
    warnings: list[str] = []
    files: list[tuple[str, str | Path, list[list[str]], int]] = []
    try:
        if args.points_possible is not None and not (math.isfinite(args.points_possible) and args.points_possible > 0):
            raise ExportError(f"--points-possible must be a positive number, not {args.points_possible}")
        header, grade_rows = read_grades(out_dir / "grades.csv")
        if args.moodle_feedback and args.moodle_feedback not in header:
            raise ExportError(f"--moodle-feedback {args.moodle_feedback!r}: no such column in grades.csv ({', '.join(header)})")
        try:
            students = roster_mod.load(args.roster)
        except roster_mod.RosterError as error:
            raise ExportError(str(error)) from error
        if not students:
            raise ExportError(f"roster {args.roster}: no students")
        match = Match(students, grade_rows)
        if canvas_path:
            rows = _canvas(match, args.assignment, args.points_possible, warnings)
            files.append(("Canvas", canvas_path, rows, len(rows) - 2))
        if moodle_path:
            rows, left_out = moodle_rows(match, args.assignment, args.moodle_feedback)
            _report(warnings, "roster student(s) left out of the Moodle file, no email/ID number in the roster", left_out)
            files.append(("Moodle", moodle_path, rows, len(rows) - 1))
        for _, path, rows, _ in files:  # only once every file could be built
            write_csv(path, rows)
    except ExportError as error:
        print(f"export: {error}", file=sys.stderr)
        return 2
    _report(warnings, "student id(s) appear more than once in grades.csv, first row used", match.duplicates)
    _report(warnings, "student(s) in grades.csv but not in the roster, not exported", match.not_in_roster)
    _report(warnings, "roster student(s) without a row in grades.csv, grade left empty", match.no_grade)
    _report(warnings, "student(s) whose total is not a number, grade left empty", match.bad_totals)
    for warning in warnings:
        print(f"export: {warning}", file=sys.stderr)
    print("wrote " + "; ".join(f"{lms}: {path} ({n} students)" for lms, path, _, n in files))
    return 0
