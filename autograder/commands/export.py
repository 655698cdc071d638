"""``python -m autograder export DIR --roster roster.csv [--canvas FILE] [--moodle FILE] ...``: LMS import files.

The files and their formats: ``autograder.reporting.export``.
"""

import argparse

from autograder.reporting import export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the grading output folder holding grades.csv")
    parser.add_argument("--roster", required=True, help="class roster CSV (student_id plus the ids each LMS knows)")
    parser.add_argument("--canvas", metavar="FILE", help="write a Canvas gradebook import CSV here")
    parser.add_argument("--moodle", metavar="FILE", help="write a Moodle 'Import grades from CSV' file here")
    parser.add_argument(
        "--assignment",
        default=export.DEFAULT_ASSIGNMENT,
        help='grade column name; for Canvas give the assignment id in parentheses, e.g. "DDPM (12345)" (default: DDPM)',
    )
    parser.add_argument(
        "--points-possible", type=float, metavar="N", help="Canvas 'Points Possible' (default: max_total from grades.csv)"
    )
    parser.add_argument(
        "--moodle-feedback", metavar="COLUMN", help="also write a Moodle Feedback column copied from this grades.csv column"
    )


def run(args: argparse.Namespace) -> int:
    return export.run(args)
