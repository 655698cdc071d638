"""``python -m autograder gradescope [--out autograder.zip] [--seed N] [--visibility V]``: a Gradescope autograder.

The bundle and what it holds: ``autograder.harnesses.gradescope``; what runs in Gradescope's container for each
submission: ``autograder.harnesses.gradescope_runtime``.
"""

import argparse
import sys

from autograder.harnesses.gradescope import DEFAULT_GRADE_TIMEOUT, DEFAULT_OUT, VISIBILITIES, build, instructions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the zip to write (default: autograder.zip)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the hidden tests' inputs, the same for every student (default: drawn now and baked in)",
    )
    parser.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="after_published",
        help="when students see the per-part results (Gradescope's test visibility; default: after_published)",
    )
    parser.add_argument(
        "--grade-timeout",
        type=int,
        default=DEFAULT_GRADE_TIMEOUT,
        help=f"seconds one submission's grading may take (default {DEFAULT_GRADE_TIMEOUT}); set Gradescope's timeout above it",
    )


def run(args: argparse.Namespace) -> int:
    try:
        out, config = build(args.out, args.seed, args.visibility, args.grade_timeout)
    except (OSError, ValueError) as error:
        print(f"gradescope: {error}", file=sys.stderr)
        return 1
    print(instructions(out, config))
    return 0
