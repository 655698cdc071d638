"""What student text must never quote: the grader's own code. Feedback withholds any message that does.

The secret lines are the reference solutions' distinctive lines (``autograder.authoring.release``) and the
dependency code the sandboxes receive (the hidden tests' ``dep_sources``); a line the released stubs also
hold is public. ``autograder.untrusted`` turns them into fingerprints and recognises them however a message
spells them; this module is where the grader's code is known, so that ``untrusted`` imports none of it.
"""

from functools import lru_cache

from autograder import untrusted
from autograder.assignment.hidden_tests import per_run
from autograder.authoring import release, stubs


@lru_cache(maxsize=1)
def grader_fingerprints() -> tuple[str, ...]:
    """Every spelling of every secret line (computed once per process)."""
    lines = set(release.solution_lines())
    for source in per_run.dep_sources().values():
        lines |= {line.strip() for line in source.splitlines()}
    return untrusted.fingerprints(lines, stubs.generate().values())


def quotes_grader_code(text: str) -> bool:
    """Whether ``text`` holds a grader line, forwards or backwards, however spaced, cased or spelt (NFKC,
    look-alikes). Only within one text: a line split over several messages is not recognised."""
    return untrusted.quotes(text, grader_fingerprints())


def clean(text: str | bytes, limit: int = 240, lines: int = 1) -> str:
    """Student text for a flag, a part's message or a notebook: at most ``lines`` lines and ``limit`` characters,
    printable, and ``untrusted.WITHHELD`` if it quotes the grader's code."""
    return untrusted.clean(text, grader_fingerprints(), limit, lines)
