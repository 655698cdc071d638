"""Read a student's hand-in (folder or zip, renamed, nested, with junk) into memory. Trusted side.

Nothing here follows a link or opens anything but a regular file: folders are walked with
``lstat``, files are opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat``,
and only ``.py`` and ``.ipynb`` files are read, each size-capped. Zip members that are
links, junk (``.git/``, ``__MACOSX/``, ...) or corrupt are skipped and said so; a zip that holds
nothing gradeable but one inner zip is read one level down, from memory, with the same caps. The
student's files never touch the disk here: the sandbox box is written from these bytes.
"""

import hashlib
import io
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from autograder.assignment import exercises
from autograder.authoring import stubs
from autograder.intake.junk import JUNK_DIRS, OS_JUNK, is_junk_path
from autograder.untrusted import visible

READ_SUFFIXES = (".py", ".ipynb")
MAX_PY_BYTES = 2 << 20
MAX_NOTEBOOK_BYTES = 20 << 20
MAX_TOTAL_BYTES = 100 << 20
MAX_ENTRIES = 20_000  # entries looked at (junk included) before the rest is skipped
MAX_READ_FILES = 300
MAX_EXTRA_MODULES = 20
UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


NO_HELPERS_NOTEBOOKS = (
    "your hand-in has no helpers/ folder, only notebooks: your exercises are graded from helpers/*.py, so every "
    "exercise scores 0; hand in the course folder with its helpers/ (your notebooks import your code from there)"
)


@dataclass
class Submission:
    """One student's hand-in in memory: its gradeable files, the exercise modules found among them, its notebooks,
    and every flag about how it was read (nothing skipped without a word)."""

    student_id: str
    files: dict[str, bytes] = field(default_factory=dict)  # relative posix path -> bytes (.py and .ipynb only)
    helpers: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes: what goes into the sandbox's helpers/
    notebooks: dict[str, Any] = field(default_factory=dict)  # file name -> parsed notebook
    odd_notebooks: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong with it (check cells not compared)
    flags: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why -> count
    no_helpers: str = ""  # said once, in the flags and every exercise's feedback, when no exercise module was found

    def skip(self, why: str) -> None:
        """Counts one more entry left out for ``why`` (said once, with the count, in the flags)."""
        self.skipped[why] = self.skipped.get(why, 0) + 1


def student_id_of(name: str) -> str:
    """The student id a hand-in's name asks for: the name without its ``.zip``."""
    return name[:-4] if name.lower().endswith(".zip") else name


def id_source(raw: str) -> str:
    """A fingerprint of the name a row's id was made from. The class folder keeps it, not the name (no
    student text to escape, nothing a later cleaning step can change), so a later run knows which hand-in
    owns a cleaned id."""
    return "sha256:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def assign_ids(names: list[str], earlier: Mapping[str, str | None] | None = None) -> list[tuple[str, str, str]]:
    """``[(name, student id, flag or "")]``: ids cleaned to safe characters; an id that collides with
    another submission's gets a suffix and a flag saying so, never the other student's row.

    ``earlier``: rows that exist already (a class folder's, a roster's), ``{id: id_source of the name it
    was made from, or None for the id itself}``. A name takes such an id only if it made that row: a
    regrade of ``bob`` is ``bob``, of ``bob!`` its own earlier row, and ``bob!`` never takes bob's."""
    wanted = [student_id_of(n) for n in names]
    valid = {w for w in wanted if STUDENT_ID.match(w)}
    owner = {sid: source or id_source(sid) for sid, source in (earlier or {}).items()}
    row_of: dict[str, str] = {}
    for sid in sorted(owner):
        row_of.setdefault(owner[sid], sid)
    taken: set[str] = set()
    out = []
    for name, sid in zip(names, wanted):
        plain = bool(STUDENT_ID.match(sid))
        source = id_source(sid)
        clean = sid if plain else (re.sub(r"[^A-Za-z0-9_.@+-]", "_", sid).strip("._-+@") or "student")
        if source in row_of and row_of[source] not in taken:
            pick = row_of[source]  # the row this very name made before: its own, whoever else handed in
        else:
            pick, n = clean, 1
            while not _free(pick, sid, source, taken, valid, owner):
                n += 1
                pick = f"{clean}__{n}"
        if pick == sid:
            flag = ""
        elif plain:
            flag = f"student id {sid!r} already names another hand-in's row: graded as {pick!r}"
        elif pick == clean:
            flag = f"student id {sid!r} is not a plain id: graded as {pick!r}"
        else:
            flag = f"student id {sid!r} is not a plain id and its cleaned form is taken: graded as {pick!r}"
        taken.add(pick)
        out.append((name, pick, flag))
    return out


