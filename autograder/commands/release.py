"""``python -m autograder release``: its options. The work is ``autograder.authoring.release.publish``."""

import argparse

from autograder.authoring import release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default=str(release.DEFAULT_OUT), help="bundle folder (default: release/); the zip is written next to it"
    )
    parser.add_argument("--repo-url", default=None, help="public repository the students fetch the course from (Colab)")


def run(args: argparse.Namespace) -> int:
    return release.publish(args.out, args.repo_url)
