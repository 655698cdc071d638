"""``python -m autograder execute``: its options. The work is ``autograder.authoring.run_notebooks.execute``."""

import argparse
from pathlib import Path

from autograder.authoring import run_notebooks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--with",
        dest="code",
        choices=("solutions", "stubs"),
        default="solutions",
        help="run with the reference solutions overlaid on helpers/ (default) or with the stubs as released",
    )
    parser.add_argument(
        "--with-helpers",
        dest="helpers",
        type=Path,
        default=None,
        metavar="DIR",
        help="run with a student's helpers/ folder: its .py files laid over the stubs (instead of --with)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write executed .ipynb, .html and produced images here")
    parser.add_argument(
        "--notebooks",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these notebooks: names, prefixes or globs (e.g. 01 '0[0-3]*' 05_sampling.ipynb)",
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch/OpenMP threads per kernel (OMP_NUM_THREADS); default 1 in smoke mode, where the models are tiny "
        "and extra threads only contend on a busy machine, and the machine's default in full mode",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks run at once, each in its own kernel; default 2 in smoke mode, where the notebooks are independent, "
        "and 1 in full mode, where 08 reuses the checkpoint 06 trained",
    )
    parser.add_argument(
        "--cold-kernels",
        action="store_true",
        help="start every kernel from scratch instead of forking it from a process that imported torch & co. once",
    )
    parser.add_argument("--fail-fast", action="store_true", help="stop after the first notebook that fails")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course copy and print its path")


def run(args: argparse.Namespace) -> int:
    return run_notebooks.execute(
        run_notebooks.ExecuteOptions(
            code=args.code,
            helpers=args.helpers,
            out=args.out,
            notebooks=args.notebooks,
            timeout=args.timeout,
            threads=args.threads,
            jobs=args.jobs,
            cold_kernels=args.cold_kernels,
            fail_fast=args.fail_fast,
            keep=args.keep,
        )
    )
