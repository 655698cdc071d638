"""``python -m autograder release``."""

from autograder.authoring.release import add_arguments, run

__all__ = ["add_arguments", "run"]
