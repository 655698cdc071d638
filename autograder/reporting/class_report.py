"""The class report (``python -m autograder report DIR``): what a class folder's ``report.json`` says about the
whole class, for the instructor's next lecture.

Tables, each also written as a CSV beside ``report.html`` (``report_page`` draws the page):

- the final totals (``report_scores.csv``: a histogram), read from each row's ``final``, the scores
  ``reporting.final_scores`` made and ``grades.csv`` wrote from the same row: nothing is scored again here,
  and a ``grades.csv`` whose totals disagree with ``report.json`` (edited by hand) is said on the page;
- per exercise and per part, the share of students who failed it (``report_parts.csv``);
- the named mistakes and how many students made each (``report_mistakes.csv``), from each failed part's
  ``mistake`` (``{"id", "kind", "text"}`` or null; older ``report.json`` files have none);
- late hand-ins and adjustments (``report_adjustments.csv``): whatever fields the rows' ``final`` carries
  besides the scores, shown as they are;
- the code similarity of the students' solution regions (``report_similarity.csv``, ``similarity``):
  evidence for a person to judge, never a score, never a column of ``grades.csv``.

Every text a student controls (ids, messages, code) is escaped where it is written (HTML, CSV cells).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import untrusted
from autograder.reporting.numbers import score_text

# the scores of ``final``: every other key of it is an adjustment field, shown generically
SCORE_KEYS = ("exercises", "points", "total", "max_total")
NOT_LATE: tuple[object, ...] = ("", None, 0, 0.0, [], {}, False)  # a field holding one of these says nothing


class ReportError(Exception):
    """The class folder cannot be reported on; the message says what to do."""


@dataclass(frozen=True)
class PartShare:
    """How many students failed one part (``part`` empty: the exercise as a whole, any part failed)."""

    exercise: str
    part: str
    failed: int
    graded: int

    @property
    def share(self) -> float:
        return self.failed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class MistakeCount:
    """One named mistake of one exercise and the students whose failed parts it names."""

    exercise: str
    id: str
    kind: str
    text: str
    students: tuple[str, ...]


@dataclass(frozen=True)
class Adjusted:
    """One student's late hand-in or adjustments: each field of ``final`` that is not a score, as it is."""

    student_id: str
    submitted_at: str
    fields: dict[str, Any]


@dataclass
class ClassData:
    """A class folder as the report reads it."""

    folder: Path
    run: dict[str, Any]  # report.json without its students
    students: list[dict[str, Any]]
    grades_totals: dict[str, str] = field(default_factory=dict)  # student_id -> grades.csv's total cell
    notes: list[str] = field(default_factory=list)  # what the page must say about the data (printable)


def load(folder: Path) -> ClassData:
    """``folder/report.json`` (and ``grades.csv`` when there, to check the totals agree)."""
    path = folder / "report.json"
    if not path.is_file():
        raise ReportError(f"{path} not found: give the folder `python -m autograder grade ... --out DIR` wrote")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise ReportError(f"{path} is not readable JSON ({error}): grade the class again to rewrite it") from error
    if not isinstance(report, dict) or not isinstance(report.get("students"), list):
        raise ReportError(f"{path} has no 'students' list: is it a class folder's report.json?")
    students = [s for s in report["students"] if isinstance(s, dict) and isinstance(s.get("student_id"), str)]
    data = ClassData(folder, {k: v for k, v in report.items() if k != "students"}, students)
    grades = folder / "grades.csv"
    if grades.is_file():
        with open(grades, encoding="utf-8", newline="") as f:
            for line in csv.DictReader(f):
                sid = untrusted.csv_text(line.get("student_id"))
                data.grades_totals[sid] = untrusted.csv_text(line.get("total"))
    data.notes += totals_disagree(data)
    return data


def final_total(student: dict[str, Any]) -> tuple[float, float] | None:
    """(total, max_total) of a row as grades.csv states it (``final``, made by ``final_scores.finalize``); None for a
    row cut short (its entry could not be made, so grades.csv shows no total for it either)."""
    final = student.get("final")
    if not isinstance(final, dict) or not isinstance(final.get("total"), (int, float)):
        return None
    return float(final["total"]), float(final.get("max_total") or 0.0)


def totals_disagree(data: ClassData) -> list[str]:
    """A note per student whose grades.csv total is not the one report.json holds (grades.csv edited by hand)."""
    notes = []
    for student in data.students:
        sid, total = student["student_id"], final_total(student)
        if total is None or sid not in data.grades_totals:
            continue
        if data.grades_totals[sid] != score_text(total[0]):
            notes.append(
                f"{untrusted.visible(sid)}: grades.csv says {untrusted.visible(data.grades_totals[sid])}, report.json "
                f"{score_text(total[0])}; this report uses report.json (grade the class again to make them agree)"
            )
    return notes


def histogram(data: ClassData, width: float = 1.0) -> list[tuple[float, float, int]]:
    """``(low, high, students)`` bins of the final totals, ``width`` points each, from 0 to the highest total or
    ``max_total``; a bin holds ``low <= total < high`` except the last, which holds its upper edge too."""
    totals = [t for t in (final_total(s) for s in data.students) if t is not None]
    if not totals:
        return []
    top = max(max(t for t, _m in totals), max(m for _t, m in totals), width)
    count = max(1, math.ceil(top / width - 1e-9))
    bins = [[i * width, (i + 1) * width, 0] for i in range(count)]
    for total, _max in totals:
        index = min(count - 1, max(0, int(math.floor(total / width + 1e-9))))
        bins[index][2] += 1
    return [(float(low), float(high), int(n)) for low, high, n in bins]


