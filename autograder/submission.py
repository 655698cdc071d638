"""Find a student's files in whatever they handed in (folder or zip, renamed, nested, partial).

Trusted side: only reads files (never imports them). Every oddity becomes a line in ``flags``.
"""

import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import stubs

MODULES = tuple(dict.fromkeys(stubs.exercises().values()))
MAX_ZIP_BYTES = 300 << 20
MAX_ZIP_MEMBERS = 5000
MAX_PY_BYTES = 2 << 20
SUSPICIOUS = {
    r"torch\s*\.\s*(allclose|testing\s*\.\s*\w+|equal|isclose)\s*=(?!=)": "reassigns a torch comparison function",
    r"sys\s*\.\s*modules\b": "touches sys.modules",
    r"\bbuiltins\b|__builtins__": "touches builtins",
    r"\bgc\s*\.\s*get_(objects|referrers)|sys\s*\.\s*_getframe|\binspect\s*\.\s*(stack|currentframe)": "inspects the caller",
    r"\b(subprocess|ctypes|socket)\b|os\s*\.\s*(system|popen|fork|kill|_exit)": "uses processes, sockets or ctypes",
    r"\bsolutions\b|nbgrader|autograder|gradebook": "mentions the grading machinery",
}


@dataclass
class Submission:
    student_id: str
    root: Path = None  # where the student's files are (after unzipping)
    exercise_files: dict = field(default_factory=dict)  # module -> Path
    notebooks: dict = field(default_factory=dict)  # file name -> parsed notebook
    flags: list = field(default_factory=list)


def student_id_of(path):
    name = Path(path).name
    return name[:-4] if name.lower().endswith(".zip") else name


def _safe_extract(archive_path, dest):
    with zipfile.ZipFile(archive_path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise ValueError(f"{len(members)} files in the zip (limit {MAX_ZIP_MEMBERS})")
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValueError("zip expands beyond the size limit")
        for member in members:
            parts = [p for p in Path(member.filename.replace("\\", "/")).parts if p not in ("", ".", "/")]
            if any(p == ".." for p in parts) or not parts or parts[0].startswith("__MACOSX"):
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _files(root, suffix):
    return sorted(
        (p for p in root.rglob(f"*{suffix}") if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts),
        key=lambda p: (len(p.relative_to(root).parts), str(p)),
    )


def _base(root):
    """The folder that plays the role of the release's top level."""
    helpers = [p for p in root.rglob("helpers") if p.is_dir() and not p.is_symlink()]
    if helpers:
        return min(helpers, key=lambda p: len(p.parts)).parent
    notebooks = _files(root, ".ipynb")
    return notebooks[0].parent if notebooks else root


def _find_module(module, base, root, pyfiles):
    """(path, flag) for one exercise module; flag is '' when it is where it belongs."""
    exact = base / "helpers" / f"{module}.py"
    if exact.is_file() and not exact.is_symlink():
        return exact, ""
    header = f"# Generated from solutions/{module}.py"
    by_name = [p for p in pyfiles if p.stem == module]
    renamed = [p for p in pyfiles if p.stem != module and re.match(rf"{module}\b|{module}[ _\-(.]", p.stem)]
    by_header = [p for p in pyfiles if p.stem not in MODULES and _head(p).startswith(header)]
    for found in (by_name, renamed, by_header):
        if found:
            rel = found[0].relative_to(root)
            return found[0], f"helpers/{module}.py not found; graded {rel} instead"
    return None, f"helpers/{module}.py missing: its exercises score 0"


def _head(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(200)
    except OSError:
        return ""


def resolve(path, workdir):
    """A ``Submission`` for the folder or zip at ``path``; files are copied/extracted under ``workdir``."""
    path = Path(path)
    sub = Submission(student_id_of(path))
    root = Path(workdir) / "files"
    root.mkdir(parents=True, exist_ok=True)
    try:
        if path.is_dir():
            shutil.copytree(path, root, dirs_exist_ok=True, symlinks=True, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        elif path.suffix.lower() == ".zip":
            _safe_extract(path, root)
            sub.flags.append("zip submission")
        else:
            sub.flags.append(f"not a folder or a .zip ({path.name}): nothing to grade")
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        sub.flags.append(f"could not read the submission ({type(error).__name__}: {error})")
    sub.root = root
    base = _base(root)
    pyfiles = [p for p in _files(root, ".py") if p.stat().st_size <= MAX_PY_BYTES]
    for module in MODULES:
        found, flag = _find_module(module, base, root, pyfiles)
        if flag:
            sub.flags.append(flag)
        if found is not None:
            if found.stat().st_size > MAX_PY_BYTES:
                sub.flags.append(f"{found.name} is larger than {MAX_PY_BYTES} bytes: ignored")
                continue
            sub.exercise_files[module] = found
            text = found.read_text(encoding="utf-8", errors="replace")
            if text.startswith("# Generated from solutions/"):
                text = text.split("\n", 1)[-1]  # the generated header names solutions/ and the autograder
            for pattern, what in SUSPICIOUS.items():
                if re.search(pattern, text):
                    sub.flags.append(f"suspicious code in helpers/{module}.py: {what}")
    for nb_path in _files(root, ".ipynb"):
        try:
            sub.notebooks[nb_path.name] = json.loads(nb_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            sub.flags.append(f"notebook {nb_path.name} unreadable ({type(error).__name__})")
    return sub


def check_cells(notebook):
    """``{grade_id: source}`` of the nbgrader grade cells in a parsed notebook."""
    cells = {}
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and meta.get("grade") and meta.get("grade_id"):
            source = cell.get("source", "")
            cells[str(meta["grade_id"])] = "".join(source) if isinstance(source, list) else str(source)
    return cells


def compare_check_cells(sub, course_cells):
    """Flags for deleted or edited test cells and missing or renamed notebooks.

    ``course_cells``: ``{grade_id: (notebook file name, source)}`` from the course's notebooks.
    Returns ``{grade_id: student's source or None if deleted}``."""
    found = {}
    where = {}
    for name, nb in sub.notebooks.items():
        for grade_id, source in check_cells(nb).items():
            found.setdefault(grade_id, source)
            where.setdefault(grade_id, name)
    expected_notebooks = sorted({nb for nb, _ in course_cells.values() if nb != "(none)"})
    for nb_name in expected_notebooks:
        if nb_name not in sub.notebooks:
            ids = [g for g, (n, _) in course_cells.items() if n == nb_name]
            moved = sorted({where[g] for g in ids if g in where})
            if moved:
                sub.flags.append(f"notebook {nb_name} renamed to {', '.join(moved)}")
            else:
                sub.flags.append(f"notebook {nb_name} missing (grading uses helpers/ only)")
    result = {}
    for grade_id, (nb_name, source) in course_cells.items():
        if grade_id not in found:
            if nb_name in sub.notebooks:
                sub.flags.append(f"test cell {grade_id} deleted from {nb_name} (restored for grading)")
            result[grade_id] = None
        else:
            if found[grade_id].strip() != source.strip():
                sub.flags.append(f"test cell {grade_id} edited (restored for grading)")
            result[grade_id] = found[grade_id]
    return result
