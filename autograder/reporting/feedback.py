"""What a student reads about their grade, from one source: the row's final scores (``finalize``).

The total in ``grades.csv``, the header of the feedback page (nbgrader's or the grader's own), its
summary, ``report.json`` and nbgrader's gradebook all come from ``row.final``: this module only
words it. The summary states the total out of the required points (bonus exercises count on top),
the late penalty (how late, the percentage, the points before and after it), then a section
"Adjustments": every extension, override or Formgrader score with what it changed, by how much, its
reason and its date (the audit trail's). Student text never reaches it unescaped: the reasons are the
instructor's, and :func:`page` and :meth:`Summary.markdown` escape for HTML or markdown. :func:`page` is the grader's own
feedback page, used when nbgrader's is not available.
"""

from dataclasses import dataclass

from autograder import untrusted
from autograder.assignment import exercises
from autograder.grading import withheld
from autograder.grading.student_row import Adjustment, StudentRow
from autograder.reporting.numbers import score_text


@dataclass(frozen=True)
class Summary:
    """One student's grade in words; each field is one line (empty: nothing to say)."""

    title: str  # the page's title: names the student
    total: str  # "Your total: 25.6 / 25 ..." (the grades.csv total, out of max_total)
    late: str  # how late, the percentage, the points before and after
    adjustments: tuple[str, ...]  # one line per extension, override or Formgrader score: what, how much, why, when

    def grade(self) -> list[str]:
        """The grade's lines: the total and the late penalty."""
        return [self.total, *([self.late] if self.late else [])]

    def lines(self) -> list[str]:
        return [*self.grade(), *self.adjustments]

    def markdown(self) -> str:
        """The summary as escaped markdown (nbgrader's feedback): the title, the grade, the section "Adjustments"."""
        said = "\n".join(f"- {untrusted.markdown(line)}" for line in self.grade())
        text = f"## {untrusted.markdown(self.title)}\n\n{said}"
        if self.adjustments:
            text += "\n\n### Adjustments\n\n" + "\n".join(f"- {untrusted.markdown(line)}" for line in self.adjustments)
        return text


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
    return Summary(title(row.student_id), line, late, tuple(adjustment_line(a) for a in final.adjustments))


def adjustment_line(a: Adjustment) -> str:
    """One adjustment for the student: what it changed, by how much, why and when."""
    if a.exercise:
        said = (
            f"{a.exercise}: {score_text(a.points)} / {score_text(exercises.POINTS.get(a.exercise, 0.0))} points instead "
            f"of the hidden tests' {score_text(a.was)} ({a.source}: {a.reason or a.text})"
        )
    else:  # an extension: its text says the new due date, the reason and the penalty; points are totals
        said = a.text + (f"; your total {score_text(a.points)} instead of {score_text(a.was)}" if a.points != a.was else "")
    return f"{said}, on {a.date}" if a.date else said


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
    grade = "".join(f"<li>{esc(line)}</li>" for line in about.grade())
    adjusted = "".join(f"<li>{esc(line)}</li>" for line in about.adjustments)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(about.title)}</title>"
        f"<style>{STYLE}table{{border-collapse:collapse}}</style></head><body>"
        f"<h1>{esc(about.title)}: {score_text(final.total)} / {score_text(final.max_total)}</h1>"
        f"<h2>Your grade</h2><ul>{grade}</ul>"
        + (f"<h2>Adjustments</h2><ul>{adjusted}</ul>" if adjusted else "")
        + "<h2>The hidden tests, part by part</h2>"
        "<table><tr><th>exercise</th><th>part</th><th>points</th><th>result</th></tr>" + "".join(parts) + "</table>"
        f"<h2>Your notebooks' self-checks, re-run by the grader</h2><ul>{checks}</ul>"
        f"<h2>Notes</h2><ul>{flags}</ul></body></html>"
    )
