"""The files of an LMS download, read and regrouped safely: what is skipped and why, when a hand-in was
made, and one folder per student built from several pieces (files, folders, zips). Trusted side.

Nothing here follows a link: entries are looked at with ``lstat``, files opened with ``O_NOFOLLOW``,
and only regular ``.py`` / ``.ipynb`` files (and zips, unpacked with the limits of ``submission.read``)
are copied into the work folder.
"""

import datetime as dt
import io
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from pathlib import PurePosixPath

from autograder.intake import submission
from autograder.intake.junk import JUNK_DIRS, OS_JUNK, is_junk_path

SKIP_SUFFIXES = (".csv", ".txt", ".yml", ".yaml", ".json", ".md", ".pdf")
GRADEABLE = submission.READ_SUFFIXES
MAX_WALK_ENTRIES = submission.MAX_ENTRIES
UNREADABLE = submission.UNREADABLE

Piece = tuple[str, str]  # (path, the name the student gave it)


class Workspace:
    """The collector's work folder (made when first needed) and what it learnt of the download's files:
    the zip member times of extracted files, the names skipped, the time zone of times without one."""

    def __init__(self, workdir: str | None, timezone: dt.tzinfo | None, skipped: list[tuple[str, str]]) -> None:
        self.workdir = workdir
        self.used: str | None = None  # the work folder, once something was written there
        self.timezone = timezone
        self.skipped = skipped
        self.member_times: dict[str, dt.datetime] = {}  # absolute path of an extracted file -> its zip member time

    def work(self, *parts: str) -> str:
        """``workdir/parts...``, made if missing (and the work folder with it)."""
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="ddpm-lms-")
        self.used = str(self.workdir)
        path = os.path.join(self.workdir, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def fresh_dir(self, lms: str, raw_id: str) -> str:
        """A new empty folder for one student's grouped hand-in."""
        safe = re.sub(r"[^A-Za-z0-9_.@+-]", "_", raw_id)[:60].strip(".") or "student"
        return tempfile.mkdtemp(prefix=f"{lms}_{safe}_", dir=self.work("handins"))

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))

    def zone(self, naive: dt.datetime) -> dt.datetime:
        """A time written without a zone, in the download's zone (local time unless one was given)."""
        return naive.astimezone() if self.timezone is None else naive.replace(tzinfo=self.timezone)

    def time_of(self, path: str) -> tuple[dt.datetime | None, str]:
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

    def assemble(self, raw_id: str, lms: str, pieces: list[Piece], notes: list[str]) -> str:
        """The path to grade for one student's pieces ``[(path, original name)]``."""
        regular = [(p, n) for p, n in pieces if mode_of(p) is not None]
        zips = [(p, n) for p, n in regular if n.lower().endswith(".zip") and stat.S_ISREG(mode_of(p) or 0)]
        gradeable = [(p, n) for p, n in regular if is_gradeable(p, n)]
        if len(zips) == 1 and not gradeable:
            ignored = [n for p, n in regular if (p, n) not in zips]
            if ignored:
                notes.append(f"not graded: {', '.join(ignored)}")
            return zips[0][0]
        if len(regular) == 1 and stat.S_ISDIR(mode_of(regular[0][0]) or 0):
            return regular[0][0]
        if not zips and not gradeable:
            if regular:
                notes.append(f"nothing gradeable (no .py, .ipynb or .zip): {', '.join(n for _p, n in regular)}")
            return regular[0][0] if len(regular) == 1 else self.fresh_dir(lms, raw_id)
        return self.merge(raw_id, lms, regular, notes)

    def merge(self, raw_id: str, lms: str, pieces: list[Piece], notes: list[str]) -> str:
        """A new folder under the work folder holding the gradeable files of all pieces (zips unpacked)."""
        dest = self.fresh_dir(lms, raw_id)
        used: set[str] = set()
        for path, name in pieces:
            mode = mode_of(path)
            target = unique_name(safe_name(name), used)
            if mode is None:
                continue
            if stat.S_ISDIR(mode):
                _copy_tree(path, os.path.join(dest, target), notes)
            elif name.lower().endswith(".zip"):
                stem = unique_name(safe_name(name[:-4] or "zip"), used)
                _unpack_gradeable(path, os.path.join(dest, stem), notes, name)
            elif name.endswith(GRADEABLE):
                try:
                    _copy_regular(path, os.path.join(dest, target), submission.size_cap(name))
                except (OSError, ValueError) as error:
                    notes.append(f"{name} not copied ({error})")
            else:
                notes.append(f"not graded: {name}")
        if len(pieces) > 1:
            notes.append(f"{len(pieces)} files grouped into one hand-in")
        return dest


def children(folder: str, notes: list[str]) -> list[Piece]:
    """(path, name) of the non-junk entries of a student's folder (links and FIFOs left out, said in notes)."""
    out: list[Piece] = []
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
        reason = skip_reason(name, mode, path, top=False)
        if reason:
            if not is_junk_name(name):
                notes.append(f"{name}: {reason}")
            continue
        out.append((path, name))
    return out


