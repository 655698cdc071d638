"""``python -m autograder execute``: run the notebooks headlessly in a temporary copy of the course
(``autograder.commands.execute`` reads the options into ``ExecuteOptions``; ``execute`` does the work).

The copy holds ``notebooks/`` and ``helpers/``; with ``--with solutions`` (the default) the
reference ``solutions/*.py`` files are laid over ``helpers/``, with ``--with stubs`` the stubs stay
as students get them, and with ``--with-helpers DIR`` the ``*.py`` files of a student's
``helpers/`` folder are laid over the stubs (a student's own modules travel along). The working
tree is never touched. Each notebook runs in its own kernel (nbclient, the ``ipykernel`` of this
interpreter) with the notebook folder as working directory;
smoke mode follows ``DDPM_FAST`` from the environment, and runs two notebooks at a time (``--jobs``).
Prints each notebook's wall time, in notebook order, and, for a failure, the failing cell and its
error in a few lines; exit code 1 when any notebook fails.

    DDPM_FAST=1 python -m autograder execute --out outputs/executed
    DDPM_FAST=1 python -m autograder execute --with stubs       # must fail at the first exercise
    DDPM_FAST=1 python -m autograder execute --with-helpers path/to/student/helpers

Without ``DDPM_FAST`` the notebooks run at the configuration a student gets; ``DDPM_TRAIN_SECONDS=20`` keeps that
configuration (T, schedules, image sizes, sample counts) but caps every training cell to 20 s (``runtime.train_seconds``).
"""

import asyncio
import fnmatch
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.paths import ROOT

KERNEL_NAME = "ddpm-course-python"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# What the warm-kernel server imports once for every kernel (see warm_kernels.py): the libraries the notebooks import,
# none that decides at import time what it does in a kernel (tqdm.auto, and datasets, which imports it).
PRELOAD = ("ipykernel.kernelapp", "numpy", "torch", "torchvision", "einops", "PIL.Image", "matplotlib.pyplot")


@dataclass(frozen=True)
class ExecuteOptions:
    """What ``python -m autograder execute`` was asked (its options, ``autograder.commands.execute``)."""

    code: str = "solutions"  # "solutions" laid over helpers/, or "stubs" as released
    helpers: Path | None = None  # a student's helpers/ folder laid over the stubs instead
    out: Path | None = None  # where executed notebooks, their HTML and the images go
    notebooks: list[str] | None = None  # names, prefixes or globs; None: all
    timeout: int = 3600  # seconds per cell
    threads: int | None = None  # torch/OpenMP threads per kernel; None: 1 in smoke mode, the default in full mode
    jobs: int | None = None  # notebooks at once; None: 2 in smoke mode, 1 in full mode
    cold_kernels: bool = False  # start every kernel from scratch
    fail_fast: bool = False
    keep: bool = False  # keep the temporary course copy


def select_notebooks(names: list[str] | None = None, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """The numbered notebooks, in order, optionally filtered by names, prefixes or globs."""
    paths = sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return paths
    chosen = []
    for path in paths:
        for name in names:
            if fnmatch.fnmatch(path.name, name) or fnmatch.fnmatch(path.stem, name) or path.name.startswith(name):
                chosen.append(path)
                break
    return chosen


def build_course_copy(target: str | Path, code: str = "solutions", root: Path = ROOT, helpers: str | Path | None = None) -> Path:
    """``target/notebooks`` and ``target/helpers``: the stubs, with the solutions laid over them when
    ``code == 'solutions'``, or the ``*.py`` files of the folder ``helpers`` (a student's) when it is given."""
    target = Path(target)
    if helpers is not None and not sorted(Path(helpers).glob("*.py")):
        raise ValueError(f"{helpers} holds no .py files: --with-helpers wants a student's helpers/ folder")
    shutil.copytree(root / "notebooks", target / "notebooks", ignore=shutil.ignore_patterns("outputs", ".ipynb_checkpoints"))
    shutil.copytree(root / "helpers", target / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    overlay = Path(helpers) if helpers is not None else root / "solutions" if code == "solutions" else None
    for path in sorted(overlay.glob("*.py")) if overlay else []:
        shutil.copy2(path, target / "helpers" / path.name)
    for name in ("requirements.txt",):
        if (root / name).exists():
            shutil.copy2(root / name, target / name)
    return target


def install_kernelspec(folder: str | Path, warm_socket: str | Path | None = None) -> Path:
    """A kernelspec that starts ipykernel with *this* interpreter, or asks the warm-kernel server at ``warm_socket``
    for one; returns the folder to put on JUPYTER_PATH."""
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    if warm_socket:
        launcher = [sys.executable, str(Path(__file__).with_name("warm_kernels.py")), "launch", str(warm_socket)]
    else:
        launcher = [sys.executable, "-m", "ipykernel_launcher"]
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [*launcher, "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR"],
                "display_name": "Python 3 (ddpm course)",
                "language": "python",
            }
        )
    )
    return Path(folder)


