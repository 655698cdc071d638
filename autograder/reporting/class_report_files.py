"""``python -m autograder report DIR``: write the class report into a class folder.

``DIR/report.html`` (``report_page``) and the tables as CSV beside it: ``report_scores.csv``,
``report_parts.csv``, ``report_mistakes.csv``, ``report_adjustments.csv`` (``class_report``) and
``report_similarity.csv`` (``similarity``). Reads ``DIR/report.json`` and ``grades.csv``, and the hand-ins'
``helpers/`` files where ``grade`` kept them (``solution_code``); changes nothing else in the folder.
Each file is written whole or not at all (``class_files.replace_file``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from autograder import untrusted
from autograder.authoring import stubs
from autograder.grading.class_folder import COURSE_FOLDER
from autograder.reporting import class_report, report_page, similarity, solution_code
from autograder.reporting.class_files import replace_file
from autograder.reporting.class_report import ClassData, ReportError


def handins(data: ClassData, args: argparse.Namespace) -> tuple[dict[str, dict[str, str]], str]:
    """``{student id: {file name: text}}`` of the report's students, and where they came from (in words)."""
    ids = [s["student_id"] for s in data.students]
    if args.submissions:
        sources = (data.run.get("collection") or {}).get("id_sources") or {}
        owners = {sid: sources.get(sid) for sid in ids}
        with tempfile.TemporaryDirectory(prefix="ddpm-report-") as tmp:
            found = solution_code.from_download(Path(args.submissions), args.roster, owners, Path(tmp) / "collected")
        where = f"the download {args.submissions}"
    else:
        course = Path(args.course_dir) if args.course_dir else data.folder / COURSE_FOLDER
        found = solution_code.from_course(course, ids)
        where = f"{course}/submitted/"
    return {sid: files for sid, files in found.items() if sid in set(ids)}, where


def similarity_part(data: ClassData, args: argparse.Namespace) -> tuple[str, str | None]:
    """The page's similarity section and report_similarity.csv's text (None: no table, the section says why)."""
    if args.no_similarity:
        return similarity.section(None, {}, "Not compared (--no-similarity)."), None
    missing = similarity.missing_library()
    if missing:
        return similarity.section(None, {}, missing), None
    found, where = handins(data, args)
    if len(found) < 2:
        note = (
            f"Hand-ins of {len(found)} student(s) found in {where}: nothing to compare. The grader keeps each hand-in's "
            "helpers/ in the class's nbgrader course (not with --no-nbgrader); otherwise give --submissions DIR, the "
            "download grade read (with its --roster), or --course-dir."
        )
        return similarity.section(None, {}, note), None
    generated = stubs.generate()
    documents, unread = {}, []
    for sid, files in found.items():
        try:  # a hand-in the report cannot read costs that student's place in the table, said on the page
            documents[sid] = similarity.document(solution_code.student_code(files, generated))
        except Exception as error:
            unread.append(f"{sid} ({type(error).__name__})")
    reference_files = {p.name: p.read_text() for p in sorted(stubs.SOLUTIONS.glob("*.py"))}
    reference = similarity.document(solution_code.student_code(reference_files, generated))
    pairs = similarity.compare(documents, reference)
    absent = sorted(set(s["student_id"] for s in data.students) - set(found))
    note = f"Read {len(found)} hand-in(s) from {where}."
    if absent:
        note += f" Not found there, so not compared: {', '.join(absent)}."
    if unread:
        note += f" Could not be read, so not compared: {', '.join(unread)}."
    header, lines = similarity.csv_lines(pairs, args.threshold)
    return similarity.section(pairs, documents, note, args.threshold), class_report.csv_text(header, lines)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.dir).resolve()
    try:
        data = class_report.load(folder)
    except ReportError as error:
        print(f"python -m autograder report: {error}", file=sys.stderr)
        return 2
    for name, text in class_report.csv_files(data).items():
        replace_file(folder / name, text)
    section, similarity_csv = similarity_part(data, args)
    if similarity_csv is not None:
        replace_file(folder / "report_similarity.csv", similarity_csv)
    replace_file(folder / "report.html", report_page.page(data, section))
    for note in data.notes:
        print(f"note: {untrusted.visible(note)}", file=sys.stderr)
    print(f"class report: {folder / 'report.html'} ({len(data.students)} student(s); tables in {folder}/report_*.csv)")
    return 0