def is_junk_name(name: str) -> bool:
    """OS or tool junk, or a hidden name: never reported one by one."""
    return name in OS_JUNK or name in JUNK_DIRS or name.startswith(".")


def skip_reason(name: str, mode: int, path: str, top: bool = True) -> str:
    """Why a download entry is no hand-in (``top``: at the download's top level), or ""."""
    if stat.S_ISLNK(mode):
        return "symbolic link: not followed"
    if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
        return "FIFO, socket or device: not a hand-in"
    if name == "__MACOSX":
        return "macOS archive junk"
    if name in OS_JUNK:
        return "operating system junk file"
    if name.startswith("._"):
        return "macOS AppleDouble file"
    if name in JUNK_DIRS:
        return "tool or version-control folder"
    if name.startswith(".") and not stat.S_ISDIR(mode):
        return "hidden file"
    if top and stat.S_ISREG(mode) and name.lower().endswith(SKIP_SUFFIXES):
        return f"{name.rsplit('.', 1)[-1].lower()} file: not a hand-in"
    if not top and stat.S_ISDIR(mode) and _empty(path):
        return "empty folder"
    return ""  # a top-level folder, even empty or dot-named, is someone's hand-in: it gets a row


def _empty(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return all(is_junk_name(e.name) for e in entries)
    except OSError:
        return True


def mode_of(path: str) -> int | None:
    """The entry's own mode (a link's, not its target's), None when it is gone or unreadable."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def is_gradeable(path: str, name: str) -> bool:
    """A folder, or a regular ``.py`` / ``.ipynb`` file."""
    mode = mode_of(path)
    return mode is not None and (stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and name.endswith(GRADEABLE)))


def has_control_chars(name: str) -> bool:
    """Control or format characters (newlines, zero-width, bidi) in a name."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name)


def safe_name(name: str) -> str:
    """A file name with no control character or path separator, never empty, ``.`` or ``..``."""
    name = "".join("_" if has_control_chars(ch) or ch in "/\\" else ch for ch in name).strip()
    return name if name not in ("", ".", "..") else "file"


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name__2``... when taken (the suffix before the extension); added to ``used``."""
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}__{n}.{ext}" if dot and stem else f"{name}__{n}"
    used.add(candidate)
    return candidate


def make_dirs(dest: str, parts: list[str]) -> str:
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


def write_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: str, limit: int) -> int:
    """Writes one zip member to a new file ``target`` (never through a link); the bytes written."""
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


def _copy_regular(source: str, target: str, limit: int) -> None:
    parent_fd = os.open(os.path.dirname(source) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        data = submission.read_regular(parent_fd, os.path.basename(source), limit)
    finally:
        os.close(parent_fd)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _copy_tree(source: str, target: str, notes: list[str]) -> None:
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
            mode = mode_of(path) or 0
            if name in JUNK_DIRS or name.startswith("._") or stat.S_ISLNK(mode):
                continue
            if stat.S_ISDIR(mode):
                stack.append((path, os.path.join(dst, name)))
            elif stat.S_ISREG(mode) and name.endswith(GRADEABLE):
                try:
                    _copy_regular(path, os.path.join(dst, name), submission.size_cap(name))
                    total += os.lstat(os.path.join(dst, name)).st_size
                except (OSError, ValueError) as error:
                    notes.append(f"{name} not copied ({error})")


def _unpack_gradeable(zip_path: str, target: str, notes: list[str], name: str) -> None:
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


def _unpack_members(archive: zipfile.ZipFile, target: str, notes: list[str], name: str) -> tuple[int, list[zipfile.ZipInfo]]:
    """(files written, members that are zips) for one open zip."""
    total, written, inner = 0, 0, []
    for index, member in enumerate(archive.infolist()):
        if index >= submission.MAX_ENTRIES:
            notes.append(f"{name}: beyond the size limits")
            break
        parts = [p for p in PurePosixPath(member.filename.replace("\\", "/")).parts if p not in ("", ".", "/")]
        if not parts or member.is_dir() or ".." in parts or is_junk_path(parts) or any(has_control_chars(p) for p in parts):
            continue
        if stat.S_ISLNK(member.external_attr >> 16):
            continue
        if parts[-1].lower().endswith(".zip") and parts[-1] not in OS_JUNK:
            inner.append(member)
        if not parts[-1].endswith(GRADEABLE):
            continue
        limit = min(submission.size_cap(parts[-1]), submission.MAX_TOTAL_BYTES - total)
        try:
            parent = make_dirs(target, parts[:-1])
            total += write_member(archive, member, os.path.join(parent, parts[-1]), limit)
            written += 1
        except UNREADABLE:
            notes.append(f"{name}: unreadable member {'/'.join(parts)}")
    return written, inner
