"""Which student handed in what: the SUBMISSIONS folder as an LMS left it. Trusted side.

``collect(folder)`` looks at every top-level name of the folder (or of a bulk-download ``.zip``,
extracted safely into a work folder) on its own and maps it to a student id:

* plain: ``ID/`` or ``ID.zip`` per student (a loose ``ID.py`` / ``ID.ipynb`` too);
* Canvas: ``name[_LATE]_<user id>_<submission id>_<original name>``, several files per student
  grouped into one hand-in, ``-1``, ``-2`` resubmissions of one file keep the newest;
* Moodle: ``Full Name_<participant id>_assignsubmission_<plugin>_`` folders, or flat files
  ``Full Name_<participant id>_assignsubmission_file_<original name>``;
* Gradescope: ``submission_metadata.yml`` and ``submission_<number>/`` folders.

A student's id comes from the fixed parts each LMS writes, never from text the student chose:
``autograder.lmsnames`` reads the names.

Roster columns ``canvas_id``, ``moodle_id``, ``gradescope_sid`` (or ``email``) turn LMS ids into
``student_id``. Junk (``__MACOSX``, ``.DS_Store``, ``._x``, hidden names), data files (``roster.csv``,
``*.txt``, ``*.pdf``...), empty folders, links, FIFOs and sockets are skipped with a reason; nothing
is followed through a link. Several hand-ins for one student: the newest is graded, the others are
skipped as older. Names stay untrusted: the report strips control characters from them.
"""

import datetime as dt
import io
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from autograder import untrusted
from autograder.intake import submission
from autograder.intake.lms_names import readings

SKIP_SUFFIXES = (".csv", ".txt", ".yml", ".yaml", ".json", ".md", ".pdf")
GRADEABLE = submission.READ_SUFFIXES
METADATA = "submission_metadata.yml"
MAX_METADATA_BYTES = 50 << 20
MAX_BULK_MEMBERS = 200_000
MAX_BULK_MEMBER_BYTES = 1 << 30
MAX_BULK_TOTAL_BYTES = 16 << 30
MAX_WALK_ENTRIES = submission.MAX_ENTRIES

GRADESCOPE_DIR = re.compile(r"submission_\d+")
UNREADABLE = submission.UNREADABLE
RESUBMISSION = re.compile(r"(?P<stem>.+?)-(?P<n>\d{1,3})(?P<ext>\.[A-Za-z0-9]+)?", re.S)


@dataclass
class Entry:
    path: str  # folder or zip, for submission.read
    student_id: str
    submitted_at: dt.datetime | None = None  # timezone-aware
    time_source: str = ""
    lms: str = "plain"
    notes: list = field(default_factory=list)
    original_name: str = ""
    resubmission: int = 0
    raw_id: str = ""  # what it was to be graded as, before cleaning: the class folder remembers its owner


@dataclass
class Collection:
    entries: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (name, reason)
    layouts: set = field(default_factory=set)
    workdir: str | None = None  # where extracted and grouped hand-ins live (the caller removes it)
    roster_rows: list | None = None

    def missing(self, roster_rows=None):
        """Roster student ids with no hand-in, in roster order."""
        rows = self.roster_rows if roster_rows is None else roster_rows
        handed_in = {e.student_id for e in self.entries}
        return [row["student_id"] for row in rows or [] if row["student_id"] not in handed_in]

    def report(self):
        layouts = ", ".join(sorted(self.layouts)) or "none recognised"
        lines = [f"download layout: {layouts}", f"{len(self.entries)} hand-in(s):"]
        for e in sorted(self.entries, key=lambda e: e.student_id):
            when = f"submitted {e.submitted_at.isoformat(timespec='seconds')} ({e.time_source})" if e.submitted_at else "no time"
            notes = "; ".join(_show(n) for n in e.notes)
            lines.append(f"  {e.student_id} <- {_show(e.original_name)} [{e.lms}, {when}]" + (f": {notes}" if notes else ""))
        lines.append(f"{len(self.skipped)} skipped, not graded:")
        lines += [f"  {_show(name)}: {_show(reason)}" for name, reason in self.skipped]
        if self.roster_rows is not None:
            missing = self.missing()
            lines.append(f"{len(missing)} roster student(s) with no hand-in" + (f": {', '.join(missing)}" if missing else ""))
        return "\n".join(lines)


