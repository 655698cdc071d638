"""The class roster: one CSV row per student, the ids the LMSs know them by. Trusted side.

Columns (header names, any order): ``student_id`` (required: the id in ``grades.csv``), then any of
``name``, ``email``, ``canvas_id`` (Canvas user id, the number in its download file names),
``sis_user_id``, ``sis_login_id``, ``section``, ``moodle_id`` (Moodle participant id, the number in
its download folder names), ``moodle_idnumber``, ``gradescope_sid``. Unknown columns are kept.
"""

import csv
import os
from pathlib import Path

COLUMNS = (
    "student_id",
    "name",
    "email",
    "canvas_id",
    "sis_user_id",
    "sis_login_id",
    "section",
    "moodle_id",
    "moodle_idnumber",
    "gradescope_sid",
)


class RosterError(ValueError):
    """A roster that cannot be used; the message says what to fix."""


def load(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """``[{column: value}]`` in file order; ``RosterError`` when the file is unusable."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"roster {path} not found: give a CSV with a header row and a student_id column")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "student_id" not in header:
            raise RosterError(f"roster {path}: no student_id column (header: {', '.join(header) or 'empty'})")
        rows, seen = [], set()
        for number, raw in enumerate(reader, 2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            sid = row.get("student_id", "")
            if not sid:
                raise RosterError(f"roster {path}, line {number}: empty student_id")
            if sid in seen:
                raise RosterError(f"roster {path}, line {number}: student_id {sid!r} appears twice")
            seen.add(sid)
            rows.append(row)
    return rows


def index(rows: list[dict[str, str]], column: str) -> dict[str, str]:
    """``{value of column: student_id}`` over the rows that have one."""
    return {row[column]: row["student_id"] for row in rows if row.get(column)}
