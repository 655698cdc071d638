"""``python -m autograder helpers``."""

from autograder.authoring.stubs import add_arguments, run

__all__ = ["add_arguments", "run"]
