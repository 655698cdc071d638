"""Student-controlled text on its way into the instructor's files: made short, harmless and leak-free.

Everything the sandbox says (exception messages, self-check output) and everything taken
from a submission (file names, notebook JSON) is made printable text once, where the trusted
side receives it (``visible``: no surrogates, undecodable bytes or control characters, so no
writer can fail on it), and passes through ``clean`` before it reaches a flag, a part's message
or a notebook; ``csv_cell``, ``html`` and ``markdown`` then escape it for where it goes (and
make sure it can be encoded, for rows kept from earlier runs). ``clean`` also withholds any text
that quotes the grader's code (a reference dependency the sandbox received, a solution line),
forwards or backwards, however spaced, cased or spelt, so feedback never carries it. Which lines
are the grader's is known to ``autograder.grading.withheld``, which passes their fingerprints in:
this module imports nothing of the course.
"""

import html as _html
import re
import unicodedata
from collections.abc import Iterable

WITHHELD = "[message withheld: it quotes the grader's code]"
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def visible(text: object) -> str:
    """Student text as printable ``str``, the one cleaning at the boundary: bytes decoded as UTF-8, undecodable
    bytes and lone surrogates (``os.listdir``'s escapes of non-UTF-8 names, ``\\udcff`` escapes in JSON) made
    U+FFFD, so no writer can fail to encode it; control and format characters (zero-width spaces, bidi
    marks), which could hide a quote from the check or reorder what the instructor reads, dropped."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    return "".join(ch for ch in encodable(text) if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))


def encodable(text: object) -> str:
    """``str(text)`` with lone surrogates made U+FFFD, so UTF-8 can hold it: the escapers' last defence, for
    text that missed ``visible`` (a row kept from an older report.json, a command-line argument)."""
    return _SURROGATE.sub(REPLACEMENT, str(text))


# Latin look-alikes NFKC leaves alone (Cyrillic and Greek letters an attacker would swap in).
_CONFUSABLES = str.maketrans(
    "\u0430\u0432\u0435\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456\u0458\u0501\u0261"
    "\u03b1\u03bf\u03c1\u03c5\u03bd\u03b9\u03ba\u03c7",
    "abekmhopctyxsijdgaopuvikx",
)
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _normal(text: str) -> str:
    """Text as compared with the grader's code: printable, NFKC (fullwidth and compatibility forms), case-folded,
    look-alike letters made Latin."""
    return unicodedata.normalize("NFKC", visible(text)).casefold().translate(_CONFUSABLES)


def squash(text: str) -> str:
    """``text`` as the leak check compares it: normalised (NFKC, case-folded, look-alikes made Latin), no whitespace."""
    return re.sub(r"\s+", "", _normal(text))


def spellings(line: str) -> set[str]:
    """The whitespace-free forms in which ``line`` could reach a message: as written, its tokens (identifiers,
    numbers, operators) or its words in reverse order, and each of those character-reversed."""
    text = _normal(line)
    forms = {"".join(_TOKEN.findall(text)), "".join(_TOKEN.findall(text)[::-1]), "".join(text.split()[::-1])}
    return forms | {form[::-1] for form in forms}


def fingerprints(secret_lines: Iterable[str], public_texts: Iterable[str]) -> tuple[str, ...]:
    """Every spelling (:func:`spellings`) of the distinctive ``secret_lines``; a line that a public text also holds,
    even inside a longer line, is no leak. The grader's own lines come from ``autograder.grading.withheld``."""
    public = "\n".join({squash(line) for text in public_texts for line in text.splitlines()})  # one search finds any
    secret = {line for line in secret_lines if not line.startswith("#") and len(squash(line)) >= 14}
    secret = {line for line in secret if squash(line) not in public}
    return tuple(sorted({form for line in secret for form in spellings(line)}))


def quotes(text: str, prints: Iterable[str]) -> bool:
    """Whether ``text`` holds one of the fingerprints ``prints`` (:func:`fingerprints`), however spaced, cased or
    spelt. Only within one text: a line split over several messages is not recognised."""
    squashed = squash(text)
    return any(fingerprint in squashed for fingerprint in prints)


def clean(text: str | bytes, prints: Iterable[str], limit: int = 240, lines: int = 1) -> str:
    """At most ``lines`` lines and ``limit`` characters, without control characters; :data:`WITHHELD` if it holds
    one of the fingerprints ``prints``."""
    text = visible(text)
    if quotes(text, prints):
        return WITHHELD
    kept = [line.rstrip() for line in text.splitlines() if line.strip()][:lines]
    text = "\n".join(kept)
    return text if len(text) <= limit else text[: limit - 1] + "…"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text (a leading ``= + - @``, tab or CR would start a formula);
    None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = encodable(value)
    return "'" + text if text[:1] in FORMULA_START else text


def csv_text(cell: str | None) -> str:
    """A cell's text as :func:`csv_cell` was given it: stripped, without the ``'`` put before a formula start."""
    cell = (cell or "").strip()
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_START else cell


def html(text: object) -> str:
    return _html.escape(encodable(text), quote=True)


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown(text: object) -> str:
    """Literal text in a markdown cell: HTML-escaped, then every markdown character backslash-escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", _html.escape(encodable(text), quote=False)).replace("\n", "  \n")
