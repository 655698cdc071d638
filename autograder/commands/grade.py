"""``python -m autograder grade``."""

from autograder.grading.class_grader import add_arguments, run

__all__ = ["add_arguments", "run"]
