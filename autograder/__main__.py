"""``python -m autograder <command>``: see ``--help``.

Each command lives in its own module of ``autograder.commands``, which provides
``add_arguments(parser)`` and ``run(args) -> exit code``.
"""

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from autograder.paths import SOLUTIONS

COMMANDS = {
    "helpers": ("autograder.commands.helpers", "regenerate helpers/ (student stubs) from solutions/"),
    "execute": ("autograder.commands.execute", "run every notebook headlessly with the solutions or the stubs"),
    "release": ("autograder.commands.release", "build the student bundle (folder and zip)"),
    "grade": ("autograder.commands.grade", "grade a folder of submissions into grades.csv and feedback"),
    "validate": (
        "autograder.commands.validate",
        "self-test: the reference checked, solutions full marks, stubs zero, mutants caught",
    ),
    "new-exercise": (
        "autograder.commands.new_exercise",
        "scaffold a new exercise: its table entry, self-check and notebook cell",
    ),
    "export": ("autograder.commands.export", "write Canvas and Moodle gradebook CSVs from grades.csv and a roster"),
    "report": (
        "autograder.commands.report",
        "class report of a graded class folder: report.html and CSV (scores, failures, mistakes, similarity)",
    ),
    "gradescope": ("autograder.commands.gradescope", "build a Gradescope autograder bundle (same sandbox and hidden tests)"),
    "prairielearn": ("autograder.commands.prairielearn", "write an externally graded PrairieLearn question (same hidden tests)"),
}


def course_code_error(error: BaseException) -> str | None:
    """One line for an error raised while importing ``solutions/`` (a syntax error, a bad import), else None."""
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).resolve().parent == SOLUTIONS:
        return f"{Path(error.filename).name}:{error.lineno}: {error.msg}"
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if Path(frame.filename).resolve().parent == SOLUTIONS:
            return f"{Path(frame.filename).name}:{frame.lineno}: {type(error).__name__}: {error}"
    return None


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name][0])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="DDPM course tooling.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_module, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        try:
            _command_module(name).add_arguments(sub)
        except ModuleNotFoundError as error:
            if error.name != COMMANDS[name][0]:
                raise
            sub.set_defaults(unavailable="is not built yet")
        except Exception as error:  # broken course code: --help still works, the command says why
            where = course_code_error(error)
            if where is None:
                raise
            sub.set_defaults(unavailable=f"cannot run: solutions/{where} (fix solutions/, then run it again)")
            sub.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "unavailable", False):
        print(f"python -m autograder {args.command}: {args.unavailable}", file=sys.stderr)
        return 2
    try:
        return _command_module(args.command).run(args)
    except Exception as error:
        where = course_code_error(error)
        if where is None:
            raise
        print(f"python -m autograder {args.command}: solutions/{where} (fix solutions/, then run it again)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
