"""``python -m autograder new-exercise NAME --module M --notebook NN``: scaffold an exercise (a function or a
class) from its solution region; the work is ``autograder.authoring.new_exercise.scaffold``."""

import argparse
import sys

from autograder.authoring.new_exercise import ScaffoldError, scaffold


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the exercise id: the top-level function or class around its solution region")
    parser.add_argument("--module", required=True, help="the solutions/ module that holds it, e.g. schedules")
    parser.add_argument("--notebook", required=True, help="two-digit prefix of the notebook for its check cell, e.g. 01")
    parser.add_argument("--points", type=float, default=1.0, help="its points (default 1; change later in the table)")


def run(args: argparse.Namespace) -> int:
    try:
        written = scaffold(args.name, args.module, args.notebook, args.points)
    except ScaffoldError as error:
        print(f"new-exercise: {error}", file=sys.stderr)
        return 2
    print(f"new-exercise {args.name}: wrote {', '.join(written)}")
    print("next: edit its entry in autograder/assignment/exercises.py (cases, points, mutants), then run")
    print("  python -m autograder helpers && python -m autograder validate")
    return 0
