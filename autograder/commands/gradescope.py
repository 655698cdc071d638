"""``python -m autograder gradescope``."""

from autograder.harnesses.gradescope import add_arguments, run

__all__ = ["add_arguments", "run"]
