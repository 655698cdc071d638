"""``python -m autograder grade SUBMISSIONS [--out DIR] [--only ID ...] [--jobs N]``: grade a class.

Writes ``DIR/grades.csv`` (``student_id``, one column per required exercise, ``points``, ``late_minutes``,
``late_penalty``, ``total``, ``max_total``, the bonus exercises, ``adjustments``, ``flags``),
``DIR/feedback/<student_id>.html`` and ``DIR/report.json`` (every part's verdict, the run's seed and how
sandboxes were isolated). The work: ``autograder.grading.class_folder``.
"""

import argparse

from autograder.grading import class_folder
from autograder.reporting import late
from autograder.sandbox import container


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", help="the class's hand-ins: a folder (or its zip) as downloaded from an LMS")
    parser.add_argument(
        "--out", default=None, help="the class folder: grades.csv, feedback/, report.json (default: grading/<today>, said aloud)"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        metavar="ID",
        help="regrade only these students and merge into --out (no ID: re-apply overrides, Formgrader scores and penalties)",
    )
    parser.add_argument("--replace", action="store_true", help="start --out afresh: drop its earlier rows and feedback")
    parser.add_argument("--roster", default=None, help="roster CSV: maps LMS ids to student ids, lists who handed in nothing")
    parser.add_argument("--overrides", default=None, help="manual adjustments CSV (default: DIR/overrides.csv when present)")
    parser.add_argument("--config", default=str(late.DEFAULT_CONFIG), help="course config with the due date and late rule")
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    parser.add_argument(
        "--course-dir",
        default=None,
        help="the class's nbgrader course directory, its gradebook.db (default: DIR/nbgrader, one per class folder)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the hidden tests' inputs (default: the class's, or fresh)"
    )
    parser.add_argument("--task-timeout", type=float, default=30.0, help="wall-clock seconds per exercise task in the sandbox")
    parser.add_argument(
        "--import-timeout", type=float, default=60.0, help="wall-clock seconds to import torch and student modules"
    )
    parser.add_argument(
        "--isolation",
        choices=container.MODES,
        default=container.BUBBLEWRAP,
        help="how student code is isolated: bubblewrap (the default, and the only choice for local grading); container "
        "and auto (bubblewrap where it works, else container) are for the Gradescope and PrairieLearn harnesses, where the "
        "container is the sandbox and student code runs as a separate user (needs root; README: which isolation runs where)",
    )
    parser.add_argument("--sandbox-user", default="nobody", help="the unprivileged user bwrap runs as when grade runs as root")
    parser.add_argument(
        "--no-nbgrader", action="store_true", help="trusted verdicts only: skip nbgrader's gradebook and feedback"
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code without bubblewrap (trusted code only, e.g. your own solutions); flagged on every row",
    )


def run(args: argparse.Namespace) -> int:
    return class_folder.run(args)
