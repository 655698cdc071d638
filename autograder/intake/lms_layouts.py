"""One class per download layout an LMS writes: how its hand-ins are named, whose they are, which of a
student's files make one hand-in. Trusted side. The collector (``autograder.intake.lms``) asks them.

* ``PlainLayout``: ``ID/`` or ``ID.zip`` per student (a loose ``ID.py`` / ``ID.ipynb`` too);
* ``CanvasLayout``: ``name[_LATE]_<user id>_<submission id>_<original name>``, several files per student
  grouped into one hand-in, ``-1``, ``-2`` resubmissions of one file keep the newest;
* ``MoodleLayout``: ``Full Name_<participant id>_assignsubmission_<plugin>_`` folders, or flat files
  ``Full Name_<participant id>_assignsubmission_file_<original name>``;
* ``GradescopeLayout``: ``submission_<number>/`` folders named in ``submission_metadata.yml``.

A student's id comes from the fixed parts each LMS writes (``autograder.intake.lms_names``), never from
text the student chose; ``RosterIds`` turns LMS ids into roster student ids.
"""

import datetime as dt
import re
import stat
from dataclasses import dataclass

from autograder.intake import roster, submission
from autograder.intake.gradescope_metadata import FILE_NAME as METADATA
from autograder.intake.gradescope_metadata import Handin, Metadata, Person
from autograder.intake.handin_files import GRADEABLE, Workspace, children, is_gradeable
from autograder.intake.lms_entries import Candidate, Entry
from autograder.intake.lms_names import LmsName

GRADESCOPE_DIR = re.compile(r"submission_\d+")
RESUBMISSION = re.compile(r"(?P<stem>.+?)-(?P<n>\d{1,3})(?P<ext>\.[A-Za-z0-9]+)?", re.S)
OLDEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


class RosterIds:
    """The roster's ``student_id`` for an id an LMS knows a student by (columns ``canvas_id``,
    ``moodle_id``, ``gradescope_sid``, ``email``; emails compared without case)."""

    def __init__(self, rows: list[dict[str, str]] | None) -> None:
        self.rows = rows
        self.index = {
            column: {k.strip(): v for k, v in roster.index(rows or [], column).items()}
            for column in ("canvas_id", "moodle_id", "gradescope_sid")
        }
        self.index["email"] = {k.strip().lower(): v for k, v in roster.index(rows or [], "email").items()}

    def find(self, column: str, value: str) -> str | None:
        """The student id for ``value`` in ``column``, None when the roster has no such row."""
        key = value.strip().lower() if column == "email" else value.strip()
        return self.index[column].get(key)

    def lookup(self, column: str, value: str, what: str) -> tuple[str, str]:
        """(student id, note) for an LMS id through the roster column: the LMS id itself, said, when not found."""
        found = self.find(column, value)
        if found is not None:
            return found, ""
        if self.rows is None:
            return value, f"no roster: graded as {what} {value}"
        return value, f"{what} {value} not in the roster: graded as {value}"


@dataclass
class LmsFile:
    """A top-level name that reads as Canvas's or Moodle's, with the reading chosen for it."""

    name: str
    path: str
    mode: int
    reading: LmsName
    note: str  # why that reading, when the name read two ways ("" otherwise)


class PlainLayout:
    """``ID/``, ``ID.zip``, ``ID.py``, ``ID.ipynb``: the name is the id (cleaned later, and said)."""

    name = "plain"

    def __init__(self, files: Workspace) -> None:
        self.files = files

    def candidate(self, name: str, path: str, mode: int) -> Candidate:
        entry = Entry(path, "", lms=self.name, original_name=name)
        if stat.S_ISREG(mode) and name.endswith(GRADEABLE):
            raw_id = name.rsplit(".", 1)[0]
            entry.path = self.files.merge(raw_id, self.name, [(path, name)], entry.notes)
            entry.notes.append("a loose file: graded as a folder holding it")
        elif stat.S_ISREG(mode) and not name.lower().endswith(".zip") and "." in name.strip("."):
            raw_id = name.rsplit(".", 1)[0]
        else:
            raw_id = submission.student_id_of(name)
        entry.submitted_at, entry.time_source = self.files.time_of(path)
        return Candidate(entry, raw_id)


@dataclass
class _CanvasFile:
    order: tuple[int, dt.datetime, int]  # (resubmission number, time, attachment id): the newest is the largest
    file: LmsFile
    when: dt.datetime | None
    how: str


