"""``python -m autograder COMMAND``: one module per command, each ``add_arguments(parser)`` and
``run(args) -> exit code``. Argument parsing only: the work is done by the stage packages."""
