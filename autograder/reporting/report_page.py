"""``report.html``: the class report as one self-contained page (plots inline as PNG, no link to fetch).

Plots are drawn with matplotlib's Agg backend, in black and white with hatching, so that they read printed
or without colour; each has its numbers in a table below it too. Every text that could come from a student
(ids, messages, code) is escaped (``untrusted.html``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from matplotlib.ticker import MaxNLocator

from autograder import untrusted
from autograder.reporting import class_report
from autograder.reporting.class_report import ClassData
from autograder.reporting.numbers import score_text

STYLE = """
body { font-family: sans-serif; max-width: 80em; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #444; padding: .2em .5em; text-align: left; vertical-align: top; }
td.n { text-align: right; }
p.note { border-left: 4px solid #444; padding-left: .5em; }
p.evidence { border: 2px solid #000; padding: .5em; }
table.side td { width: 50%; }
table.side pre { white-space: pre-wrap; font-size: 85%; margin: 0; }
mark.same { background: #ffe08a; font-weight: bold; text-decoration: underline; }
img { max-width: 100%; }
"""


def _plain(text: str) -> str:
    """A label matplotlib shows as written (``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def _figure(draw: Callable[[Any], None], height: float) -> str:
    """A PNG of ``draw(axes)`` as base64 (a bare ``Figure``: Agg draws it, pyplot's global state is not touched)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, height), dpi=90)
    axes = figure.subplots()
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(png: str, alt: str) -> str:
    return f'<img alt="{untrusted.html(alt)}" src="data:image/png;base64,{png}">'


def _bars(labels: list[str], values: list[float], xlabel: str, hatch: str, counts: bool = False) -> str:
    """A horizontal bar chart, first label on top; ``counts``: whole numbers on the axis."""

    def draw(axes: Any) -> None:
        if counts:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        positions = list(range(len(labels)))[::-1]
        axes.barh(positions, values, color="white", edgecolor="black", hatch=hatch)
        axes.set_yticks(positions, [_plain(label) for label in labels])
        axes.set_xlabel(xlabel)

    return _figure(draw, 1.0 + 0.28 * len(labels))


def scores_section(data: ClassData) -> str:
    bins = class_report.histogram(data)
    if not bins:
        return "<h2>Scores</h2><p>No row of report.json has a final total.</p>"
    totals = [t for t in (class_report.final_total(s) for s in data.students) if t is not None]
    max_total = max(m for _t, m in totals)

    def draw(axes: Any) -> None:
        axes.bar([lo for lo, _hi, _n in bins], [n for _lo, _hi, n in bins], width=[hi - lo for lo, hi, _n in bins],
                 align="edge", color="white", edgecolor="black", hatch="//")  # fmt: skip
        axes.axvline(max_total, color="black", linestyle="--", label=f"max_total {score_text(max_total)}")
        axes.set_xlabel("total (grades.csv, after adjustments and late penalty)")
        axes.set_ylabel("students")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend()

    rows = "".join(f"<tr><td>{score_text(lo)} – {score_text(hi)}</td><td class=n>{n}</td></tr>" for lo, hi, n in bins if n)
    mean = sum(t for t, _m in totals) / len(totals)
    ordered = sorted(t for t, _m in totals)
    median = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
    return (
        f"<h2>Scores</h2><p>{len(totals)} student(s) with a total; mean {score_text(mean)}, median {score_text(median)} "
        f"out of {score_text(max_total)} (bonus exercises count on top). Each bar holds totals from its left edge up to, "
        "not including, its right edge (the last includes both).</p>"
        + _img(_figure(draw, 3.5), "histogram of the final totals")
        + f"<table><tr><th>total</th><th>students</th></tr>{rows}</table>"
    )


def parts_section(data: ClassData) -> str:
    shares = class_report.part_shares(data)
    whole = [s for s in shares if not s.part]
    if not whole:
        return "<h2>Failures per exercise and part</h2><p>No verdicts in report.json.</p>"
    plot = _bars([s.exercise for s in whole], [100 * s.share for s in whole], "% of students who failed a part", "xx")
    rows = "".join(
        f"<tr><td>{untrusted.html(s.exercise) if not s.part else ''}</td><td>{untrusted.html(s.part or '(any part)')}</td>"
        f"<td class=n>{s.failed}</td><td class=n>{s.graded}</td><td class=n>{100 * s.share:.0f}%</td></tr>"
        for s in shares
    )
    return (
        "<h2>Failures per exercise and part</h2><p>The share of graded students who lost points on each exercise "
        "(any part) and on each part.</p>"
        + _img(plot, "share of students who failed each exercise")
        + "<table><tr><th>exercise</th><th>part</th><th>failed</th><th>graded</th><th>share failed</th></tr>"
        + rows
        + "</table>"
    )


NO_TEXT = "<em>(no sentence in the catalogue)</em>"


def mistakes_section(data: ClassData) -> str:
    counts = class_report.mistake_counts(data)
    unnamed = {e: n for e, n in class_report.unnamed_failures(data).items() if n}
    head = (
        "<h2>Named mistakes</h2><p>Each known mistake the grader recognised in a failed part, and how many students made "
        "it (a student counts once per exercise). A mistake of kind <em>alternative</em> is a valid variant the exercise "
        "does not ask for.</p>"
    )
    body = ""
    if counts:
        top = counts[:20]
        body += _img(
            _bars([f"{m.exercise}: {m.id}" for m in top], [float(len(m.students)) for m in top], "students", "\\\\", counts=True),
            "number of students per named mistake",
        )
        body += "<table><tr><th>exercise</th><th>mistake</th><th>kind</th><th>students</th><th>what it is</th></tr>"
        body += "".join(
            f"<tr><td>{untrusted.html(m.exercise)}</td><td>{untrusted.html(m.id)}</td><td>{untrusted.html(m.kind)}</td>"
            f"<td class=n>{len(m.students)}</td><td>{untrusted.html(m.text) or NO_TEXT}</td></tr>"
            for m in counts
        )
        body += "</table>"
    else:
        body += "<p>No failed part names a known mistake (a report.json written before mistakes were named has none).</p>"
    if unnamed:
        body += "<p>Students with a failed part that no known mistake matches: " + ", ".join(
            f"{untrusted.html(e)} {n}" for e, n in unnamed.items()
        ) + ".</p>"  # fmt: skip
    return head + body


def adjustments_section(data: ClassData) -> str:
    found = class_report.adjusted(data)
    head = (
        "<h2>Late hand-ins and adjustments</h2><p>Every student whose final score carries more than the hidden tests' "
        "verdicts: how late, the penalty, overrides, Formgrader scores and any other adjustment the grader recorded, "
        "as report.json holds them.</p>"
    )
    if not found:
        return head + "<p>None: nobody was late and no score was adjusted.</p>"
    keys = list(dict.fromkeys(k for a in found for k in a.fields))
    header = "".join(f"<th>{untrusted.html(k)}</th>" for k in ["student", "submitted at", *keys])
    rows = "".join(
        f"<tr><td>{untrusted.html(a.student_id)}</td><td>{untrusted.html(a.submitted_at)}</td>"
        + "".join(f"<td>{untrusted.html(class_report.field_text(a.fields[k])) if k in a.fields else ''}</td>" for k in keys)
        + "</tr>"
        for a in found
    )
    return head + f"<table><tr>{header}</tr>{rows}</table>"


def page(data: ClassData, similarity_html: str) -> str:
    """The whole page."""
    run = data.run
    notes = "".join(f'<p class="note">{untrusted.html(n)}</p>' for n in data.notes)
    cut = [s["student_id"] for s in data.students if not isinstance(s.get("final"), dict)]
    if cut:
        notes += f'<p class="note">Rows without final scores (cut short, see their flags): {untrusted.html(", ".join(cut))}</p>'
    facts = (
        f"<p>{len(data.students)} student(s) in {untrusted.html(str(data.folder / 'report.json'))}; seed "
        f"{untrusted.html(run.get('seed'))}; made {dt.datetime.now().isoformat(timespec='seconds')}. "
        "The tables are also in report_*.csv beside this page.</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{STYLE}</style></head><body><h1>Class report</h1>{facts}{notes}"
        + scores_section(data)
        + parts_section(data)
        + mistakes_section(data)
        + adjustments_section(data)
        + similarity_html
        + "</body></html>"
    )
