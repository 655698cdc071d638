"""The one way the grader writes a score as text (grades.csv, feedback, exports, the harnesses' summaries)."""


def score_text(value: float, places: int = 2) -> str:
    """``value`` with at most ``places`` decimals and no trailing zeros: ``7.5``, ``10``, ``0.33``; never ``-0``."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
