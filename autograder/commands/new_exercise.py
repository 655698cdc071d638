"""``python -m autograder new-exercise``."""

from autograder.authoring.new_exercise import add_arguments, run

__all__ = ["add_arguments", "run"]