def _free(candidate: str, sid: str, source: str, taken: set[str], valid: set[str], owner: dict[str, str]) -> bool:
    """Whether the name ``sid`` (fingerprint ``source``) may be graded as ``candidate``: not given out in
    this run, not a plain id another hand-in of this run is, not a row that another name made."""
    return candidate not in taken and (candidate == sid or candidate not in valid) and owner.get(candidate, source) == source


def _wanted(parts: tuple[str, ...]) -> bool:
    return parts[-1].endswith(READ_SUFFIXES)


def size_cap(path: str) -> int:
    """The most bytes read of one gradeable file (a notebook may be larger than a module)."""
    return MAX_NOTEBOOK_BYTES if path.endswith(".ipynb") else MAX_PY_BYTES


def read_regular(dir_fd: int | None, name: str, limit: int) -> bytes:
    """Bytes of a regular file (relative to ``dir_fd``), never through a link, FIFO or device."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > limit:
            raise ValueError(f"larger than {limit >> 20} MB")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise ValueError(f"larger than {limit >> 20} MB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _add(sub: Submission, path: str, data: bytes) -> None:
    total = sum(len(v) for v in sub.files.values())
    if len(sub.files) >= MAX_READ_FILES or total + len(data) > MAX_TOTAL_BYTES:
        sub.skip("beyond the size limits")
        return
    if path in sub.files:  # names that differ only in bytes that are not UTF-8 (both shown with U+FFFD)
        sub.skip(f"{path} (a second file of that name)")
        return
    sub.files[path] = data


def _walk_folder(sub: Submission, folder: str) -> None:
    """Every regular .py/.ipynb file under ``folder``: only directories are descended, by file descriptor."""
    seen = 0
    stack: list[tuple[int, tuple[str, ...]]] = [
        (os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC), ())
    ]
    while stack:
        dir_fd, parts = stack.pop()
        try:
            with os.scandir(dir_fd) as entries:
                listing = sorted((e.name, e.stat(follow_symlinks=False).st_mode) for e in entries)
            for raw, mode in listing:
                seen += 1
                if seen > MAX_ENTRIES:
                    sub.skip("beyond the size limits")
                    break
                # ``raw`` opens the entry; everything said or stored about it uses its printable name
                name = visible(raw)
                here = (*parts, name)
                if is_junk_path(here):
                    sub.skip(f"{name}/" if stat.S_ISDIR(mode) else "junk files")
                elif stat.S_ISLNK(mode):
                    sub.skip("symbolic links")
                elif stat.S_ISDIR(mode):
                    try:
                        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                        stack.append((os.open(raw, flags, dir_fd=dir_fd), here))
                    except OSError:
                        sub.skip("unreadable folders")
                elif not stat.S_ISREG(mode):
                    sub.skip("FIFOs, sockets or devices")
                elif _wanted(here):
                    path = "/".join(here)
                    try:
                        _add(sub, path, read_regular(dir_fd, raw, size_cap(path)))
                    except (OSError, ValueError) as error:
                        sub.skip(f"{path} ({error})")
        finally:
            os.close(dir_fd)


def _read_zip(sub: Submission, archive_path: str) -> None:
    with zipfile.ZipFile(archive_path) as archive:
        inner = _read_members(sub, archive)
        if sub.files or not inner:
            return
        if len(inner) > 1:
            sub.flags.append(f"{len(inner)} zips inside the zip and nothing else to grade: none of them read")
            return
        # A student who zipped the zip: one level down (no further), read from memory with the same caps.
        member = inner[0]
        try:
            with zipfile.ZipFile(io.BytesIO(_member_bytes(archive, member, MAX_TOTAL_BYTES))) as nested:
                _read_members(sub, nested)
            sub.flags.append("zip inside a zip: graded its contents")
        except UNREADABLE:
            sub.skip(f"unreadable zip members ({member.filename})")


def _member_bytes(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
    """A zip member's bytes, capped at ``limit`` whatever its header claims."""
    if member.file_size > limit:
        raise ValueError(f"larger than {limit >> 20} MB")
    with archive.open(member) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit >> 20} MB")
    return data