def _parts(student: dict[str, Any], exercise: str) -> list[dict[str, Any]]:
    verdict = (student.get("verdicts") or {}).get(exercise)
    parts = verdict.get("parts") if isinstance(verdict, dict) else None
    return [p for p in parts or [] if isinstance(p, dict)]


def exercises_of(data: ClassData) -> list[str]:
    """The run's exercises in its order, then any other one a row has (a row kept from an earlier table)."""
    order = [e for e in data.run.get("exercises") or [] if isinstance(e, str)]
    for student in data.students:
        order += [e for e in student.get("verdicts") or {} if e not in order]
    return order


def part_shares(data: ClassData) -> list[PartShare]:
    """Per exercise, the whole exercise (any part failed) then each part: failed / graded students. A student is
    counted where report.json holds their verdict (a row cut short has none, and is said in the notes)."""
    shares = []
    for exercise in exercises_of(data):
        graded = [s for s in data.students if _parts(s, exercise)]
        failed_any = sum(any(not p.get("ok") for p in _parts(s, exercise)) for s in graded)
        shares.append(PartShare(exercise, "", failed_any, len(graded)))
        names = list(dict.fromkeys(str(p.get("part")) for s in graded for p in _parts(s, exercise)))
        for name in names:
            having = [[p for p in _parts(s, exercise) if str(p.get("part")) == name] for s in graded]
            having = [ps for ps in having if ps]
            failed = sum(any(not p.get("ok") for p in ps) for ps in having)
            shares.append(PartShare(exercise, name, failed, len(having)))
    return shares


def mistake_counts(data: ClassData) -> list[MistakeCount]:
    """Students per (exercise, named mistake) over the failed parts, most frequent first. A student who made one
    mistake on several parts of an exercise counts once. A part without ``mistake`` (older report.json) or with
    null (no known mistake matches) names none."""
    found: dict[tuple[str, str], tuple[str, str, set[str]]] = {}
    for student in data.students:
        for exercise in exercises_of(data):
            for part in _parts(student, exercise):
                mistake = part.get("mistake")
                if part.get("ok") or not isinstance(mistake, dict) or not isinstance(mistake.get("id"), str):
                    continue
                key = (exercise, mistake["id"])
                kind, text, who = found.setdefault(key, (str(mistake.get("kind") or ""), str(mistake.get("text") or ""), set()))
                who.add(student["student_id"])
    counts = [MistakeCount(e, i, kind, text, tuple(sorted(who))) for (e, i), (kind, text, who) in found.items()]
    return sorted(counts, key=lambda m: (-len(m.students), m.exercise, m.id))


def unnamed_failures(data: ClassData) -> dict[str, int]:
    """Per exercise, the students with a failed part that no known mistake names."""
    counts = {}
    for exercise in exercises_of(data):
        counts[exercise] = sum(
            any(not p.get("ok") and not isinstance(p.get("mistake"), dict) for p in _parts(s, exercise)) for s in data.students
        )
    return counts


def adjusted(data: ClassData) -> list[Adjusted]:
    """Each student whose ``final`` carries anything but scores and zeros: late minutes, a penalty, overrides,
    Formgrader scores, extensions, whatever the grader that wrote report.json records there."""
    out = []
    for student in data.students:
        final = student.get("final")
        if not isinstance(final, dict):
            continue
        extra = {k: v for k, v in final.items() if k not in SCORE_KEYS and v not in NOT_LATE}
        if extra:
            out.append(Adjusted(student["student_id"], str(student.get("submitted_at") or ""), extra))
    return out


def field_text(value: Any) -> str:
    """An adjustment field on one line: a list of records as their ``text`` (else their fields), a number as a score."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return score_text(float(value))
    if isinstance(value, list):
        return "; ".join(field_text(v) for v in value)
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return value["text"]
        return ", ".join(f"{k}: {field_text(v)}" for k, v in value.items())
    return str(value)


def csv_text(header: list[str], lines: list[list[object]]) -> str:
    """A CSV file whose every cell is inert in a spreadsheet (``untrusted.csv_cell``)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    for line in lines:
        writer.writerow([untrusted.csv_cell(cell) for cell in line])
    return text.getvalue()


def csv_files(data: ClassData) -> dict[str, str]:
    """``{file name: text}`` of the report's CSV tables (similarity's is written by ``similarity``)."""
    adjustments = adjusted(data)
    keys = list(dict.fromkeys(k for a in adjustments for k in a.fields))
    return {
        "report_scores.csv": csv_text(["low", "high", "students"], [[lo, hi, n] for lo, hi, n in histogram(data)]),
        "report_parts.csv": csv_text(
            ["exercise", "part", "failed", "graded", "share_failed"],
            [[p.exercise, p.part or "(any part)", p.failed, p.graded, round(p.share, 4)] for p in part_shares(data)],
        ),
        "report_mistakes.csv": csv_text(
            ["exercise", "mistake", "kind", "students", "text", "student_ids"],
            [[m.exercise, m.id, m.kind, len(m.students), m.text, " ".join(m.students)] for m in mistake_counts(data)],
        ),
        "report_adjustments.csv": csv_text(
            ["student_id", "submitted_at", *keys],
            [
                [a.student_id, a.submitted_at, *(field_text(a.fields[k]) if k in a.fields else "" for k in keys)]
                for a in adjustments
            ],
        ),
    }
