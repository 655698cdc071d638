"""``python -m autograder report DIR [--submissions DOWNLOAD] [--course-dir DIR]``: the class report.

Writes ``DIR/report.html`` (score histogram, failures per exercise and part, named mistakes, late hand-ins and
adjustments, code similarity) and its tables as ``DIR/report_*.csv``. The work:
``autograder.reporting.class_report_files``.
"""

import argparse

from autograder.reporting import class_report_files, similarity


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the class folder `grade --out DIR` wrote (report.json, grades.csv)")
    parser.add_argument(
        "--course-dir",
        default=None,
        help="the class's nbgrader course, where grade kept each hand-in (default: DIR/nbgrader, as grade's default)",
    )
    parser.add_argument(
        "--submissions",
        default=None,
        metavar="DOWNLOAD",
        help="read the hand-ins from the LMS download grade read instead (a folder or its zip; with its --roster)",
    )
    parser.add_argument("--roster", default=None, help="the roster grade was given, to read --submissions as it did")
    parser.add_argument(
        "--threshold",
        type=float,
        default=similarity.THRESHOLD,
        help=f"similarity from which a pair is shown side by side (default {similarity.THRESHOLD:g})",
    )
    parser.add_argument("--no-similarity", action="store_true", help="skip the code-similarity table")


def run(args: argparse.Namespace) -> int:
    return class_report_files.run(args)
