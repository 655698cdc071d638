"""What reading an LMS download yields: an ``Entry`` per hand-in to grade and the ``Collection`` of them,
with everything skipped and why. Trusted side: the names kept here stay untrusted, ``show`` makes them
printable before they reach a report.
"""

import datetime as dt
from dataclasses import dataclass, field

from autograder import untrusted


@dataclass
class Entry:
    """One hand-in to grade: where it is and whose it is, as the LMS's fixed name parts say."""

    path: str  # folder or zip, for submission.read
    student_id: str
    submitted_at: dt.datetime | None = None  # timezone-aware
    time_source: str = ""
    lms: str = "plain"
    notes: list[str] = field(default_factory=list)
    original_name: str = ""
    resubmission: int = 0
    raw_id: str = ""  # what it was to be graded as, before cleaning: the class folder remembers its owner


@dataclass
class Candidate:
    """A hand-in before ids are made unique: ``raw_id`` is what it should be graded as."""

    entry: Entry
    raw_id: str
    older: list[str] = field(default_factory=list)  # names replaced by this one


@dataclass
class Collection:
    """Every hand-in of a download, what was skipped (``(name, reason)``) and the layouts recognised."""

    entries: list[Entry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    layouts: set[str] = field(default_factory=set)
    workdir: str | None = None  # where extracted and grouped hand-ins live (the caller removes it)
    roster_rows: list[dict[str, str]] | None = None

    def missing(self, roster_rows: list[dict[str, str]] | None = None) -> list[str]:
        """Roster student ids with no hand-in, in roster order."""
        rows = self.roster_rows if roster_rows is None else roster_rows
        handed_in = {e.student_id for e in self.entries}
        return [row["student_id"] for row in rows or [] if row["student_id"] not in handed_in]

    def report(self) -> str:
        """Who handed in what, what was skipped and who is missing: one line each, printable."""
        layouts = ", ".join(sorted(self.layouts)) or "none recognised"
        lines = [f"download layout: {layouts}", f"{len(self.entries)} hand-in(s):"]
        for e in sorted(self.entries, key=lambda e: e.student_id):
            when = f"submitted {e.submitted_at.isoformat(timespec='seconds')} ({e.time_source})" if e.submitted_at else "no time"
            notes = "; ".join(show(n) for n in e.notes)
            lines.append(f"  {e.student_id} <- {show(e.original_name)} [{e.lms}, {when}]" + (f": {notes}" if notes else ""))
        lines.append(f"{len(self.skipped)} skipped, not graded:")
        lines += [f"  {show(name)}: {show(reason)}" for name, reason in self.skipped]
        if self.roster_rows is not None:
            missing = self.missing()
            lines.append(f"{len(missing)} roster student(s) with no hand-in" + (f": {', '.join(missing)}" if missing else ""))
        return "\n".join(lines)


def show(text: str, limit: int = 200) -> str:
    """A name or note on one printable line of at most ``limit`` characters."""
    text = untrusted.visible(text).replace("\n", " ").replace("\t", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
