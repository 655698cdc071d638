"""Where the course's folders are: the one definition of the repository root for all of ``autograder``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
HELPERS = ROOT / "helpers"
NOTEBOOKS = ROOT / "notebooks"
AUTOGRADER = ROOT / "autograder"
