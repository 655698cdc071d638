"""The audit trail: when each adjustment of a grade was made, kept in the class folder. Trusted side.

An adjustment is an instructor's decision that changes a grade: an ``overrides.csv`` line, an
``extensions.csv`` line or a score set by hand in nbgrader's Formgrader. Its date is the one the instructor
wrote (the files' optional ``date`` column), else the day ``grade`` first saw it: a file's modification time
is not a date anyone wrote, and nbgrader keeps none for a manual score. ``DIR/adjustments.json`` remembers
every adjustment ever seen (student, source, what, value, reason, date), so a regrade keeps each date and an
adjustment that was changed or withdrawn stays on the record; the same decision seen again is the same entry.
"""

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.reporting.class_files import replace_file

FILE = "adjustments.json"
KEYS = ("student_id", "source", "what", "value", "reason")
ABOUT = (
    "Every adjustment grade has seen in this class folder (overrides.csv, extensions.csv, Formgrader scores) and "
    "its date: the one written in the file, else the day it was first seen. Kept across regrades; do not edit."
)


class AuditError(ValueError):
    """An audit file that cannot be read; the message names it and what to do."""


@dataclass
class Trail:
    """The class folder's adjustments and their dates (``path`` None: kept in memory only, dated ``today``)."""

    path: Path | None = None
    today: str = field(default_factory=lambda: dt.date.today().isoformat())
    entries: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def open(cls, folder: str | Path, today: dt.date | None = None) -> "Trail":
        """The trail of the class folder ``folder`` (empty when it has none yet)."""
        path = Path(folder) / FILE
        trail = cls(path, (today or dt.date.today()).isoformat())
        if path.is_file() and not path.is_symlink():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                entries = data["adjustments"]
                if not all(isinstance(e, dict) and all(isinstance(e.get(k), str) for k in (*KEYS, "date")) for e in entries):
                    raise ValueError("an entry lacks one of " + ", ".join((*KEYS, "date")))
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise AuditError(
                    f"{path}: not an audit trail grade can read ({error}): restore it from a backup, or delete it "
                    "(every adjustment without a written date is then dated today)"
                ) from error
            trail.entries = entries
        return trail

    def date(self, student_id: str, source: str, what: str, value: str, reason: str, written: str | None = None) -> str:
        """The date of one adjustment: ``written`` (the instructor's ``date`` column) when given, else the day it was
        first seen; recorded for the next run."""
        key = {"student_id": student_id, "source": source, "what": what, "value": value, "reason": reason}
        for entry in self.entries:
            if all(entry.get(k) == v for k, v in key.items()):
                if written and entry["date"] != written:
                    entry["date"] = written  # the instructor's date wins over the day it was first seen
                return entry["date"]
        self.entries.append({**key, "date": written or self.today, "first_seen": self.today})
        return written or self.today

    def save(self) -> None:
        """Write the trail into the class folder (nothing for an in-memory trail, or while nothing was adjusted)."""
        if self.path is not None and (self.entries or self.path.exists()):
            replace_file(self.path, json.dumps({"about": ABOUT, "adjustments": self.entries}, indent=1) + "\n")