def _read_members(sub: Submission, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Reads the wanted members of an open zip into ``sub``; returns the members that are zips themselves."""
    inner = []
    members = archive.infolist()
    for index, member in enumerate(members):
        if index >= MAX_ENTRIES:
            sub.skip("beyond the size limits")
            break
        name = visible(member.filename).replace("\\", "/")
        parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", ".", "/"))
        if not parts or member.is_dir():
            continue
        if ".." in parts:
            sub.skip("paths outside the zip")
        elif is_junk_path(parts) or parts[0] == "__MACOSX":
            sub.skip(f"{next((p for p in parts if p in JUNK_DIRS), parts[0])}/")
        elif stat.S_ISLNK(member.external_attr >> 16):
            sub.skip("symbolic links")
        elif _wanted(parts):
            path = "/".join(parts)
            try:
                _add(sub, path, _member_bytes(archive, member, size_cap(path)))
            except UNREADABLE:
                sub.skip(f"unreadable zip members ({path})")
        elif parts[-1].lower().endswith(".zip") and parts[-1] not in OS_JUNK:
            inner.append(member)
    return inner


def _base(files: dict[str, bytes]) -> str:
    """The folder (a path prefix) that plays the role of the release's top level."""
    folders = {p.rsplit("/", 1)[0] for p in files if p.endswith(".py") and "/" in p}
    helper_dirs = [d for d in folders if d.split("/")[-1] == "helpers"]
    if helper_dirs:
        best = min(helper_dirs, key=lambda d: (d.count("/"), d))
        return best[: -len("helpers")]
    notebooks = sorted((p for p in files if p.endswith(".ipynb")), key=lambda p: (p.count("/"), p))
    return notebooks[0].rsplit("/", 1)[0] + "/" if notebooks and "/" in notebooks[0] else ""


def find_module(module: str, base: str, files: dict[str, bytes]) -> tuple[str | None, str]:
    """(path, flag) for one exercise module; flag is '' when it is where it belongs."""
    exact = f"{base}helpers/{module}.py"
    if exact in files:
        return exact, ""
    pyfiles = sorted((p for p in files if p.endswith(".py")), key=lambda p: (p.count("/"), p))
    stem = lambda p: p.rsplit("/", 1)[-1][:-3]  # noqa: E731
    headers = tuple(start.encode() for start in stubs.header_starts(module))
    by_name = [p for p in pyfiles if stem(p) == module]
    renamed = [p for p in pyfiles if stem(p) != module and re.match(rf"{module}\b|{module}[ _\-(.]", stem(p))]
    by_header = [p for p in pyfiles if stem(p) not in exercises.MODULES and files[p][:200].startswith(headers)]
    for found in (by_name, renamed, by_header):
        if found:
            return found[0], f"helpers/{module}.py not found; graded {found[0]} instead"
    return None, f"helpers/{module}.py missing: its exercises score 0"


def _notebooks_only(sub: Submission) -> bool:
    """Notebooks and no Python file at all (links and devices, skipped, are not a missing folder)."""
    odd = {"symbolic links", "FIFOs, sockets or devices"}
    return (
        not sub.helpers
        and any(p.endswith(".ipynb") for p in sub.files)
        and not any(p.endswith(".py") for p in sub.files)
        and not odd & set(sub.skipped)
    )


def read(path: str, student_id: str | None = None) -> Submission:
    """A ``Submission`` for the folder or zip at ``path`` (which is never followed if it is a link)."""
    name = os.path.basename(path)
    sub = Submission(student_id or student_id_of(name))
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            _walk_folder(sub, path)
        elif stat.S_ISREG(mode) and name.lower().endswith(".zip"):
            _read_zip(sub, path)
            sub.flags.append("zip submission")
        elif stat.S_ISLNK(mode):
            sub.flags.append(f"{name} is a symbolic link: not followed, nothing to grade")
        else:
            sub.flags.append(f"{name} is not a folder or a .zip: nothing to grade")
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        sub.flags.append(f"could not read the submission ({type(error).__name__}: {error})")
    base = _base(sub.files)
    missing: list[str] = []
    for module in exercises.MODULES:
        found, flag = find_module(module, base, sub.files)
        if flag:
            (sub.flags if found is not None else missing).append(flag)
        if found is not None:
            sub.helpers[f"{module}.py"] = sub.files[found]
    if _notebooks_only(sub):  # one sentence, not one "missing" per module and "not implemented" per exercise
        sub.no_helpers = NO_HELPERS_NOTEBOOKS
        sub.flags.append(sub.no_helpers)
    else:
        sub.flags.extend(missing)
    extras = sorted(p for p in sub.files if p.startswith(f"{base}helpers/") and p.count("/") == base.count("/") + 1)
    extras = [p for p in extras if p.endswith(".py") and p.rsplit("/", 1)[-1][:-3] not in exercises.MODULES]
    for p in extras[:MAX_EXTRA_MODULES]:
        file_name = p.rsplit("/", 1)[-1]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", file_name):
            sub.helpers.setdefault(file_name, sub.files[p])
    for nb_path in sorted(p for p in sub.files if p.endswith(".ipynb")):
        name = nb_path.rsplit("/", 1)[-1]
        notebook, problem = parse_notebook(sub.files[nb_path])
        if problem:
            sub.flags.append(f"notebook {nb_path}: {problem}; its check cells were not compared")
            sub.odd_notebooks.setdefault(name, problem)
        elif notebook is not None:
            sub.notebooks.setdefault(name, notebook)
        if notebook is not None and not _utf8(sub.files[nb_path]):
            sub.flags.append(f"notebook {nb_path}: bytes that are not UTF-8, read as U+FFFD")
    if sub.skipped:
        listed = ", ".join(f"{why} ({n})" if n > 1 else why for why, n in sorted(sub.skipped.items()))
        sub.flags.append(f"skipped: {listed}")
    return sub


def _kind(value: object) -> str:
    """A JSON value's type, as the JSON spec names it."""
    for types, name in ((bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "list"), (dict, "object")):
        if isinstance(value, types):
            return name
    return "null"


def _is_text(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))


