"""Student-controlled text on its way into the instructor's files: made short, harmless and leak-free.

Everything the sandbox says (exception messages, self-check output) and everything taken
from a submission (file names, ids) passes through ``clean`` before it reaches a flag, a
part's message or a notebook; ``csv_cell``, ``html`` and ``markdown`` then escape it for
where it goes. ``clean`` also withholds any text that quotes the grader's code (a reference
dependency the sandbox received, a solution line), so feedback never carries it.
"""

import html as _html
import re
import unicodedata
from functools import lru_cache

WITHHELD = "[message withheld: it quotes the grader's code]"


def visible(text):
    """``text`` without control and format characters (zero-width spaces, bidi marks), which could
    hide a quote from the check or reorder what the instructor reads."""
    return "".join(ch for ch in str(text) if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))


def _squash(text):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=1)
def grader_fingerprints():
    """Whitespace-free distinctive lines of the reference solutions and of the dependency code sent to
    sandboxes, less what the released (public) code also holds."""
    from . import hidden_tests, release, stubs

    lines = set(release.solution_lines())
    for source in hidden_tests.dep_sources().values():
        lines |= {line.strip() for line in source.splitlines()}
    public = {_squash(line) for text in stubs.generate().values() for line in text.splitlines()}
    squashed = {_squash(line) for line in lines if not line.startswith("#")}
    return tuple(sorted(line for line in squashed - public if len(line) >= 14))


def quotes_grader_code(text):
    squashed = _squash(visible(text))
    return any(fingerprint in squashed for fingerprint in grader_fingerprints())


def clean(text, limit=240, lines=1):
    """At most ``lines`` lines and ``limit`` characters, without control characters; withheld if it quotes grader code."""
    text = visible(text)
    if quotes_grader_code(text):
        return WITHHELD
    kept = [line.rstrip() for line in text.splitlines() if line.strip()][:lines]
    text = "\n".join(kept)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text (a leading ``= + - @``, tab or CR would start a formula)."""
    text = str(value)
    if isinstance(value, (int, float)):
        return text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def html(text):
    return _html.escape(str(text), quote=True)


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown(text):
    """Literal text in a markdown cell: HTML-escaped, then every markdown character backslash-escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", _html.escape(str(text), quote=False)).replace("\n", "  \n")
