"""What a bubblewrap sandbox sees: the Python environment and system libraries read-only, masks over hidden
folders, and the environment variables it starts with. Trusted side.

Never a whole prefix such as ``/usr`` or ``/usr/local``: other checkouts of the course may live there.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "libexec")


def python_paths() -> list[str]:
    """The interpreter, its standard library and shared library, and the environment's packages: what
    the sandbox must read. Never a whole prefix such as ``/usr`` or ``/usr/local``, where other
    checkouts of the course may live; a virtual environment is bound whole (it is the grader's)."""
    paths = {os.path.dirname(os.path.realpath(sys.executable)), sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    if sys.prefix != sys.base_prefix:
        paths.add(sys.prefix)
    paths |= {p for p in sys.path if p and ("-packages" in p or p.endswith("lib-dynload")) and os.path.isdir(p)}
    libdir, library = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if libdir and library:
        paths |= {str(p) for p in Path(libdir).glob(library + "*")}
    paths = {p for p in paths if p and os.path.exists(p)}
    found = sorted({os.path.realpath(p) for p in paths} | {os.path.abspath(p) for p in paths})
    # only the outermost of nested paths (a venv's site-packages is inside the venv)
    return [p for p in found if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in found)]


def system_args() -> list[str]:
    """The system's programs and libraries read-only (not the rest of /usr: /usr/src, /usr/local/src and
    /usr/share may hold other checkouts), and the merged-/usr links (/bin, /lib, ...) as they are here."""
    args = []
    for name in SYSTEM_DIRS:
        if Path("/usr", name).is_dir() and not Path("/usr", name).is_symlink():
            args += ["--ro-bind", f"/usr/{name}", f"/usr/{name}"]
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    if Path("/etc/ld.so.cache").is_file():
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def masks(binds: Iterable[str], hidden: Iterable[str], empty: str | os.PathLike[str]) -> list[str]:
    """An empty read-only folder (``empty``) over every hidden folder that an allowed bind happens to contain."""
    binds = list(binds)
    args = []
    for path in sorted({os.path.realpath(p) for p in hidden}):
        if any(path == b or path.startswith(b.rstrip("/") + "/") for b in binds) and os.path.isdir(path):
            args += ["--ro-bind", str(empty), path]
    return args


def sandbox_env() -> dict[str, str]:
    """The environment every sandbox process starts with (nothing of the grader's)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "CUDA_VISIBLE_DEVICES": "",
        "TQDM_DISABLE": "1",
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
    }