def notebook_problem(notebook: Any) -> str:
    """What keeps a parsed notebook from being read as one (a wrong JSON type where nbformat has a fixed one),
    or ''. Jupyter never writes such a file, so its check cells are not compared: said, never guessed at."""
    if not isinstance(notebook, dict):
        return f"not a notebook (the top level is a {_kind(notebook)})"
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return "no list of cells" if cells is None else f"'cells' is a {_kind(cells)}, not a list"
    for n, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            return f"cell {n} is a {_kind(cell)}, not an object"
        metadata, outputs = cell.get("metadata", {}), cell.get("outputs", [])
        if not isinstance(metadata, dict):
            return f"cell {n}'s metadata is a {_kind(metadata)}, not an object"
        if not isinstance(metadata.get("nbgrader", {}), dict):
            return f"cell {n}'s nbgrader metadata is a {_kind(metadata['nbgrader'])}, not an object"
        if not _is_text(cell.get("source", "")):
            return f"cell {n}'s source is a {_kind(cell['source'])}, not text"
        if not isinstance(outputs, list):
            return f"cell {n}'s outputs is a {_kind(outputs)}, not a list"
        for m, output in enumerate(outputs, 1):
            if not isinstance(output, dict):
                return f"cell {n}'s output {m} is a {_kind(output)}, not an object"
            if not _is_text(output.get("text", "")):
                return f"cell {n}'s output {m} text is a {_kind(output['text'])}, not text"
    return ""


