"""``python -m autograder <command>``: see ``--help``.

Each command lives in its own module of this package, which provides
``add_arguments(parser)`` and ``run(args) -> exit code``.
"""

import argparse
import importlib
import sys

COMMANDS = {
    "helpers": ("stubs", "regenerate helpers/ (student stubs) from solutions/"),
    "execute": ("execute", "run every notebook headlessly with the solutions or the stubs"),
    "release": ("release", "build the student bundle (folder and zip)"),
    "grade": ("grade", "grade a folder of submissions into grades.csv and feedback"),
    "validate": ("validate", "self-test: solutions full marks, stubs zero, mutants caught"),
}


def _command_module(name):
    return importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m autograder", description="DDPM course tooling.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_module, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        try:
            _command_module(name).add_arguments(sub)
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}.{COMMANDS[name][0]}":
                raise
            sub.set_defaults(unavailable=True)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "unavailable", False):
        print(f"`{args.command}` is not built yet", file=sys.stderr)
        return 2
    return _command_module(args.command).run(args)


if __name__ == "__main__":
    sys.exit(main())