def start_warm_server(socket_path: str | Path) -> subprocess.Popen[bytes] | None:
    """The warm-kernel server, importing ``PRELOAD`` with the kernels' environment (already set); None if unavailable."""
    # Linux only: macOS has no SOCK_SEQPACKET Unix sockets, and forking after its frameworks loaded is unsafe
    if sys.platform != "linux" or not hasattr(socket, "send_fds"):
        return None
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("warm_kernels.py")), "serve", str(socket_path), *PRELOAD],
        start_new_session=True,  # like jupyter_client's kernels: a Ctrl-C in the terminal is execute's to handle
        env=dict(os.environ),  # what jupyter_client gives kernels, not the C environment (readline adds LINES, COLUMNS)
    )


def wait_for_warm_server(server: subprocess.Popen[bytes], socket_path: str | Path, limit: float = 120) -> bool:
    """True once the server listens; False (kernels then start cold) when it gave up or is still importing at ``limit``."""
    deadline = time.monotonic() + limit
    while server.poll() is None and time.monotonic() < deadline:
        if Path(socket_path).exists():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def kernels(folder: str | Path, threads: int | None = None, warm: bool = True) -> Iterator[bool]:
    """The kernels' environment while it lasts: this interpreter's kernelspec on JUPYTER_PATH, inline figures,
    ``threads`` torch/OpenMP threads and, with ``warm``, the warm-kernel server, whose socket lives in ``folder``
    (a private temporary folder: whoever can reach the socket can ask for a kernel). Yields whether kernels are warm."""
    saved = {key: os.environ.get(key) for key in ("JUPYTER_PATH", "MPLBACKEND", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    folder, server = Path(folder), None
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        if threads:
            os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), saved["JUPYTER_PATH"]]))
        socket_path = folder / "warm-kernels.sock"
        server = start_warm_server(socket_path) if warm else None  # it must see the environment the kernels get
        ready = server is not None and wait_for_warm_server(server, socket_path)
        install_kernelspec(folder, socket_path if ready else None)
        yield ready
    finally:
        if server is not None:
            server.kill()
            server.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _error_summary(nb: Any, error: BaseException) -> tuple[str, str]:
    """(cell label, one-paragraph error) for a failed execution."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                label = f"cell {index} (id {cell.get('id')}{', grade_id ' + grade_id if grade_id else ''})"
                first_line = next((line for line in cell.source.splitlines() if line and not line.startswith("#")), "")
                message = ANSI.sub("", f"{output.get('ename')}: {output.get('evalue')}")
                return label, f"{message}\n      in: {first_line.strip()[:100]}"
    text = ANSI.sub("", str(error)).strip().splitlines()
    return "unknown cell", "\n".join(text[-5:])


async def execute_notebook(
    path: Path, workdir: Path, timeout: int, kernel_name: str = KERNEL_NAME
) -> tuple[Any, float, BaseException | None]:
    """Execute ``path`` in ``workdir``; returns ``(notebook, seconds, error or None)``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
        record_timing=True,
        shutdown_kernel="immediate",  # every output is in: waiting for a graceful exit only holds the slot
    )
    started = time.monotonic()
    error = None
    try:
        await client.async_execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        error = exc
    return nb, time.monotonic() - started, error


