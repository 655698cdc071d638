"""``python -m autograder helpers``: bring what derives from ``solutions/`` up to date, or (``--check``) say what is stale.

Three things derive from the reference, in this order: the self-checks' expected values
(``solutions/checks_expected.py``, ``autograder.authoring.self_check_values``), the check cells' points in
the notebooks (``autograder.assignment.check_cells``, from the exercise table), and ``helpers/``, the
student stubs (``autograder.authoring.stubs``), which copy ``checks_expected.py`` and so come last.
"""

import argparse
import sys

from autograder.assignment import check_cells
from autograder.authoring import self_check_values, stubs
from autograder.paths import ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check that helpers/ is up to date (exit 1 if stale)")


def refresh_points(check: bool = False) -> bool:
    """The notebooks' check cells carry the exercise table's points; write them (or, with ``check``, report drift)."""
    if not check:
        for path in check_cells.sync_points():
            print(f"{path.relative_to(ROOT)}: check-cell points set from autograder/assignment/exercises.py")
    problems = check_cells.drift()
    for problem in problems:
        print(f"notebooks: {problem}", file=sys.stderr)
    return not problems


def run(args: argparse.Namespace) -> int:
    fresh = self_check_values.refresh_expected(check=args.check)
    in_line = refresh_points(check=args.check)
    return max(stubs.main(check=args.check), 0 if fresh and in_line else 1)