class CanvasLayout:
    """One student's Canvas files (one user id): grouped into one hand-in, the newest of each resubmitted file."""

    name = "canvas"

    def __init__(self, files: Workspace, ids: RosterIds) -> None:
        self.files = files
        self.ids = ids

    def settle(self, found: list[LmsName], persons: dict[tuple[str, str], set[str]]) -> tuple[LmsName, str]:
        """(the reading of a name, a note or ""). Of two Canvas readings: not one whose id Canvas wrote with
        another name part on that student's other files (``persons``: the name parts of each id, from the
        names that read one way only); then the one whose id alone is the roster's; otherwise Canvas's own
        (the first), and the row says so, since nothing else can tell."""
        if len(found) == 1:
            return found[0], ""
        agree = [r for r in found if persons.get((r.lms, r.uid), {r.person}) == {r.person}] or found
        if len(agree) == 1:
            return agree[0], ""
        known = [r for r in agree if self.ids.find("canvas_id", r.uid) is not None]
        if len(known) == 1:
            return known[0], ""
        first, second = agree
        return first, (
            f"its Canvas name could also be read as canvas id {second.uid}: graded as canvas id {first.uid}, "
            "Canvas's own reading (check who handed it in)"
        )

    def candidate(self, uid: str, items: list[LmsFile]) -> Candidate:
        sid, note = self.ids.lookup("canvas_id", uid, "canvas id")
        kept: dict[str, _CanvasFile] = {}
        older = []
        for item in items:
            resub = RESUBMISSION.fullmatch(item.reading.orig)
            base, number = ((resub["stem"] + (resub["ext"] or "")), int(resub["n"])) if resub else (item.reading.orig, 0)
            when, how = self.files.time_of(item.path)
            this = _CanvasFile((number, when or OLDEST, item.reading.subid), item, when, how)
            other = kept.get(base.lower())
            if other is None or this.order > other.order:
                if other is not None:
                    older.append(other.file.name)
                kept[base.lower()] = this
            else:
                older.append(item.name)
        chosen = sorted(kept.values(), key=lambda c: c.file.name)
        entry = Entry("", "", lms=self.name, original_name=", ".join(c.file.name for c in chosen))
        entry.resubmission = max(c.order[0] for c in chosen)
        if any(c.file.reading.late for c in chosen):
            entry.notes.append("Canvas marked it LATE")
        if note:
            entry.notes.append(note)
        entry.notes += [f"{item.name}: {item.note}" for item in items if item.note]
        times = [(c.when, c.how) for c in chosen if c.when is not None]
        if times:
            entry.submitted_at, entry.time_source = max(times)
        entry.path = self.files.assemble(sid, self.name, [(c.file.path, c.file.reading.orig) for c in chosen], entry.notes)
        return Candidate(entry, sid, older)


class MoodleLayout:
    """One participant's Moodle folders and files: one hand-in (a single folder is graded where it is)."""

    name = "moodle"

    def __init__(self, files: Workspace, ids: RosterIds) -> None:
        self.files = files
        self.ids = ids

    def candidate(self, pid: str, items: list[LmsFile]) -> Candidate:
        sid, note = self.ids.lookup("moodle_id", pid, "moodle participant id")
        items = sorted(items, key=lambda item: item.name)  # names in one folder are unique
        entry = Entry("", "", lms=self.name, original_name=", ".join(item.name for item in items))
        if note:
            entry.notes.append(note)
        pieces, times = [], []
        for item in items:
            when, how = self.files.time_of(item.path)
            if when is not None:
                times.append((when, how))
            if stat.S_ISDIR(item.mode):
                pieces += children(item.path, entry.notes)
            else:
                pieces.append((item.path, item.reading.orig or item.name))
        if times:
            entry.submitted_at, entry.time_source = max(times)
        folders = [item.path for item in items if stat.S_ISDIR(item.mode)]
        if len(items) == 1 and folders and not any(p.lower().endswith(".zip") for _path, p in pieces):
            entry.path = folders[0]
        else:
            entry.path = self.files.assemble(sid, self.name, pieces, entry.notes)
        return Candidate(entry, sid)


class GradescopeLayout:
    """``submission_<number>/`` folders beside ``submission_metadata.yml``: one hand-in per submitter (a group
    submission is graded for each of its members)."""

    name = "gradescope"

    def __init__(self, files: Workspace, ids: RosterIds, metadata: Metadata) -> None:
        self.files = files
        self.ids = ids
        self.metadata = metadata

    def claims(self, name: str, mode: int) -> bool:
        """Whether a top-level entry is one of Gradescope's submission folders."""
        return stat.S_ISDIR(mode) and bool(GRADESCOPE_DIR.fullmatch(name))

    def candidates(self, name: str, path: str) -> list[Candidate]:
        pieces = children(path, [])
        zips = [p for p, n in pieces if n.lower().endswith(".zip")]
        path_for_read = zips[0] if len(zips) == 1 and not any(is_gradeable(p, n) for p, n in pieces) else path
        when, how = self.files.time_of(path)
        handin = self.metadata.handins.get(name)
        if handin is None:
            why = f"{METADATA} {self.metadata.problem}" if self.metadata.problem else f"{name} not in {METADATA}"
            return [Candidate(Entry(path_for_read, "", when, how, self.name, [f"{why}: graded as {name}"], name), name)]
        if handin.created_at is not None:
            when, how = handin.created_at, "gradescope metadata"
        out = []
        for notes, sid in self.submitters(name, handin):
            out.append(Candidate(Entry(path_for_read, "", when, how, self.name, notes, name), sid))
        return out

    def submitters(self, name: str, handin: Handin) -> list[tuple[list[str], str]]:
        """(notes, student id) for each submitter of a submission (its folder name when none is listed)."""
        out = []
        listed: list[Person | None] = list(handin.submitters) or [None]
        for person in listed:
            notes = []
            email = person.email.strip().lower() if person else ""
            sid = person.sid if person else ""
            if sid and self.ids.find("gradescope_sid", sid) is not None:
                student, note = self.ids.lookup("gradescope_sid", sid, "gradescope sid")
            elif email and self.ids.find("email", email) is not None:
                student, note = self.ids.lookup("email", email, "gradescope email")
            elif sid:
                student, note = self.ids.lookup("gradescope_sid", sid, "gradescope sid")
            elif person and email:
                student, note = self.ids.lookup("email", person.email, "gradescope email")
            else:
                student, note = name, f"no submitter in {METADATA}: graded as {name}"
            if note:
                notes.append(note)
            if len(handin.submitters) > 1:
                others = [p.name or p.sid or "?" for p in handin.submitters if p is not person]
                notes.append(f"group submission with {', '.join(others)}")
            out.append((notes, student))
        return out