async def execute_series(
    paths: list[Path], workdir: Path, timeout: int, jobs: int = 1, fail_fast: bool = False
) -> AsyncIterator[tuple[Path, Any, float, BaseException | None]]:
    """Yields ``(path, notebook, seconds, error)`` in the order of ``paths`` while up to ``jobs`` notebooks run at
    once. With ``fail_fast`` it ends at the first failure in that order, as a run one by one would, and the
    notebooks after a failure are cancelled (their kernels shut down) as soon as it happens."""
    slots = asyncio.Semaphore(max(1, jobs))
    tasks: list[asyncio.Task[tuple[Any, float, BaseException | None]]] = []

    async def one(index: int, path: Path) -> tuple[Any, float, BaseException | None]:
        async with slots:
            result = await execute_notebook(path, workdir, timeout)
        if result[2] is not None and fail_fast:
            for later in tasks[index + 1 :]:
                later.cancel()
        return result

    tasks.extend(asyncio.create_task(one(index, path)) for index, path in enumerate(paths))
    try:
        for path, task in zip(paths, tasks):
            nb, seconds, error = await task
            yield path, nb, seconds, error
            if error is not None and fail_fast:
                return
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def write_outputs(nb: Any, name: str, out_dir: Path) -> None:
    """``name.ipynb`` and ``name.html`` of an executed notebook in ``out_dir``."""
    import nbformat
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / f"{name}.ipynb")
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / f"{name}.html").write_text(html, encoding="utf-8")


async def _execute_and_report(
    paths: list[Path], workdir: Path, options: ExecuteOptions, jobs: int, results: list[tuple[str, float, BaseException | None]]
) -> None:
    """Runs the notebooks and prints (and writes, with ``--out``) each one as the series reaches it."""
    async for path, nb, seconds, error in execute_series(
        [workdir / p.name for p in paths], workdir, options.timeout, jobs, options.fail_fast
    ):
        status = "ok" if error is None else "FAILED"
        print(f"  {path.stem:<32}{seconds:7.1f} s  {status}", flush=True)
        if error is not None:
            where, message = _error_summary(nb, error)
            print(f"    failed at {where}:\n    {message}", flush=True)
        results.append((path.stem, seconds, error))
        if options.out:
            write_outputs(nb, path.stem, Path(options.out))


def execute(options: ExecuteOptions) -> int:
    """Runs the chosen notebooks in a temporary course copy, printing each one's time; the exit code (1: one failed)."""
    paths = select_notebooks(options.notebooks)
    if not paths:
        print("no notebook matches", options.notebooks, file=sys.stderr)
        return 2
    fast = os.environ.get("DDPM_FAST", "")
    mode = f"smoke mode, DDPM_FAST={fast}" if fast not in ("", "0") else "full mode: set DDPM_FAST=1 for a smoke run"
    if options.helpers is not None and not Path(options.helpers).is_dir():
        print(f"--with-helpers {options.helpers}: no such folder", file=sys.stderr)
        return 2
    code = f"helpers in {options.helpers}" if options.helpers is not None else options.code
    cap = os.environ.get("DDPM_TRAIN_SECONDS")
    mode += f", training capped to {cap} s (DDPM_TRAIN_SECONDS)" if cap and fast in ("", "0") else ""
    print(f"executing {len(paths)} notebook(s) with the {code} ({mode})")
    tmp = Path(tempfile.mkdtemp(prefix="ddpm-execute-"))
    results: list[tuple[str, float, BaseException | None]] = []
    try:
        total = time.monotonic()
        course = build_course_copy(tmp / "course", options.code, helpers=options.helpers)
        threads = options.threads or (1 if fast not in ("", "0") else None)
        jobs = min(len(paths), options.jobs or (min(2, os.cpu_count() or 1) if fast not in ("", "0") else 1))
        with kernels(tmp / "jupyter", threads, warm=not options.cold_kernels) as warm:
            how = "forked from one that imported torch & co." if warm else "each started from scratch"
            print(f"  {jobs} at a time, kernels {how}" + ("" if warm or options.cold_kernels else " (no warm-kernel server)"))
            asyncio.run(_execute_and_report(paths, course / "notebooks", options, jobs, results))
        print(f"  {'total':<32}{time.monotonic() - total:7.1f} s")
        if options.out:
            produced = course / "notebooks" / "outputs"
            for image in sorted(produced.glob("*")) if produced.exists() else []:
                if image.suffix.lower() in (".png", ".gif", ".jpg"):
                    shutil.copy2(image, Path(options.out) / image.name)
            print(f"executed notebooks, HTML and images written to {options.out}")
    finally:
        if options.keep:
            print(f"course copy kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = [name for name, _, error in results if error is not None]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
