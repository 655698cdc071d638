"""Which student handed in what: the SUBMISSIONS folder as an LMS left it. Trusted side.

``collect(folder)`` looks at every top-level name of the folder (or of a bulk-download ``.zip``,
extracted safely into a work folder, ``autograder.intake.bulk_download``) on its own and asks the
layouts of ``autograder.intake.lms_layouts`` (plain, Canvas, Moodle, Gradescope) whose it is.

A student's id comes from the fixed parts each LMS writes, never from text the student chose:
``autograder.intake.lms_names`` reads the names.

Roster columns ``canvas_id``, ``moodle_id``, ``gradescope_sid`` (or ``email``) turn LMS ids into
``student_id``. Junk (``__MACOSX``, ``.DS_Store``, ``._x``, hidden names), data files (``roster.csv``,
``*.txt``, ``*.pdf``...), empty folders, links, FIFOs and sockets are skipped with a reason; nothing
is followed through a link. Several hand-ins for one student: the newest is graded, the others are
skipped as older, and its row says so. Names stay untrusted: the report strips control characters from them.
"""

import datetime as dt
import os
import stat
from collections.abc import Mapping

from autograder.intake import bulk_download, gradescope_metadata, submission
from autograder.intake.handin_files import Workspace, is_junk_name, skip_reason
from autograder.intake.lms_entries import Candidate, Collection, show
from autograder.intake.lms_layouts import CanvasLayout, GradescopeLayout, LmsFile, MoodleLayout, PlainLayout, RosterIds
from autograder.intake.lms_names import LmsName, readings

METADATA = gradescope_metadata.FILE_NAME


class Collector:
    """Reads one download folder: every top-level name on its own, each asked of the layouts."""

    def __init__(self, roster_rows: list[dict[str, str]] | None, files: Workspace) -> None:
        self.files = files
        self.layouts: set[str] = set()
        self.ids = RosterIds(roster_rows)
        self.plain = PlainLayout(files)
        self.canvas = CanvasLayout(files, self.ids)
        self.moodle = MoodleLayout(files, self.ids)

    def scan(self, root: str) -> list[Candidate]:
        """A candidate per hand-in in ``root`` (several may be one student's); the rest skipped, with why."""
        try:
            names = sorted(os.listdir(root))
        except OSError as error:
            raise ValueError(f"cannot list {root}: {error.strerror}") from error
        gradescope = self.gradescope_layout(root) if METADATA in names else None
        candidates: list[Candidate] = []
        lms_files: list[tuple[str, str, int, list[LmsName]]] = []
        for name in names:
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError as error:
                self.files.skip(name, f"unreadable ({error.strerror})")
                continue
            if name == METADATA and stat.S_ISREG(mode) and gradescope is not None:
                problem = gradescope.metadata.problem
                said = f"{problem}: its submissions graded by folder name" if problem else "read for ids and times"
                self.files.skip(name, f"Gradescope metadata: {said}, not graded")
                continue
            reason = skip_reason(name, mode, path)
            odd = not stat.S_ISDIR(mode) and not stat.S_ISREG(mode) and not is_junk_name(name)
            found = readings(name, stat.S_ISDIR(mode))
            if odd and not found:
                candidates.append(self.plain_candidate(name, path, mode))  # its row says so; ``submission.read`` never opens it
            elif reason:
                self.files.skip(name, reason)
            elif gradescope is not None and gradescope.claims(name, mode):
                self.layouts.add(gradescope.name)
                candidates += gradescope.candidates(name, path)
            elif found:
                lms_files.append((name, path, mode, found))
            else:
                candidates.append(self.plain_candidate(name, path, mode))
        return candidates + self.lms_candidates(lms_files)

    def gradescope_layout(self, root: str) -> GradescopeLayout | None:
        """The Gradescope layout when its metadata file can be read (None: a link, too large...)."""
        metadata = gradescope_metadata.read(os.path.join(root, METADATA), self.files.zone)
        return None if metadata is None else GradescopeLayout(self.files, self.ids, metadata)

    def plain_candidate(self, name: str, path: str, mode: int) -> Candidate:
        """A name no LMS layout claims: the plain layout's (its name is the id, cleaned later and said)."""
        self.layouts.add(self.plain.name)
        return self.plain.candidate(name, path, mode)

    def lms_candidates(self, lms_files: list[tuple[str, str, int, list[LmsName]]]) -> list[Candidate]:
        """One candidate per Canvas user id, then one per Moodle participant id."""
        # the name part Canvas wrote for each id, from the names that read one way only
        persons: dict[tuple[str, str], set[str]] = {}
        for *_rest, found in lms_files:
            if len(found) == 1:
                persons.setdefault((found[0].lms, found[0].uid), set()).add(found[0].person)
        canvas: dict[str, list[LmsFile]] = {}
        moodle: dict[str, list[LmsFile]] = {}
        for name, path, mode, found in lms_files:
            reading, note = self.canvas.settle(found, persons)
            group = canvas if reading.lms == self.canvas.name else moodle
            group.setdefault(reading.uid, []).append(LmsFile(name, path, mode, reading, note))
        out = []
        for layout, groups in ((self.canvas, canvas), (self.moodle, moodle)):
            for uid, items in groups.items():
                self.layouts.add(layout.name)
                out.append(layout.candidate(uid, items))
        return out


