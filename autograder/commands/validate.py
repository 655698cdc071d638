"""``python -m autograder validate``: the assignment's self-test (``autograder.authoring.validate``)."""

import argparse

from autograder.authoring import validate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=2, help="mutants graded in parallel (default 2)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden tests' inputs (default: fresh)")
    parser.add_argument("--only", nargs="*", default=None, help="only these mutant ids")
    parser.add_argument("--skip-release", action="store_true", help="skip the release + leak check step")


def run(args: argparse.Namespace) -> int:
    return validate.validate(jobs=args.jobs, seed=args.seed, only=args.only, skip_release=args.skip_release)
