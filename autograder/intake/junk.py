"""The names an operating system or a tool leaves beside a student's work: never a hand-in, never graded.

One list for the whole grader (intake, the LMS download reader, the Gradescope and PrairieLearn harnesses):
standard library only, so that anything may import it.
"""

# files (and macOS's archive folder) that a file manager or an unzip leaves at any level
OS_JUNK = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"})
# folders of tools and version control inside a hand-in: skipped whole
JUNK_DIRS = frozenset(
    {".git", "__pycache__", ".ipynb_checkpoints", "__MACOSX", ".venv", "venv", "node_modules", ".idea", ".vscode"}
)


def is_junk_path(parts: tuple[str, ...] | list[str]) -> bool:
    """Whether a path (its parts) lies in a tool's folder or is a macOS AppleDouble file (``._x``)."""
    return any(p in JUNK_DIRS or p.startswith("._") for p in parts)