def _show(text, limit=200):
    text = untrusted.visible(text).replace("\n", " ").replace("\t", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Candidate:
    """A hand-in before ids are made unique: ``raw_id`` is what it should be graded as."""

    entry: Entry
    raw_id: str
    older: list = field(default_factory=list)  # names replaced by this one


class _Collector:
    def __init__(self, roster_rows, workdir, timezone):
        self.col = Collection(roster_rows=roster_rows)
        self.roster = roster_rows
        self.workdir = workdir
        self.timezone = timezone
        self.member_times = {}  # absolute path of an extracted file -> its zip member time
        self.index = {}
        for column in ("canvas_id", "moodle_id", "gradescope_sid"):
            self.index[column] = {k.strip(): v for k, v in _roster_index(roster_rows, column).items()}
        self.index["email"] = {k.strip().lower(): v for k, v in _roster_index(roster_rows, "email").items()}

    # -- helpers -------------------------------------------------------------------------------------
    def work(self, *parts):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="ddpm-lms-")
        self.col.workdir = str(self.workdir)
        path = os.path.join(self.workdir, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def fresh_dir(self, lms, raw_id):
        safe = re.sub(r"[^A-Za-z0-9_.@+-]", "_", raw_id)[:60].strip(".") or "student"
        return tempfile.mkdtemp(prefix=f"{lms}_{safe}_", dir=self.work("handins"))

    def skip(self, name, reason):
        self.col.skipped.append((name, reason))

    def zone(self, naive):
        return naive.astimezone() if self.timezone is None else naive.replace(tzinfo=self.timezone)

    def lookup(self, column, value, what):
        """(student id, note) for an LMS id through the roster column."""
        key = value.strip().lower() if column == "email" else value.strip()
        if key in self.index.get(column, {}):
            return self.index[column][key], ""
        if self.roster is None:
            return value, f"no roster: graded as {what} {value}"
        return value, f"{what} {value} not in the roster: graded as {value}"

    def time_of(self, path):
        """(newest time, source) of a file or of a folder's regular files, never through a link."""
        newest, source, seen = None, "", 0
        stack = [path]
        while stack:
            current = stack.pop()
            try:
                st = os.lstat(current)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    names = os.listdir(current)
                except OSError:
                    continue
                for name in names:
                    seen += 1
                    if seen <= MAX_WALK_ENTRIES:
                        stack.append(os.path.join(current, name))
            elif stat.S_ISREG(st.st_mode):
                if current in self.member_times:
                    when, how = self.member_times[current], "zip member time"
                else:
                    when, how = dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).astimezone(), "file time"
                if newest is None or when > newest:
                    newest, source = when, how
        return newest, source

    # -- the layouts ---------------------------------------------------------------------------------
    def scan(self, root):
        try:
            names = sorted(os.listdir(root))
        except OSError as error:
            raise ValueError(f"cannot list {root}: {error.strerror}") from error
        metadata = None
        if METADATA in names:
            metadata = self.read_metadata(os.path.join(root, METADATA))
        candidates, canvas, moodle, lms_names = [], {}, {}, []
        for name in names:
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError as error:
                self.skip(name, f"unreadable ({error.strerror})")
                continue
            if name == METADATA and stat.S_ISREG(mode) and metadata is not None:
                self.skip(name, "Gradescope metadata: read for ids and times, not graded")
                continue
            reason = _skip_reason(name, mode, path)
            odd = not stat.S_ISDIR(mode) and not stat.S_ISREG(mode) and not _is_junk_name(name)
            found = readings(name, stat.S_ISDIR(mode))
            if odd and not found:
                candidates.append(self.plain(name, path, mode))  # its row says so; ``submission.read`` never opens it
            elif reason:
                self.skip(name, reason)
            elif metadata is not None and stat.S_ISDIR(mode) and GRADESCOPE_DIR.fullmatch(name):
                candidates += self.gradescope(name, path, metadata.get(name))
            elif found:
                lms_names.append((name, path, mode, found))
            else:
                candidates.append(self.plain(name, path, mode))
        # the name part Canvas wrote for each id, from the names that read one way only
        persons = {}
        for *_rest, found in lms_names:
            if len(found) == 1:
                persons.setdefault((found[0].lms, found[0].uid), set()).add(found[0].person)
        for name, path, mode, found in lms_names:
            reading, note = self.settle(found, persons)
            group = canvas if reading.lms == "canvas" else moodle
            group.setdefault(reading.uid, []).append((name, path, mode, reading, note))
        for uid, items in canvas.items():
            candidates.append(self.canvas(uid, items))
        for pid, items in moodle.items():
            candidates.append(self.moodle(pid, items))
        return [c for c in candidates if c is not None]

    def settle(self, found, persons):
        """(the reading of a name, a note or ""). Of two Canvas readings: not one whose id Canvas wrote with
        another name part on that student's other files; then the one whose id alone is the roster's;
        otherwise Canvas's own (the first), and the row says so, since nothing else can tell."""
        if len(found) == 1:
            return found[0], ""
        agree = [r for r in found if persons.get((r.lms, r.uid), {r.person}) == {r.person}] or found
        if len(agree) == 1:
            return agree[0], ""
        known = [r for r in agree if r.uid in self.index["canvas_id"]]
        if len(known) == 1:
            return known[0], ""
        first, second = agree
        return first, (
            f"its Canvas name could also be read as canvas id {second.uid}: graded as canvas id {first.uid}, "
            "Canvas's own reading (check who handed it in)"
        )

    def plain(self, name, path, mode):
        self.col.layouts.add("plain")
        entry = Entry(path, "", lms="plain", original_name=name)
        if stat.S_ISREG(mode) and name.endswith(GRADEABLE):
            raw_id = name.rsplit(".", 1)[0]
            entry.path = self.merge(raw_id, "plain", [(path, name)], entry.notes)
            entry.notes.append("a loose file: graded as a folder holding it")
        elif stat.S_ISREG(mode) and not name.lower().endswith(".zip") and "." in name.strip("."):
            raw_id = name.rsplit(".", 1)[0]
        else:
            raw_id = submission.student_id_of(name)
        entry.submitted_at, entry.time_source = self.time_of(path)
        return _Candidate(entry, raw_id)

    def canvas(self, uid, items):
        self.col.layouts.add("canvas")
        sid, note = self.lookup("canvas_id", uid, "canvas id")
        kept, older = {}, []
        for name, path, _mode_bits, reading, _note in items:
            orig = reading.orig
            resub = RESUBMISSION.fullmatch(orig)
            base, number = ((resub["stem"] + (resub["ext"] or "")), int(resub["n"])) if resub else (orig, 0)
            when, how = self.time_of(path)
            key = (number, when or dt.datetime.min.replace(tzinfo=dt.timezone.utc), reading.subid)
            item = (key, name, path, orig, when, how, reading.late)
            other = kept.get(base.lower())
            if other is None or key > other[0]:
                if other is not None:
                    older.append(other[1])
                kept[base.lower()] = item
            else:
                older.append(name)
        chosen = sorted(kept.values(), key=lambda i: i[1])
        entry = Entry("", "", lms="canvas", original_name=", ".join(i[1] for i in chosen))
        entry.resubmission = max(i[0][0] for i in chosen)
        if any(i[6] for i in chosen):
            entry.notes.append("Canvas marked it LATE")
        if note:
            entry.notes.append(note)
        entry.notes += [f"{name}: {said}" for name, _p, _m, _r, said in items if said]
        times = [(i[4], i[5]) for i in chosen if i[4] is not None]
        if times:
            entry.submitted_at, entry.time_source = max(times)
        entry.path = self.assemble(sid, "canvas", [(i[2], i[3]) for i in chosen], entry.notes)
        return _Candidate(entry, sid, older)

    def moodle(self, pid, items):
        self.col.layouts.add("moodle")
        sid, note = self.lookup("moodle_id", pid, "moodle participant id")
        items = sorted(items, key=lambda item: item[0])  # names in one folder are unique
        entry = Entry("", "", lms="moodle", original_name=", ".join(name for name, *_ in items))
        if note:
            entry.notes.append(note)
        pieces, times = [], []
        for name, path, mode, reading, _note in items:
            when = self.time_of(path)
            if when[0] is not None:
                times.append(when)
            if stat.S_ISDIR(mode):
                pieces += self.children(path, entry.notes)
            else:
                pieces.append((path, reading.orig or name))
        if times:
            entry.submitted_at, entry.time_source = max(times)
        folders = [path for _name, path, mode, *_rest in items if stat.S_ISDIR(mode)]
        if len(items) == 1 and folders and not any(p.lower().endswith(".zip") for _path, p in pieces):
            entry.path = folders[0]
        else:
            entry.path = self.assemble(sid, "moodle", pieces, entry.notes)
        return _Candidate(entry, sid)

    def gradescope(self, name, path, meta):
        self.col.layouts.add("gradescope")
        pieces = self.children(path, [])
        zips = [p for p, n in pieces if n.lower().endswith(".zip")]
        if len(zips) == 1 and not any(_gradeable(p, n) for p, n in pieces):
            path_for_read = zips[0]
        else:
            path_for_read = path
        when, how = self.time_of(path)
        if meta is None:
            entry = Entry(path_for_read, "", when, how, "gradescope", [f"{name} not in {METADATA}: graded as {name}"], name)
            return [_Candidate(entry, name)]
        if meta["created_at"] is not None:
            when, how = meta["created_at"], "gradescope metadata"
        out = []
        submitters = meta["submitters"] or [{}]
        for person in submitters:
            notes = []
            email = person.get("email", "").strip().lower()
            if person.get("sid") and person["sid"] in self.index["gradescope_sid"]:
                sid, note = self.index["gradescope_sid"][person["sid"]], ""
            elif email and email in self.index["email"]:
                sid, note = self.index["email"][email], ""
            elif person.get("sid"):
                sid, note = self.lookup("gradescope_sid", person["sid"], "gradescope sid")
            elif email:
                sid, note = self.lookup("email", person["email"], "gradescope email")
            else:
                sid, note = name, f"no submitter in {METADATA}: graded as {name}"
            if note:
                notes.append(note)
            if len(submitters) > 1:
                others = [p.get("name") or p.get("sid") or "?" for p in submitters if p is not person]
                notes.append(f"group submission with {', '.join(others)}")
            out.append(_Candidate(Entry(path_for_read, "", when, how, "gradescope", notes, name), sid))
        return out

    # -- gathering one student's files ---------------------------------------------------------------
    def children(self, folder, notes):
        """(path, name) of the non-junk entries of a student's folder (links and FIFOs left out, said in notes)."""
        out = []
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return out
        for name in names:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            reason = _skip_reason(name, mode, path, top=False)
            if reason:
                if not _is_junk_name(name):
                    notes.append(f"{name}: {reason}")
                continue
            out.append((path, name))
        return out

    def assemble(self, raw_id, lms, pieces, notes):
        """The path to grade for one student's pieces ``[(path, original name)]``."""
        regular = [(p, n) for p, n in pieces if _mode(p) is not None]
        zips = [(p, n) for p, n in regular if n.lower().endswith(".zip") and stat.S_ISREG(_mode(p))]
        gradeable = [(p, n) for p, n in regular if _gradeable(p, n)]
        if len(zips) == 1 and not gradeable:
            ignored = [n for p, n in regular if (p, n) not in zips]
            if ignored:
                notes.append(f"not graded: {', '.join(ignored)}")
            return zips[0][0]
        if len(regular) == 1 and stat.S_ISDIR(_mode(regular[0][0])):
            return regular[0][0]
        if not zips and not gradeable:
            if regular:
                notes.append(f"nothing gradeable (no .py, .ipynb or .zip): {', '.join(n for _p, n in regular)}")
            return regular[0][0] if len(regular) == 1 else self.fresh_dir(lms, raw_id)
        return self.merge(raw_id, lms, regular, notes)

    def merge(self, raw_id, lms, pieces, notes):
        """A new folder under the work folder holding the gradeable files of all pieces (zips unpacked)."""
        dest = self.fresh_dir(lms, raw_id)
        used = set()
        for path, name in pieces:
            mode = _mode(path)
            target = _unique(_safe_name(name), used)
            if mode is None:
                continue
            if stat.S_ISDIR(mode):
                _copy_tree(path, os.path.join(dest, target), notes)
            elif name.lower().endswith(".zip"):
                stem = _unique(_safe_name(name[:-4] or "zip"), used)
                _unpack_gradeable(path, os.path.join(dest, stem), notes, name)
            elif name.endswith(GRADEABLE):
                try:
                    _copy_regular(path, os.path.join(dest, target), submission._cap(name))
                except (OSError, ValueError) as error:
                    notes.append(f"{name} not copied ({error})")
            else:
                notes.append(f"not graded: {name}")
        if len(pieces) > 1:
            notes.append(f"{len(pieces)} files grouped into one hand-in")
        return dest

    # -- Gradescope metadata -------------------------------------------------------------------------
    def read_metadata(self, path):
        try:
            data = submission._read_regular(None, path, MAX_METADATA_BYTES)  # never through a link
        except (OSError, ValueError):
            return None
        text = data.decode("utf-8", "replace")
        parsed = None
        try:
            import yaml

            parsed = yaml.safe_load(text)
        except Exception:  # not installed, or a shape PyYAML refuses (Ruby tags): the hand parser below
            parsed = None
        if not isinstance(parsed, dict):
            parsed = _parse_metadata(text)
        out = {}
        for key, value in parsed.items():
            if not isinstance(value, dict):
                continue
            people = []
            for person in value.get(":submitters") or []:
                if isinstance(person, dict):
                    people.append({k: str(person.get(":" + k) or "").strip() for k in ("name", "sid", "email")})
            out[str(key)] = {"submitters": people, "created_at": self.timestamp(value.get(":created_at"))}
        return out

    def timestamp(self, value):
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else self.zone(value)
        match = re.match(r"\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?", str(value or ""))
        if not match:
            return None
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        micro = int((match[7] or "0")[:6].ljust(6, "0"))
        try:
            naive = dt.datetime(year, month, day, hour, minute, second, micro)
        except ValueError:
            return None
        if not match[8]:
            return self.zone(naive)
        if match[8] == "Z":
            return naive.replace(tzinfo=dt.timezone.utc)
        sign = -1 if match[8][0] == "-" else 1
        digits = match[8][1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return naive.replace(tzinfo=dt.timezone(sign * offset))

    # -- bulk download zip ---------------------------------------------------------------------------
    def extract_bulk(self, archive_path):
        dest = tempfile.mkdtemp(prefix="download-", dir=self.work())
        total = 0
        fd = os.open(archive_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f, zipfile.ZipFile(f) as archive:
            for index, member in enumerate(archive.infolist()):
                raw = member.filename
                if index >= MAX_BULK_MEMBERS:
                    self.skip(raw, "beyond the size limits: the rest of the zip was not extracted")
                    break
                name = raw.replace("\\", "/")
                parts = [p for p in name.split("/") if p not in ("", ".")]
                mode = member.external_attr >> 16
                if name.startswith("/") or re.match(r"[A-Za-z]:", name):
                    self.skip(raw, "absolute path in the zip: not extracted")
                elif ".." in parts:
                    self.skip(raw, "path outside the zip: not extracted")
                elif any(_odd(p) for p in parts):
                    self.skip(raw, "control characters in the name: not extracted")
                elif not parts:
                    continue
                elif member.is_dir():
                    try:
                        _make_dirs(dest, parts)
                    except (OSError, ValueError) as error:
                        self.skip(raw, f"not extracted ({error})")
                elif stat.S_ISLNK(mode):
                    self.skip(raw, "symbolic link in the zip: not extracted")
                elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                    self.skip(raw, "not a regular file in the zip: not extracted")
                elif member.file_size > MAX_BULK_MEMBER_BYTES or total + member.file_size > MAX_BULK_TOTAL_BYTES:
                    self.skip(raw, "beyond the size limits: not extracted")
                else:
                    try:
                        parent = _make_dirs(dest, parts[:-1])
                        target = os.path.join(parent, parts[-1])
                        total += _write_member(archive, member, target, min(MAX_BULK_MEMBER_BYTES, MAX_BULK_TOTAL_BYTES - total))
                    except UNREADABLE as e:
                        self.skip(raw, f"not extracted ({type(e).__name__}: {e})")
                        continue
                    try:
                        when = self.zone(dt.datetime(*member.date_time))
                    except (ValueError, OverflowError):
                        continue
                    self.member_times[target] = when
                    try:
                        os.utime(target, (when.timestamp(), when.timestamp()), follow_symlinks=False)
                    except (OSError, OverflowError):
                        pass
        return dest


def collect(folder, roster_rows=None, workdir=None, timezone=None, earlier=None):
    """A ``Collection`` of the hand-ins in ``folder`` (a folder, or an LMS bulk-download ``.zip``).

    ``workdir``: a folder the caller owns, for the extracted download and for grouped hand-ins; a new
    temporary one (``Collection.workdir``, removed by the caller) when ``None`` and one is needed.
    ``timezone``: a ``tzinfo`` for zip member times and offset-less timestamps (default: local time).
    ``earlier``: the rows already in the class folder, ``{student id: submission.id_source of the name it
    was made from, or None}``: a hand-in takes one of those ids only if it made that row."""
    collector = _Collector(roster_rows, None if workdir is None else os.path.abspath(workdir), timezone)
    col = collector.col
    root = os.fspath(folder)
    mode = os.lstat(root).st_mode
    if stat.S_ISLNK(mode):
        raise ValueError(f"{root} is a symbolic link: not followed")
    if stat.S_ISREG(mode) and root.lower().endswith(".zip"):
        root = collector.extract_bulk(root)
    elif not stat.S_ISDIR(mode):
        raise ValueError(f"{root} is not a folder or a .zip")
    root = _unwrap(root, col)
    candidates = collector.scan(root)
    # Several hand-ins for one student: the newest is graded.
    by_id = {}
    for candidate in candidates:
        by_id.setdefault(candidate.raw_id, []).append(candidate)
    kept = []
    for group in by_id.values():
        oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        group.sort(key=lambda c: (c.entry.submitted_at or oldest, c.entry.resubmission), reverse=True)
        newest = group[0]
        for other in group[1:]:
            newest.older.append(other.entry.original_name)
        if len(group) > 1:
            newest.entry.notes.append(f"{len(group) - 1} older hand-in(s) not graded")
        kept.append(newest)
    kept.sort(key=lambda c: (c.raw_id, c.entry.original_name))
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
            candidate.entry.notes.append(f"older hand-in(s) not graded: {', '.join(_show(n, 80) for n in candidate.older)}")
    return col


# -- small helpers -------------------------------------------------------------------------------------
def _roster_index(rows, column):
    return {row[column]: row["student_id"] for row in rows or [] if row.get(column)}


def _is_junk_name(name):
    return name in submission.OS_JUNK or name in submission.JUNK_DIRS or name.startswith(".")


def _skip_reason(name, mode, path, top=True):
    if stat.S_ISLNK(mode):
        return "symbolic link: not followed"
    if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
        return "FIFO, socket or device: not a hand-in"
    if name == "__MACOSX":
        return "macOS archive junk"
    if name in submission.OS_JUNK:
        return "operating system junk file"
    if name.startswith("._"):
        return "macOS AppleDouble file"
    if name in submission.JUNK_DIRS:
        return "tool or version-control folder"
    if name.startswith(".") and not stat.S_ISDIR(mode):
        return "hidden file"
    if top and stat.S_ISREG(mode) and name.lower().endswith(SKIP_SUFFIXES):
        return f"{name.rsplit('.', 1)[-1].lower()} file: not a hand-in"
    if not top and stat.S_ISDIR(mode) and _empty(path):
        return "empty folder"
    return ""  # a top-level folder, even empty or dot-named, is someone's hand-in: it gets a row


def _empty(path):
    try:
        with os.scandir(path) as entries:
            return all(_is_junk_name(e.name) for e in entries)
    except OSError:
        return True


def _mode(path):
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def _gradeable(path, name):
    mode = _mode(path)
    return mode is not None and (stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and name.endswith(GRADEABLE)))


def _unwrap(root, col):
    """The download's own top folder (``assignment_123_export/``), when everything sits inside one."""
    for _ in range(3):
        try:
            paths = [os.path.join(root, n) for n in os.listdir(root)]
            names = [os.path.basename(p) for p in paths if not _skip_reason(os.path.basename(p), _mode(p) or 0, p)]
        except OSError:
            return root
        if len(names) != 1 or not stat.S_ISDIR(_mode(os.path.join(root, names[0])) or 0):
            return root
        inner = os.path.join(root, names[0])
        try:
            children = os.listdir(inner)
        except OSError:
            return root
        if not any(c == METADATA or readings(c, stat.S_ISDIR(_mode(os.path.join(inner, c)) or 0)) for c in children):
            return root
        col.skipped.append((names[0] + "/", "the download's top folder: its contents were collected"))
        root = inner
    return root


def _odd(name):
    """Control or format characters (newlines, zero-width, bidi) in a name."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name)


def _safe_name(name):
    name = "".join("_" if _odd(ch) or ch in "/\\" else ch for ch in name).strip()
    return name if name not in ("", ".", "..") else "file"


def _unique(name, used):
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}__{n}.{ext}" if dot and stem else f"{name}__{n}"
    used.add(candidate)
    return candidate


def _make_dirs(dest, parts):
    """Creates ``dest/parts...`` one level at a time, refusing anything but real folders on the way."""
    current = dest
    for part in parts:
        current = os.path.join(current, part)
        try:
            os.mkdir(current)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                raise ValueError(f"{part} is already a file") from None
    return current


def _write_member(archive, member, target, limit):
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    written = 0
    try:
        with archive.open(member) as source:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise ValueError("larger than the size limit")
                os.write(fd, chunk)
    except BaseException:
        os.close(fd)
        os.unlink(target)
        raise
    os.close(fd)
    return written


def _copy_regular(source, target, limit):
    parent_fd = os.open(os.path.dirname(source) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        data = submission._read_regular(parent_fd, os.path.basename(source), limit)
    finally:
        os.close(parent_fd)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _copy_tree(source, target, notes):
    """The regular .py / .ipynb files under ``source`` (no links followed) copied to ``target``."""
    seen, total = 0, 0
    stack = [(source, target)]
    while stack:
        src, dst = stack.pop()
        try:
            names = sorted(os.listdir(src))
        except OSError:
            continue
        os.makedirs(dst, exist_ok=True)
        for name in names:
            seen += 1
            if seen > MAX_WALK_ENTRIES or total > submission.MAX_TOTAL_BYTES:
                notes.append("beyond the size limits: not all files copied")
                return
            path = os.path.join(src, name)
            mode = _mode(path) or 0
            if name in submission.JUNK_DIRS or name.startswith("._") or stat.S_ISLNK(mode):
                continue
            if stat.S_ISDIR(mode):
                stack.append((path, os.path.join(dst, name)))
            elif stat.S_ISREG(mode) and name.endswith(GRADEABLE):
                try:
                    _copy_regular(path, os.path.join(dst, name), submission._cap(name))
                    total += os.lstat(os.path.join(dst, name)).st_size
                except (OSError, ValueError) as error:
                    notes.append(f"{name} not copied ({error})")


def _unpack_gradeable(zip_path, target, notes, name):
    """The .py / .ipynb members of a student's zip written under ``target`` (same rules as submission.read;
    a zip holding nothing gradeable but one inner zip: that inner zip's members, read from memory)."""
    try:
        fd = os.open(zip_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ValueError("not a regular file")
            with zipfile.ZipFile(f) as archive:
                os.makedirs(target, exist_ok=True)
                written, inner = _unpack_members(archive, target, notes, name)
                if written == 0 and len(inner) == 1 and inner[0].file_size <= submission.MAX_TOTAL_BYTES:
                    with archive.open(inner[0]) as member:
                        data = member.read(submission.MAX_TOTAL_BYTES + 1)
                    if len(data) <= submission.MAX_TOTAL_BYTES:
                        with zipfile.ZipFile(io.BytesIO(data)) as nested:
                            _unpack_members(nested, target, notes, name)
                        notes.append(f"{name}: zip inside a zip: unpacked its contents")
    except UNREADABLE as error:
        notes.append(f"{name} unreadable ({type(error).__name__})")


def _unpack_members(archive, target, notes, name):
    """(files written, members that are zips) for one open zip."""
    total, written, inner = 0, 0, []
    for index, member in enumerate(archive.infolist()):
        if index >= submission.MAX_ENTRIES:
            notes.append(f"{name}: beyond the size limits")
            break
        parts = [p for p in PurePosixPath(member.filename.replace("\\", "/")).parts if p not in ("", ".", "/")]
        if not parts or member.is_dir() or ".." in parts or submission._junk(tuple(parts)) or any(_odd(p) for p in parts):
            continue
        if stat.S_ISLNK(member.external_attr >> 16):
            continue
        if parts[-1].lower().endswith(".zip") and parts[-1] not in submission.OS_JUNK:
            inner.append(member)
        if not parts[-1].endswith(GRADEABLE):
            continue
        limit = min(submission._cap(parts[-1]), submission.MAX_TOTAL_BYTES - total)
        try:
            parent = _make_dirs(target, parts[:-1])
            total += _write_member(archive, member, os.path.join(parent, parts[-1]), limit)
            written += 1
        except UNREADABLE:
            notes.append(f"{name}: unreadable member {'/'.join(parts)}")
    return written, inner


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _parse_metadata(text):
    """The part of Gradescope's ``submission_metadata.yml`` used here, without PyYAML:
    ``{submission_N: {":submitters": [{":name", ":sid", ":email"}], ":created_at": str}}``."""
    out, current, child_indent, in_submitters, person = {}, None, None, False, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent == 0:
            # a submission's key (``submission_123:``); document markers and anything else end the block
            current = out.setdefault(_unquote(stripped[:-1]), {":submitters": []}) if stripped.endswith(":") else None
            child_indent, in_submitters, person = None, False, None
            continue
        if current is None:
            continue
        if child_indent is None:
            child_indent = indent
        if indent == child_indent and not stripped.startswith("- "):
            key, _, value = stripped.partition(": ") if ": " in stripped else (stripped.rstrip(":"), "", "")
            in_submitters, person = key == ":submitters", None
            if key == ":created_at":
                current[":created_at"] = _unquote(value)
            continue
        if not in_submitters or indent < child_indent:
            continue
        if stripped.startswith("- "):
            person = {}
            current[":submitters"].append(person)
            stripped = stripped[2:].strip()
        if person is not None and ": " in stripped:
            key, _, value = stripped.partition(": ")
            if key in (":name", ":sid", ":email"):
                person[key] = _unquote(value)
    return out
