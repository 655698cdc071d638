"""``python -m autograder prairielearn``."""

from autograder.harnesses.prairielearn import add_arguments, run

__all__ = ["add_arguments", "run"]
