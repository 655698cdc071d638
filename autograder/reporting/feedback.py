"""What a student reads about their grade, from one source: the row's final scores (``finalize``).

The total in ``grades.csv``, the header of the feedback page (nbgrader's or the grader's own), its
summary, ``report.json`` and nbgrader's gradebook all come from ``row.final``: this module only
words it. The summary states the total out of the required points (bonus exercises count on top),
the late penalty (how late, the percentage, the points before and after it) and every override or
Formgrader score with its points and reason. Student text never reaches it unescaped: the reasons are
the instructor's, and the callers escape for HTML or markdown. :func:`page` is the grader's own
feedback page, used when nbgrader's is not available.
"""

from dataclasses import dataclass

from autograder import untrusted
from autograder.assignment import exercises
from autograder.grading import withheld
from autograder.grading.student_row import StudentRow
from autograder.reporting.numbers import score_text


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


def summary(row: StudentRow, bonus: list[str] | None = None) -> Summary:
    """The summary of ``row.final``; ``bonus`` the extra-credit exercises (default: the table's)."""
    final = row.require_final()
    bonus = exercises.BONUS if bonus is None else bonus
    total, most = score_text(final.total), score_text(final.max_total)
    line = f"Your total: {total} / {most}"
    if bonus:
        earned = sum(final.exercises.get(e, 0.0) for e in bonus)
        line += (
            f" (+ bonus: the bonus exercises {', '.join(bonus)} count on top of the {most} required points; "
            f"you earned {score_text(earned)} bonus point(s))"
        )
    late = ""
    if final.late_penalty:
        lost = final.points - final.total
        late = (
            f"Late penalty: {final.late_note}: "  # the note says how late and the percentage
            f"{score_text(final.points)} points before the penalty, {total} after (-{score_text(lost)})"
        )
    elif final.late_note:
        late = f"Lateness: {final.late_note}"
    adjustments = tuple(
        f"{a.exercise}: {score_text(a.points)} / {score_text(exercises.POINTS.get(a.exercise, 0.0))} points instead of "
        f"the hidden tests' {score_text(a.was)} ({a.source}: {a.reason or a.text})"
        for a in final.adjustments
    )
    return Summary(title(row.student_id), line, late, adjustments)


STYLE = "body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;padding:.3em .6em}"


def page(row: StudentRow, bonus: list[str]) -> str:
    """A self-contained page: the summary of the row's final scores (:func:`summary`), then every part's verdict,
    the self-checks re-run and the grader's notes."""
    esc = untrusted.html
    final = row.require_final()
    about = summary(row, bonus)
    parts = []
    for exercise, verdict in row.verdicts.items():
        for p in verdict.parts:
            parts.append(
                f"<tr><td>{esc(exercise)}</td><td>{esc(p.part)}</td>"
                f"<td>{score_text(p.points)} / {score_text(p.max)}</td><td>{esc(p.message or 'passed')}</td></tr>"
            )
    flags = "".join(f"<li>{esc(f)}</li>" for f in row.flags) or "<li>none</li>"
    checks = "".join(
        f"<li>{esc(e)}: {'passed' if ok else 'failed'}: {esc(withheld.clean(msg))}</li>" for e, (ok, msg) in row.checks.items()
    )
    grade = "".join(f"<li>{esc(line)}</li>" for line in about.lines())
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(about.title)}</title>"
        f"<style>{STYLE}table{{border-collapse:collapse}}</style></head><body>"
        f"<h1>{esc(about.title)}: {score_text(final.total)} / {score_text(final.max_total)}</h1>"
        f"<h2>Your grade</h2><ul>{grade}</ul>"
        "<h2>The hidden tests, part by part</h2>"
        "<table><tr><th>exercise</th><th>part</th><th>points</th><th>result</th></tr>" + "".join(parts) + "</table>"
        f"<h2>Your notebooks' self-checks, re-run by the grader</h2><ul>{checks}</ul>"
        f"<h2>Notes</h2><ul>{flags}</ul></body></html>"
    )
