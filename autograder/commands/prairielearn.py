"""``python -m autograder prairielearn --out DIR [--seed N] [--image NAME] [--timeout S]``: a PrairieLearn question.

The question folder and its grader: ``autograder.harnesses.prairielearn``.
"""

import argparse
import sys
from pathlib import Path

from autograder.harnesses.prairielearn import DEFAULT_IMAGE, DEFAULT_TIMEOUT, build, instructions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the question folder to write (in your course's questions/)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the hidden tests' inputs, the same for every student (default: drawn now)"
    )
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"the grader image's name (default {DEFAULT_IMAGE})")
    parser.add_argument(
        "--timeout", type=int, default=DEFAULT_TIMEOUT, help=f"seconds one submission may take (default {DEFAULT_TIMEOUT})"
    )
    parser.add_argument("--title", default="DDPM course: autograded hand-in", help="the question's title")
    parser.add_argument("--topic", default="Diffusion models", help="the question's topic (one of your course's topics)")


def run(args: argparse.Namespace) -> int:
    try:
        config = build(args.out, args.seed, args.image, args.timeout, args.title, args.topic)
    except (OSError, ValueError) as error:
        print(f"prairielearn: {error}", file=sys.stderr)
        return 1
    print(instructions(Path(args.out).resolve(), args.image, config))
    return 0