def parse_notebook(data: bytes) -> tuple[Any, str]:
    """``(notebook or None, what is wrong or '')`` for a notebook file's bytes, decoded as UTF-8 whatever
    they hold (undecodable bytes become U+FFFD). Never raises: not JSON, nested deeper than the parser
    goes, or the wrong shape is a reason."""
    text = data.decode("utf-8-sig", errors="replace")
    try:
        notebook = json.loads(text)
    except RecursionError:
        return None, "nested too deeply to read"
    except json.JSONDecodeError as error:
        return None, f"not JSON ({error.msg}, line {error.lineno})"
    except ValueError as error:  # e.g. an integer too long to convert
        return None, f"not JSON ({type(error).__name__})"
    return notebook, notebook_problem(notebook)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text(value: str | list[str]) -> str:
    return visible("".join(value) if isinstance(value, list) else value)


def check_cells(notebook: Any) -> dict[str, tuple[str, str]]:
    """``{grade_id: (source, outputs text)}`` of the nbgrader grade cells in a parsed notebook, as printable
    text; ``{}`` for a notebook of the wrong shape (``notebook_problem``)."""
    if notebook_problem(notebook):
        return {}
    cells = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            outputs = "".join(_text(output.get("text", "")) for output in cell.get("outputs", []))
            cells[visible(meta["grade_id"])] = (_text(cell.get("source", "")), outputs)
    return cells


def compare_check_cells(sub: Submission, course_cells: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str] | None]:
    """Flags for deleted or edited test cells and missing or renamed notebooks.

    ``course_cells``: ``{grade_id: (notebook file name, source)}`` from the course's notebooks.
    Returns ``{grade_id: (student's source, saved output text) or None if deleted}``."""
    found: dict[str, tuple[str, str]] = {}
    where: dict[str, str] = {}
    for name, nb in sub.notebooks.items():
        for grade_id, cell in check_cells(nb).items():
            found.setdefault(grade_id, cell)
            where.setdefault(grade_id, name)
    for nb_name in sorted({nb for nb, _ in course_cells.values() if nb != "(none)"}):
        if nb_name not in sub.notebooks and nb_name not in sub.odd_notebooks:  # an odd one is flagged where it was read
            ids = [g for g, (n, _) in course_cells.items() if n == nb_name]
            moved = sorted({where[g] for g in ids if g in where})
            if moved:
                sub.flags.append(f"notebook {nb_name} renamed to {', '.join(moved)}")
            else:
                sub.flags.append(f"notebook {nb_name} missing (grading uses helpers/ only)")
    result: dict[str, tuple[str, str] | None] = {}
    for grade_id, (nb_name, source) in course_cells.items():
        if grade_id not in found:
            if nb_name in sub.notebooks:
                sub.flags.append(f"test cell {grade_id} deleted from {nb_name} (restored for grading)")
            result[grade_id] = None
        else:
            if found[grade_id][0].strip() != source.strip():
                sub.flags.append(f"test cell {grade_id} edited (restored for grading)")
            result[grade_id] = found[grade_id]
    return result
