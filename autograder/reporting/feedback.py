"""What a student reads about their grade, from one source: the row's ``final`` scores (``grade.finalize``).

The total in ``grades.csv``, the header of the feedback page (nbgrader's or the grader's own), its
summary, ``report.json`` and nbgrader's gradebook all come from ``row["final"]``: this module only
words it. The summary states the total out of the required points (bonus exercises count on top),
the late penalty (how late, the percentage, the points before and after it) and every override or
Formgrader score with its points and reason. Student text never reaches it unescaped: the reasons are
the instructor's, and the callers escape for HTML or markdown.
"""

from dataclasses import dataclass

from autograder.assignment import exercises


def number(x: float) -> str:
    """A score as grades.csv writes it: at most two decimals, no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Summary:
    """One student's grade in words; each field is one line (empty: nothing to say)."""

    title: str  # the page's title: names the student
    total: str  # "Your total: 25.6 / 25 ..." (the grades.csv total, out of max_total)
    late: str  # how late, the percentage, the points before and after
    adjustments: tuple[str, ...]  # one line per override or Formgrader score, with its reason

    def lines(self) -> list[str]:
        return [self.total, *([self.late] if self.late else []), *self.adjustments]


def title(student_id: str) -> str:
    return f"Feedback for {student_id}"


def summary(row: dict, bonus: list[str] | None = None) -> Summary:
    """The summary of ``row["final"]``; ``bonus`` the extra-credit exercises (default: the table's)."""
    final = row["final"]
    bonus = exercises.BONUS if bonus is None else bonus
    total, most = number(final["total"]), number(final["max_total"])
    line = f"Your total: {total} / {most}"
    if bonus:
        earned = sum(final["exercises"].get(e, 0.0) for e in bonus)
        line += (
            f" (+ bonus: the bonus exercises {', '.join(bonus)} count on top of the {most} required points; "
            f"you earned {number(earned)} bonus point(s))"
        )
    late = ""
    if final["late_penalty"]:
        lost = final["points"] - final["total"]
        late = (
            f"Late penalty: {final['late_note']}: "  # the note says how late and the percentage
            f"{number(final['points'])} points before the penalty, {total} after (-{number(lost)})"
        )
    elif final.get("late_note"):
        late = f"Lateness: {final['late_note']}"
    adjustments = tuple(
        f"{a['exercise']}: {number(a['points'])} / {number(exercises.POINTS.get(a['exercise'], 0.0))} points instead of "
        f"the hidden tests' {number(a['was'])} ({a['source']}: {a.get('reason') or a['text']})"
        for a in final["adjustments"]
    )
    return Summary(title(row["student_id"]), line, late, adjustments)
