"""The class report's code-similarity table: which pairs of students wrote much the same solution code.

Built with ``copydetect`` (winnowed k-gram fingerprints of the tokenised code, the method of MOSS: names
become one token, so renaming variables changes nothing; comments and blank lines are dropped) over each
student's solution code only (``solution_code``: what they wrote where the stubs say ``# COMPLETE THIS``,
never the provided code). The reference's own solution code is copydetect's *boilerplate*: code the hints
lead every student to (``extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)``) is no evidence of copying.

A pair's similarity is the larger of its two shares (the share of one student's fingerprinted code found in
the other's). A pair is shown side by side when it reaches ``THRESHOLD`` and shares at least
``MIN_OVERLAP`` characters of tokenised code. Measured on ``tests/student_styles/`` (nine correct solutions
written independently in different styles, every exercise): the 36 independent pairs reach at most 0.26
(0.38 without the reference as boilerplate), a copy of one style with its local variables renamed 0.99;
``THRESHOLD`` sits between them. ``MIN_OVERLAP`` keeps out two students who made the same one-line mistake in
otherwise reference code (a class graded with the mutants: such pairs share about 50 characters, all of
their non-reference code, so their similarity is 1.0). It is evidence for a person to judge: never a score, a penalty or a
column of ``grades.csv``.

``copydetect`` is in ``requirements-grader.txt``; where it is not installed the report says so and how to
install it, and every other table is still made.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autograder import untrusted

NOISE = 25  # copydetect's k: the shortest match counted, in characters of tokenised code (its default)
GUARANTEE = 25  # every match this long is found (winnowing window = GUARANTEE - NOISE + 1, copydetect's default)
THRESHOLD = 0.5
MIN_OVERLAP = 100
INSTALL = "pip install copydetect==0.5.0 (it is in requirements-grader.txt)"


@dataclass(frozen=True)
class Pair:
    """Two students' solution code compared: each one's share found in the other's, and where (character
    ``(start, end)`` ranges of each one's document)."""

    a: str
    b: str
    share_a: float
    share_b: float
    overlap: int  # characters of tokenised code in common
    spans_a: tuple[tuple[int, int], ...]
    spans_b: tuple[tuple[int, int], ...]

    @property
    def similarity(self) -> float:
        return max(self.share_a, self.share_b)

    def flagged(self, threshold: float = THRESHOLD) -> bool:
        return self.similarity >= threshold and self.overlap >= MIN_OVERLAP


def missing_library() -> str | None:
    """None when copydetect can be imported, else what to do."""
    try:
        import copydetect  # noqa: F401
    except ImportError as error:
        return f"copydetect is not installed ({error}): no similarity table; {INSTALL}"
    return None


def document(code: Mapping[str, str]) -> str:
    """One student's solution code as one text, each exercise under a comment naming it (comments are not compared)."""
    return "".join(f"# ---- {exercise}\n{text.rstrip()}\n\n" for exercise, text in code.items())


def _spans(slices: Any, length: int) -> tuple[tuple[int, int], ...]:
    """copydetect's 2xN slice array as sorted, merged ``(start, end)`` spans within ``[0, length]``."""
    if slices is None or len(slices) == 0 or len(slices[0]) == 0:
        return ()
    merged: list[list[int]] = []
    for start, end in sorted(zip((int(s) for s in slices[0]), (int(e) for e in slices[1]))):
        start, end = max(0, min(start, length)), max(0, min(end, length))
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def compare(documents: Mapping[str, str], reference: str = "") -> list[Pair]:
    """Every pair of ``documents`` (``{student id: document}``), most similar first; ``reference``: the code every
    student may share (copydetect's boilerplate)."""
    from copydetect import CodeFingerprint, compare_files

    window = GUARANTEE - NOISE + 1
    boilerplate = list(CodeFingerprint("reference.py", NOISE, window, fp=io.StringIO(reference)).hashes) if reference else []
    prints = {
        sid: CodeFingerprint("solution.py", NOISE, window, boilerplate=boilerplate, fp=io.StringIO(text))
        for sid, text in documents.items()
    }
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        overlap, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
        pairs.append(
            Pair(
                a,
                b,
                float(share_a),
                float(share_b),
                int(overlap),
                _spans(slices_a, len(documents[a])),
                _spans(slices_b, len(documents[b])),
            )
        )
    return sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))


