"""``python -m autograder validate``."""

from autograder.authoring.validate import add_arguments, run

__all__ = ["add_arguments", "run"]
