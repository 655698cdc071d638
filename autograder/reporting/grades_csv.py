"""``grades.csv``: one line per student, the columns an instructor and ``export`` read.

``student_id``, one column per required exercise, ``points``, ``late_minutes``, ``late_penalty``, ``total``,
``max_total``, the bonus exercises, ``adjustments``, ``flags``; every cell made inert for spreadsheets
(``untrusted.csv_cell``). ``adjustments`` lists every override, Formgrader score and extension with its reason
and date. A row that cannot be written says so in its ``flags`` column; the others are complete.
"""

import csv
import io
import traceback

from autograder import untrusted
from autograder.grading.student_row import StudentRow, failure_flag
from autograder.reporting.numbers import score_text


def header(required: list[str], bonus: list[str]) -> list[str]:
    return ["student_id", *required, "points", "late_minutes", "late_penalty", "total", "max_total", *bonus,
            "adjustments", "flags"]  # fmt: skip


def cells(row: StudentRow, required: list[str], bonus: list[str]) -> list[str]:
    """One student's line, cells escaped."""
    final = row.require_final()
    line = [
        row.student_id,
        *(score_text(final.exercises[e]) for e in required),
        score_text(final.points),
        score_text(float(round(final.late_minutes))),
        f"{score_text(100.0 * final.late_penalty)}%" if final.late_penalty else "0",
        score_text(final.total),
        score_text(final.max_total),
        *(score_text(final.exercises[e]) for e in bonus),
        "; ".join(f"{a.text}, on {a.date}" if a.date else a.text for a in final.adjustments),  # extensions too
        "; ".join(row.flags + ([final.late_note] if final.late_note else [])),
    ]
    return [untrusted.csv_cell(cell) for cell in line]


def grades_csv(rows: list[StudentRow], required: list[str], bonus: list[str]) -> str:
    """The file's text."""
    text = io.StringIO()
    writer = csv.writer(text)
    columns = header(required, bonus)
    writer.writerow(columns)
    for row in rows:
        try:
            writer.writerow(cells(row, required, bonus))
        except Exception as error:  # that student's row says so, in its flags column; the others are written
            traceback.print_exc()
            empty = [""] * (len(columns) - 2)
            writer.writerow([untrusted.csv_cell(row.student_id), *empty, failure_flag("row not written", error)])
    return text.getvalue()