def marked(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """``text`` HTML-escaped, the ``spans`` found in the other student's code in ``<mark>`` (bold and underlined
    too, so that it reads without colour)."""
    out, cursor = [], 0
    for start, end in spans:
        out.append(untrusted.html(text[cursor:start]))
        out.append(f'<mark class="same">{untrusted.html(text[start:end])}</mark>')
        cursor = end
    out.append(untrusted.html(text[cursor:]))
    return "".join(out)


def csv_lines(pairs: list[Pair], threshold: float = THRESHOLD) -> tuple[list[str], list[list[object]]]:
    """The header and lines of ``report_similarity.csv``: every pair, most similar first."""
    header = ["student_a", "student_b", "similarity", "share_a_in_b", "share_b_in_a", "common_characters", "shown"]
    lines: list[list[object]] = [
        [
            p.a,
            p.b,
            round(p.similarity, 4),
            round(p.share_a, 4),
            round(p.share_b, 4),
            p.overlap,
            "yes" if p.flagged(threshold) else "",
        ]
        for p in pairs
    ]
    return header, lines


def section(pairs: list[Pair] | None, documents: Mapping[str, str], note: str, threshold: float = THRESHOLD) -> str:
    """The page's similarity section: what it is, the table of the most similar pairs, then each pair at or over
    the threshold side by side. ``pairs`` None: no table, ``note`` says why."""
    head = (
        '<h2>Code similarity</h2><p class="evidence"><strong>Evidence for a person to judge, not a verdict.</strong> '
        "It changes no score and appears nowhere in grades.csv or the feedback. Two students may write the same code "
        "independently; read the code side by side before you conclude anything.</p>"
        f"<p>Compared: each student's solution code only (what they wrote in place of the stubs' "
        f"<code># COMPLETE THIS</code>; the provided code and the code the reference solution shares with it are left "
        f"out), with copydetect (k = {NOISE}; variable names and comments do not count). Similarity: the larger share of "
        f"one student's code found in the other's. Shown side by side: pairs at {threshold:g} or more that share at "
        f"least {MIN_OVERLAP} characters of code. All pairs: report_similarity.csv.</p>"
    )
    if note:
        head += f'<p class="note">{untrusted.html(note)}</p>'
    if pairs is None:
        return head
    flagged = [p for p in pairs if p.flagged(threshold)]
    rows = "".join(
        f"<tr><td>{'&#9873; ' if p.flagged(threshold) else ''}{untrusted.html(p.a)}</td><td>{untrusted.html(p.b)}</td>"
        f"<td>{p.similarity:.2f}</td><td>{p.share_a:.2f}</td><td>{p.share_b:.2f}</td><td>{p.overlap}</td></tr>"
        for p in pairs[: max(20, len(flagged))]
    )
    table = (
        "<table><tr><th>student A</th><th>student B</th><th>similarity</th><th>share of A in B</th>"
        f"<th>share of B in A</th><th>characters in common</th></tr>{rows}</table>"
        f"<p>{len(flagged)} of {len(pairs)} pair(s) shown side by side below (marked &#9873;): similarity {threshold:g} or more "
        f"and at least {MIN_OVERLAP} characters of code in common.</p>"
    )
    views = "".join(
        f'<h3>{untrusted.html(p.a)} and {untrusted.html(p.b)}: {p.similarity:.2f}</h3><table class="side"><tr>'
        f"<th>{untrusted.html(p.a)}</th><th>{untrusted.html(p.b)}</th></tr><tr>"
        f"<td><pre>{marked(documents.get(p.a, ''), p.spans_a)}</pre></td>"
        f"<td><pre>{marked(documents.get(p.b, ''), p.spans_b)}</pre></td></tr></table>"
        for p in flagged
    )
    legend = '<p>In each view, <mark class="same">marked code</mark> (bold, underlined) is found in the other\'s code.</p>'
    return head + table + (legend + views if flagged else "")