def collect(
    folder: str | os.PathLike[str],
    roster_rows: list[dict[str, str]] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    timezone: dt.tzinfo | None = None,
    earlier: Mapping[str, str | None] | None = None,
) -> Collection:
    """A ``Collection`` of the hand-ins in ``folder`` (a folder, or an LMS bulk-download ``.zip``).

    ``workdir``: a folder the caller owns, for the extracted download and for grouped hand-ins; a new
    temporary one (``Collection.workdir``, removed by the caller) when ``None`` and one is needed.
    ``timezone``: a ``tzinfo`` for zip member times and offset-less timestamps (default: local time).
    ``earlier``: the rows already in the class folder, ``{student id: submission.id_source of the name it
    was made from, or None}``: a hand-in takes one of those ids only if it made that row."""
    col = Collection(roster_rows=roster_rows)
    files = Workspace(None if workdir is None else os.path.abspath(workdir), timezone, col.skipped)
    collector = Collector(roster_rows, files)
    root = os.fspath(folder)
    mode = os.lstat(root).st_mode
    if stat.S_ISLNK(mode):
        raise ValueError(f"{root} is a symbolic link: not followed")
    if stat.S_ISREG(mode) and root.lower().endswith(".zip"):
        root = bulk_download.extract(files, root)
    elif not stat.S_ISDIR(mode):
        raise ValueError(f"{root} is not a folder or a .zip")
    root = bulk_download.unwrap(root, col.skipped)
    kept = newest_per_student(collector.scan(root))
    col.layouts = collector.layouts
    col.workdir = files.used
    roster_ids = {row["student_id"] for row in roster_rows or []}
    # a roster student who has not handed in yet owns their id as much as an earlier row does
    owners = dict.fromkeys(roster_ids) | dict(earlier or {})
    for (_raw, clean, flag), candidate in zip(submission.assign_ids([c.raw_id for c in kept], earlier=owners), kept):
        candidate.entry.student_id = clean
        candidate.entry.raw_id = submission.student_id_of(candidate.raw_id)
        if flag:
            candidate.entry.notes.append(flag)
        if roster_rows is not None and candidate.entry.lms == "plain" and clean not in roster_ids:
            candidate.entry.notes.append(f"{clean} is not in the roster")
        col.entries.append(candidate.entry)
        col.skipped += [(name, f"older submission of {clean}") for name in candidate.older]
        if candidate.older:  # said on the row too: nothing is dropped without a word
            candidate.entry.notes.append(f"older hand-in(s) not graded: {', '.join(show(n, 80) for n in candidate.older)}")
    return col


def newest_per_student(candidates: list[Candidate]) -> list[Candidate]:
    """The newest candidate of each raw id (the others noted as older on it), sorted by id and name."""
    by_id: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_id.setdefault(candidate.raw_id, []).append(candidate)
    kept = []
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    for group in by_id.values():
        group.sort(key=lambda c: (c.entry.submitted_at or oldest, c.entry.resubmission), reverse=True)
        newest = group[0]
        for other in group[1:]:
            newest.older.append(other.entry.original_name)
        if len(group) > 1:
            newest.entry.notes.append(f"{len(group) - 1} older hand-in(s) not graded")
        kept.append(newest)
    kept.sort(key=lambda c: (c.raw_id, c.entry.original_name))
    return kept
