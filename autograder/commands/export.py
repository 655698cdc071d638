"""``python -m autograder export``."""

from autograder.reporting.export import add_arguments, run

__all__ = ["add_arguments", "run"]
