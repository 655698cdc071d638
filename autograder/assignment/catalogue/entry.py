"""One entry of the catalogue of known mistakes: a mutation of the reference and what it means to a student."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["mistake", "alternative"]


@dataclass(frozen=True)
class Mistake:
    """A known mistake: the text ``old`` of a solution region replaced by ``new`` (``count`` times; 0: all).

    ``explain`` is the sentence a student reads when their result matches this mutation (in the self-check,
    the feedback and the harnesses' output). ``kind`` "alternative": a choice the papers allow that this
    exercise does not ask for (it still earns no credit; the message says it is valid). ``pitfall`` names
    the contract §5 pitfall it stands for (None: another mistake). ``exercise`` and ``module`` are filled in
    from where the entry is listed (``catalogue/<module>.py``, under its exercise)."""

    id: str
    exercise: str
    module: str
    old: str
    new: str
    explain: str = ""
    kind: Kind = "mistake"
    pitfall: str | None = None
    count: int = 1

    def message(self) -> str:
        """What a student reads when their result matches this entry."""
        if self.kind == "alternative":
            return f"This matches a valid alternative that this exercise does not ask for: {self.explain}"
        return f"This matches a known mistake: {self.explain}"


def M(id: str, old: str, new: str, explain: str, pitfall: str | None = None, count: int = 1) -> Mistake:  # noqa: A002, N802
    """A mistake of the exercise it is listed under."""
    return Mistake(id, "", "", old, new, explain, "mistake", pitfall, count)


def A(id: str, old: str, new: str, explain: str, count: int = 1) -> Mistake:  # noqa: A002, N802
    """A valid alternative that the exercise does not ask for, listed under that exercise."""
    return Mistake(id, "", "", old, new, explain, "alternative", None, count)
