"""``python -m autograder execute``."""

from autograder.authoring.run_notebooks import add_arguments, run

__all__ = ["add_arguments", "run"]
