"""Run one student's code in a bubblewrap sandbox built from an allow-list. Trusted side.

The sandbox (``bwrap``) sees: the Python environment read-only (interpreter prefix, venv,
``/usr`` for shared libraries), a read-only ``/box`` that the grader filled for this
student alone (their ``helpers/``, the public stubs, the task inputs, the runner), and a
private size-capped ``/tmp`` and ``/dev/shm``. Nothing else: no course checkout, no
``solutions/``, no hidden tests, no other student, no network, its own PID, IPC and UTS
namespaces, no capabilities. The runner (``sandbox_runner.py``) lowers CPU, memory,
file-size and process limits before it imports student code.

The trusted side never opens a path the student can write: dependencies go in over
stdin, results come back over the stdout pipe as length-framed ``.npz`` bytes (read with
``allow_pickle=False``, size-capped), and a frame nobody asked for is ignored. A sandbox
is killed through its PID namespace (SIGKILL to its init kills every process in it), so
concurrent runs never touch each other's processes.

Defence in depth, each layer described in ``Isolation.describe()`` (the report, every row):
a seccomp filter (``syscall_filter``: keyrings, ptrace, mounts, namespaces, bpf, ... refused),
nested user namespaces refused (``--disable-userns`` where bubblewrap has it, the filter always),
``/proc/sys`` read-only, cgroup limits on the whole box where the machine delegates them
(``cgroups``), and rlimits in the runner. The sandbox never runs as uid 0, mapped or not: as
root, ``launcher`` drops to an unprivileged user (``--sandbox-user``, default ``nobody``) before it
starts bwrap, and if that user cannot run the interpreter, grading is refused with a message.
bwrap's options are read from its own ``--help``, so bubblewrap 0.4.1 (Debian 11) to today's work,
each with what it can do; too old for the guarantees (no ``--seccomp``), it is refused.

Where user namespaces are refused (Gradescope, PrairieLearn, Docker), a harness asks for container mode
(``detect(mode="container")``, or ``"auto"``: bubblewrap where it works, else the container):
``autograder.container`` says what it does and does not isolate. A local ``grade`` never falls back to it.
"""

import contextlib
import io
import json
import os
import pwd
import re
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.paths import ROOT
from autograder.sandbox import cgroups, container, syscall_filter

HERE = Path(__file__).resolve().parent
BOX_FILES = HERE / "box"  # copied into every box
MAX_OUTPUT_BYTES = 64 << 20
MAX_LINE_BYTES = 1 << 20
STDERR_TAIL = 200_000
ENABLE_HINT = (
    "install bubblewrap (`sudo apt-get install bubblewrap`) and allow unprivileged user namespaces "
    "(on Ubuntu 23.10+: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), "
    "or grade trusted code only with --unsafe-no-sandbox"
)
BWRAP_ENV = "DDPM_BWRAP"  # the bwrap binary to use instead of the one on PATH (an older or newer build)
# what the sandbox cannot do without (all in 0.4.1); the rest is used where the binary lists it
REQUIRED_OPTIONS = frozenset(
    "--unshare-all --unshare-user --seccomp --ro-bind --proc --dev --tmpfs --die-with-parent --new-session --symlink".split()
)
MIN_BWRAP = "0.4.1"  # the oldest tested; what matters is --seccomp, which every bubblewrap since 0.1.8 has
BUBBLEWRAP, CONTAINER, AUTO, MODES = container.BUBBLEWRAP, container.CONTAINER, container.AUTO, container.MODES


def exercise_modules():
    """The helpers modules that hold exercises, in course order (from the solution regions)."""
    from autograder.authoring import stubs

    return tuple(dict.fromkeys(stubs.exercises().values()))


MODULES = exercise_modules()


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create namespaces here: student code must not run."""


@dataclass
class Limits:
    task_seconds: float = 30.0  # wall clock per task
    import_seconds: float = 60.0  # wall clock to import torch and the student's modules
    cpu_seconds: int = 300  # RLIMIT_CPU of the sandbox process
    memory_bytes: int = 8 << 30  # RLIMIT_AS (torch alone maps ~3.3 GB of address space)
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE
    tmp_bytes: int = 256 << 20  # size of the private /tmp and /dev/shm (each)
    processes: int = 64  # RLIMIT_NPROC (threads count too), and the box's pids limit where cgroups allow
    box_memory_bytes: int = 3 << 30  # the whole box's memory, /tmp included, where cgroups allow (torch needs ~0.5 GB)
    cpu_weight: int = 50  # the box's CPU share against the grader's other work (cgroup v2 weight; default 100)
    max_restarts: int = 12


# ----------------------------------------------------------------------------- the allow-list


def _python_paths():
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
    paths = sorted({os.path.realpath(p) for p in paths} | {os.path.abspath(p) for p in paths})
    # only the outermost of nested paths (a venv's site-packages is inside the venv)
    return [p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)]


SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "libexec")


def _system_args():
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


def _masks(binds, hidden, empty):
    """An empty read-only folder (``empty``) over every hidden folder that an allowed bind happens to contain."""
    args = []
    for path in sorted({os.path.realpath(p) for p in hidden}):
        if any(path == b or path.startswith(b.rstrip("/") + "/") for b in binds) and os.path.isdir(path):
            args += ["--ro-bind", str(empty), path]
    return args


@dataclass(frozen=True)
class Bubblewrap:
    """One bwrap binary and the options it has (read from its own ``--help``: versions differ, see issue 25)."""

    path: str
    version: str
    options: frozenset

    def has(self, option):
        return option in self.options

    @property
    def userns_disabled(self):
        return self.has("--disable-userns")


def bubblewrap(path=None):
    """The bwrap to use (``$DDPM_BWRAP``, else ``bwrap`` on PATH) and its options; ``SandboxUnavailable`` without one."""
    path = path or os.environ.get(BWRAP_ENV) or shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {ENABLE_HINT}")
    return _read_bubblewrap(os.path.abspath(path))


@lru_cache(maxsize=8)
def _read_bubblewrap(path):
    try:
        helped = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30, errors="replace")
        versioned = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, errors="replace")
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxUnavailable(f"{path} does not run ({type(error).__name__}: {error}): {ENABLE_HINT}") from None
    options = frozenset(re.findall(r"^\s+(--[a-z0-9-]+)", helped.stdout + helped.stderr, re.MULTILINE))
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", versioned.stdout + versioned.stderr)
    version = match.group(1) if match else "unknown"
    if not REQUIRED_OPTIONS <= options:
        raise SandboxUnavailable(
            f"bubblewrap {version} at {path} lacks {', '.join(sorted(REQUIRED_OPTIONS - options))}: the sandbox needs bubblewrap "
            f"{MIN_BWRAP} or newer (a seccomp filter, user namespaces): {ENABLE_HINT}"
        )
    return Bubblewrap(path, version, options)


@dataclass
class Isolation:
    """How this run's sandboxes are made; ``describe()`` goes into the report and every row."""

    bwrap: Bubblewrap = None  # None: no sandbox (--unsafe-no-sandbox)
    user: tuple = None  # (uid, gid, name) that the launcher drops to when the grader is root
    notes: list = field(default_factory=list)  # what is missing: every CSV row says it
    hidden: tuple = ()
    filter: syscall_filter.Filter = None
    cgroup_plan: cgroups.Plan = None
    student: container.StudentUser = None  # container mode: the user student code runs as (bwrap is None)
    why_not_bubblewrap: str = ""  # mode "auto": why bubblewrap did not run here
    lock: threading.Lock = field(default_factory=threading.Lock)  # container mode: one sandbox at a time

    @property
    def sandboxed(self):
        return self.bwrap is not None or self.student is not None

    @property
    def mode(self):
        """Which isolation ran: ``"bubblewrap"``, ``"container"`` or ``"none"``."""
        return BUBBLEWRAP if self.bwrap is not None else CONTAINER if self.student is not None else "none"

    def layers(self):
        """The protections in force, in words (the report's ``isolation`` and each student's)."""
        if not self.sandboxed:
            return ["NO SANDBOX (--unsafe-no-sandbox): student code ran with the grader's rights"]
        if self.student is not None:
            return self._container_layers()
        who = f"as uid {self.user[0]} ({self.user[2]})" if self.user else f"as the grader's uid {os.getuid()} in a user namespace"
        nested = "--disable-userns and the seccomp filter" if self.bwrap.userns_disabled else "the seccomp filter"
        tmp = "private /tmp and /dev/shm" + ("" if self.bwrap.has("--size") else " (no size cap: this bubblewrap lacks --size)")
        layers = [
            f"bubblewrap {self.bwrap.version} allow-list sandbox {who}",
            "no network, own PID/IPC/UTS/mount/user namespaces",
            f"nested user namespaces refused by {nested}",
            self.filter.describe() if self.filter else "no seccomp filter",
            "/proc/sys read-only",
            tmp,
            self.cgroup_plan.describe() if self.cgroup_plan else "no cgroup limits",
        ]
        return layers

    def _container_layers(self):
        user = self.student
        made = ", made by this grading: not by the image's setup" if user.made_now else ""
        who = f"as uid {user.uid} ({user.name}{made})"
        why = f" (bubblewrap cannot run here: {self.why_not_bubblewrap})" if self.why_not_bubblewrap else ""
        return [
            f"container mode: the container is the sandbox, student code runs {who}{why}",
            "the course and hidden tests readable by root only (checked from inside)",
            "every process of that user killed after each sandbox",
            self.filter.describe() if self.filter else "no seccomp filter",
            "own HOME/TMPDIR folder; NOT isolated: the container's world-readable files, /proc, shared /tmp and /dev/shm",
            self.cgroup_plan.describe() if self.cgroup_plan else "no cgroup limits",
        ]

    def describe(self):
        return "; ".join([*self.layers(), *self.notes])

    def summary(self):
        """The short form each student's row carries: which isolation (bubblewrap or container), and which layers."""
        if not self.sandboxed:
            return "no sandbox"
        if self.student is not None:
            parts = ["container mode", "seccomp, no sockets but AF_UNIX" if self.filter else "no seccomp"]
            parts.append(self.cgroup_plan.summary() if self.cgroup_plan else "no cgroups")
            return ", ".join([*parts, f"uid {self.student.uid} ({self.student.name})"])
        parts = [f"bubblewrap {self.bwrap.version}", "seccomp" if self.filter else "no seccomp"]
        parts.append("userns refused (--disable-userns + seccomp)" if self.bwrap.userns_disabled else "userns refused (seccomp)")
        parts.append(self.cgroup_plan.summary() if self.cgroup_plan else "no cgroups")
        parts.append(f"uid {self.user[0]}" if self.user else "user namespace")
        return ", ".join(parts)

    def row_flags(self):
        """What every CSV row must say about isolation (nothing when it is complete)."""
        if not self.sandboxed:
            return ["graded WITHOUT a sandbox (--unsafe-no-sandbox): only for trusted code"]
        return [f"sandbox: {note}" for note in self.notes]

    def command(self, box, limits, status_fd=None, seccomp_fd=None, empty=None):
        """The bwrap argv that runs the runner in ``box`` (a folder only the grader wrote); bwrap reports the
        PID of the sandbox's init on ``status_fd`` and loads the seccomp program from ``seccomp_fd``."""
        runner = ["-I", "-B", "-X", "utf8"]
        if self.bwrap is None:  # no sandbox, or container mode (the launcher drops to the student user first)
            return [sys.executable, *runner, str(box / "sandbox_runner.py")]
        bw = self.bwrap
        binds = _python_paths()
        args = [bw.path, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        args += ["--disable-userns"] if bw.userns_disabled else []  # the seccomp filter refuses them either way
        args += ["--cap-drop", "ALL"] if bw.has("--cap-drop") else []
        args += ["--hostname", "sandbox"] if bw.has("--hostname") else []
        if bw.has("--clearenv"):  # older ones inherit the launcher's environment, which is _env() already
            args += ["--clearenv"]
            for name, value in _env().items():
                args += ["--setenv", name, value]
        args += _system_args() + ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
        # the private /tmp first: an environment that lives under /tmp is then bound on top of it
        for target in ("/tmp", "/dev/shm"):
            args += (["--size", str(limits.tmp_bytes)] if bw.has("--size") else []) + ["--tmpfs", target]
        for path in binds:
            args += ["--ro-bind", path, path]
        args += _masks(binds, self.hidden, empty or box)
        args += ["--ro-bind", str(box), "/box", "--chdir", "/tmp"]
        args += ["--json-status-fd", str(status_fd)] if status_fd is not None and bw.has("--json-status-fd") else []
        args += ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        return [*args, "--", sys.executable, *runner, "/box/sandbox_runner.py"]

    def launch(self, box, limits, status_fd=None, cgroup=None, empty=None):
        """``(argv, fds to pass)`` for ``subprocess``: the launcher (fresh keyring, the box's cgroup, the sandbox
        user) that becomes bwrap; the caller closes the returned fds after starting it."""
        if not self.sandboxed:
            return self.command(box, limits), ()
        seccomp_fd = self.filter.open_fd() if self.filter else None
        if seccomp_fd is not None:
            os.set_inheritable(seccomp_fd, True)
        argv = self.command(box, limits, status_fd, seccomp_fd, empty)
        spec = {
            "argv": [*(cgroup.argv_prefix if cgroup else []), *argv],
            "procs": list(cgroup.procs_files) if cgroup else [],
            "user": list(self.user[:2]) if self.user else None,
        }
        if self.student is not None:  # no bwrap: the launcher loads the filter, in the student's own folder
            spec.update(seccomp_fd=seccomp_fd, home=str(_home(box)))
        return [sys.executable, "-I", "-S", str(HERE / "launcher.py"), json.dumps(spec)], tuple(filter(None, [seccomp_fd]))

    def exclusive(self):
        """Container mode: one sandbox at a time (the kill after it reaches every process of the student user)."""
        return self.lock if self.student is not None else contextlib.nullcontext()

    def reap(self):
        """Container mode: kill every process of the student user (``OSError`` if some survive); else nothing."""
        if self.student is not None:
            container.reap(self.student)

    def close(self):
        if self.filter:
            self.filter.remove()
        if self.cgroup_plan:
            self.cgroup_plan.close()


def _home(box):
    """Container mode: the student's writable folder for ``box`` (made by the launcher, beside the box)."""
    return box.parent / f"{box.name}.home"


def _reachable(path, user):
    """Whether ``user`` ((uid, gid, name)) may traverse every folder down to ``path``."""
    uid, gid = user[0], user[1]
    current = Path(path).resolve()
    for folder in [current, *current.parents]:
        try:
            st = folder.stat()
        except OSError:
            return False
        bit = 0o100 if st.st_uid == uid else 0o010 if st.st_gid == gid else 0o001
        if not st.st_mode & bit:
            return False
    return True


def work_base(isolation):
    """Where the boxes are written: the grader's temporary folder, unless the sandbox user (as root) cannot reach
    it (a TMPDIR inside a 0700 home): then the first shared temporary folder it can reach."""
    base = tempfile.gettempdir()
    if not (isolation.sandboxed and isolation.user) or _reachable(base, isolation.user):
        return base
    for shared in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(shared) and _reachable(shared, isolation.user):
            return shared
    raise SandboxUnavailable(f"no temporary folder that the sandbox user {isolation.user[2]!r} can reach (TMPDIR={base})")


def run_script(isolation, limits, code, timeout=180):
    """Run the Python ``code`` as the runner of one sandbox (a probe, or a test's attack); the finished process
    (``returncode``, ``stdout``, ``stderr`` as bytes). Raises ``OSError``/``SubprocessError`` if it cannot start."""
    box = Path(tempfile.mkdtemp(prefix="ddpm-probe-", dir=work_base(isolation)))
    fds, cgroup = (), None
    try:
        box.chmod(0o755)
        (box / "sandbox_runner.py").write_text(code)
        (box / "sandbox_runner.py").chmod(0o644)
        cgroup = _new_cgroup(_box_plan(isolation), f"probe-{box.name[-8:]}", [])
        with isolation.exclusive():
            argv, fds = isolation.launch(box, limits, cgroup=cgroup)
            try:
                return subprocess.run(argv, capture_output=True, timeout=timeout, cwd="/", env=_env(), pass_fds=fds)
            finally:
                isolation.reap()  # container mode: nothing of the student user outlives the script
    finally:
        for fd in fds:
            os.close(fd)
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(box, ignore_errors=True)
        shutil.rmtree(_home(box), ignore_errors=True)


def _box_plan(isolation):
    plan = isolation.cgroup_plan if isolation.sandboxed else None
    return plan if plan is not None and plan.available else None


def _new_cgroup(plan, name, events):
    """The box's cgroup, or None (no plan, or it could not be made: the rlimits still hold, and ``events`` says so)."""
    if plan is None:
        return None
    try:
        return plan.new_box(name)
    except OSError as error:
        events.append(f"no cgroup for this sandbox ({error}): per-process limits only")
        return None


def _run_probe(isolation, limits, code):
    """``""`` when ``code`` ran in a sandbox and exited 0, else the last line it printed."""
    try:
        done = run_script(isolation, limits, code)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{type(error).__name__}: {error}"
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return next((line for line in reversed(lines) if not line.startswith("{")), f"exit code {done.returncode}")
    return ""


def _sandbox_user(user_name):
    """As root: ``(uid, gid, name)`` of the unprivileged user the sandbox runs as; ``SandboxUnavailable`` if none."""
    try:
        entry = pwd.getpwnam(user_name) if user_name else None
    except KeyError:
        entry = None
    if entry is None or entry.pw_uid == 0 or entry.pw_gid == 0:
        raise SandboxUnavailable(
            f"grading as root, the sandbox needs an unprivileged --sandbox-user, and {user_name!r} is "
            f"{'root' if entry else 'not a user here'}: name one (default: nobody), or grade as an ordinary user"
        )
    return (entry.pw_uid, entry.pw_gid, entry.pw_name)


def _root_hint(user, problem):
    return (
        f"grading as root, the sandbox runs as user {user[2]!r} (uid {user[0]}), and it could not start {sys.executable} "
        f"there ({problem}); the grader never runs student code as root, mapped or not. If that user cannot read the "
        "interpreter (a venv or pyenv under /root or a 0700 home), grade as an ordinary user with a Python that user "
        "owns (e.g. `python3 -m venv ~/ddpm && ~/ddpm/bin/pip install -r requirements-dev.txt`, then "
        "`~/ddpm/bin/python -m autograder grade …` without sudo), or install the course's Python where every user can "
        f"read it, or give --sandbox-user a user that can run it. Otherwise: {ENABLE_HINT}"
    )


def detect(hidden=(), user_name="nobody", unsafe=False, limits=None, mode=BUBBLEWRAP):
    """The sandbox this machine allows; ``SandboxUnavailable`` when it allows none (and not ``unsafe``).

    ``hidden``: folders masked even if an allowed bind contains them (the course, the submissions).
    ``mode``: ``"bubblewrap"`` (what a local ``grade`` uses, and nothing else), ``"container"`` (the harnesses:
    the container is the sandbox, see ``autograder.container``), ``"auto"`` (bubblewrap where it starts here,
    else the container; the reason is in the report)."""
    limits = limits or Limits()
    hidden = tuple(str(p) for p in (ROOT, *hidden))
    if unsafe:
        return Isolation(None, None, [], hidden)
    if mode not in MODES:
        raise ValueError(f"isolation mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == CONTAINER:
        return _detect_container(hidden, limits)
    if mode == AUTO:
        try:
            return _detect_bubblewrap(hidden, user_name, limits)
        except SandboxUnavailable as error:
            isolation = _detect_container(hidden, limits, f"{error}"[:300])
            return isolation
    return _detect_bubblewrap(hidden, user_name, limits)


def _detect_container(hidden, limits, why_not_bubblewrap=""):
    """Container mode, after a probe as the student user: the interpreter and torch start, the course cannot be read."""
    try:
        student = container.student_user()
    except container.ContainerUnavailable as error:
        also = f" (and bubblewrap: {why_not_bubblewrap})" if why_not_bubblewrap else ""
        raise SandboxUnavailable(f"{error}{also}") from None
    try:
        rules = syscall_filter.build(refuse_network=True)
    except syscall_filter.FilterUnavailable as error:
        raise SandboxUnavailable(f"{error}; without a seccomp filter student code does not run") from None
    plan = cgroups.detect(limits.box_memory_bytes, limits.processes, limits.cpu_weight)
    isolation = Isolation(None, student.as_tuple(), [], hidden, rules, plan, student, why_not_bubblewrap)
    problem = _run_probe(isolation, limits, container.probe_code(list(hidden)))
    if problem:
        isolation.close()
        raise SandboxUnavailable(
            f"container mode: the student user {student.name!r} (uid {student.uid}) could not run the grader's Python "
            f"{sys.executable} with nothing of the course readable ({problem}). The interpreter and its packages must be "
            f"readable by every user, outside the course; the course readable by root only "
            f"(as root: `{container.setup_lines(str(ROOT)).strip().splitlines()[-1]}`)"
        )
    return isolation


def _detect_bubblewrap(hidden, user_name, limits):
    bw = bubblewrap()
    user = _sandbox_user(user_name) if os.getuid() == 0 else None
    try:
        rules = syscall_filter.build()
    except syscall_filter.FilterUnavailable as error:
        raise SandboxUnavailable(f"{error}; without a seccomp filter student code does not run") from None
    plan = cgroups.detect(limits.box_memory_bytes, limits.processes, limits.cpu_weight)
    isolation = Isolation(bw, user, [], hidden, rules, plan)
    # without cgroups the report's isolation line says so (plan.describe()); rows are not flagged for the machine
    # a hidden folder may appear only as the way to an allowed bind (the venv inside the course)
    binds = _python_paths()
    allowed = {
        p: sorted({b[len(p) :].strip("/").split("/")[0] for b in binds if b.startswith(p.rstrip("/") + "/")}) for p in hidden
    }
    probe = (
        "import os, numpy, torch\n"
        f"for p, allowed in {allowed!r}.items():\n"
        "    seen = set(os.listdir(p)) if os.path.isdir(p) else set()\n"
        "    assert seen <= set(allowed), f'{p} is visible: {sorted(seen)}'\n"
    )
    problem = _run_probe(isolation, limits, probe)
    if problem:
        isolation.close()
        if user is not None:
            raise SandboxUnavailable(_root_hint(user, problem))
        raise SandboxUnavailable(f"bubblewrap {bw.version} cannot start a sandbox here ({problem}): {ENABLE_HINT}")
    return isolation


# ----------------------------------------------------------------------------- one sandbox process


def _env():
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


def read_npz(data):
    """Plain arrays from untrusted ``.npz`` bytes: no pickle, bounded size."""
    if len(data) > MAX_OUTPUT_BYTES:
        raise ValueError("output too large")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_OUTPUT_BYTES:
            raise ValueError("output too large once decompressed")
    out = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        for key in arrays.files:
            value = arrays[key]
            out[key] = str(value) if value.dtype.kind == "U" else np.array(value)
    return out


class _Process:
    """One sandbox process: a line protocol on its stdout, ``RESULT`` frames with bytes."""

    def __init__(self, box, limits, isolation, cgroup=None, empty=None):
        status_r, status_w = os.pipe() if isolation.bwrap is not None else (None, None)
        fds = ()
        try:
            argv, fds = isolation.launch(box, limits, status_w, cgroup, empty)
            self.proc = subprocess.Popen(
                argv,
                cwd="/",
                env=_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(fd for fd in (status_w, *fds) if fd is not None),
                start_new_session=True,
            )
        except BaseException:
            if status_r is not None:
                os.close(status_r)
            raise
        finally:
            for fd in (status_w, *fds):
                if fd is not None:
                    os.close(fd)
        self.status_fd = status_r
        self.cgroup = cgroup
        self.init_pid = None
        self.buffer = b""
        self.current_import = None
        self.stderr_tail = bytearray()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr_tail += chunk
            del self.stderr_tail[:-STDERR_TAIL]

    def _read_init_pid(self):
        """The PID (outside) of the sandbox's init: killing it kills its whole PID namespace."""
        if self.status_fd is None or self.init_pid is not None:
            return
        ready, _, _ = select.select([self.status_fd], [], [], 0)
        if ready:
            data = os.read(self.status_fd, 4096)
            try:
                self.init_pid = int(json.loads(data.split(b"\n")[0])["child-pid"])
            except (ValueError, KeyError, IndexError):
                pass

    def send(self, message):
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def _fill(self, deadline):
        """Read more bytes; False on timeout or when the process closed its stdout."""
        self._read_init_pid()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not ready:
            return self.proc.poll() is None or self._fill(min(deadline, time.monotonic()))
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def expect(self, word, task=None, deadline=0.0):
        """The first line ``word [task] ...`` (with its frame for ``RESULT``); None on timeout or death.

        Lines and frames that are not what was asked for at this moment are dropped."""
        while True:
            while b"\n" in self.buffer:
                line, rest = self.buffer.split(b"\n", 1)
                words = line.decode("utf-8", "replace").split(" ", 2)
                if words[0] == "RESULT" and len(words) == 3 and words[2].isdigit():
                    size = int(words[2])
                    if size > MAX_OUTPUT_BYTES:
                        return None
                    while len(rest) < size:
                        self.buffer = line + b"\n" + rest
                        if not self._fill(deadline):
                            return None
                        rest = self.buffer.split(b"\n", 1)[1]
                    self.buffer = rest[size:]
                    if word == "RESULT" and words[1] == task:
                        return rest[:size]
                    continue
                self.buffer = rest
                if words[0] == "IMPORT" and len(words) > 1:
                    self.current_import = words[1].strip()
                if words[0] == word and word != "RESULT":
                    return " ".join(words[1:])
            if len(self.buffer) > MAX_LINE_BYTES:
                self.buffer = b""
            if not self._fill(deadline):
                return None

    def kill(self):
        self._read_init_pid()
        for pid in (self.init_pid, self.proc.pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.status_fd is not None:
            os.close(self.status_fd)
            self.status_fd = None

    def describe_death(self):
        code = self.proc.poll()
        if code is not None and self.cgroup is not None and self.cgroup.oom_killed():
            return "killed: out of the box's memory limit"
        if code is None:
            return "no answer"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            return f"killed by {name}" + (" (CPU time limit)" if name == "SIGXCPU" else "")
        return f"exited with code {code}"


# ----------------------------------------------------------------------------- the box


def _write_box(box, helpers, stubs, inputs, limits, stubbed):
    """The read-only ``/box``: written here, by the grader, from texts and bytes (never by copying paths)."""
    box.mkdir(mode=0o755)
    for folder in ("helpers", "stubs", "inputs"):
        (box / folder).mkdir(mode=0o755)
    for name, data in helpers.items():
        (box / "helpers" / name).write_bytes(data)
    for name, text in stubs.items():
        (box / "stubs" / f"{name}.py").write_text(text)
    for name, data in inputs.items():
        (box / "inputs" / f"{name}.npz").write_bytes(data)
    shutil.copyfile(BOX_FILES / "sandbox_runner.py", box / "sandbox_runner.py")
    shutil.copyfile(BOX_FILES / "standins.py", box / "standins.py")
    shutil.copyfile(BOX_FILES / "calls.py", box / "calls.py")
    job = {
        "modules": list(MODULES),
        "stubbed": sorted(stubbed),
        "limits": {
            "cpu": limits.cpu_seconds,
            "memory": limits.memory_bytes,
            "file": limits.file_bytes,
            "import_seconds": limits.import_seconds,  # the runner leaves time for its clean-import comparison
        },
        "processes": limits.processes,
    }
    (box / "job.json").write_text(json.dumps(job))
    for path in [box, *box.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _call(task):
    """How the runner calls the student for ``task``: its call spec (``autograder/sandbox/box/calls.py``), else None."""
    return getattr(task, "call", None)


def run_student(helpers, stubs, inputs, tasks, dep_sources, limits, isolation):
    """Run ``tasks`` (``hidden_tests.Task``-like: ``name``, ``deps``) on one student's code.

    ``helpers``: ``{file name: bytes}`` of the sandbox's ``helpers/`` package; ``stubs``: ``{module: text}``
    (used for a module that does not import); ``inputs``: ``{task: npz bytes}``.
    Returns ``(results, import_info, events, stderr)``: ``results[task] = {"status", "detail", "outputs"}``,
    ``import_info = {"errors": {module: message}, "replaced": {module: [names]}}``, ``events``: lines about
    time-outs and crashes, ``stderr``: the tail of what the student's code printed."""
    workdir = Path(tempfile.mkdtemp(prefix="ddpm-sbx-", dir=work_base(isolation)))
    workdir.chmod(0o711)  # the unprivileged sandbox user may traverse to its box, not list it
    out = _Outcome()
    empty = workdir / "empty"  # what a hidden folder inside an allowed bind looks like
    empty.mkdir(mode=0o755)
    empty.chmod(0o755)
    plan = _box_plan(isolation)
    with isolation.exclusive():
        try:
            _run_boxes(workdir, (helpers, stubs, inputs, dep_sources), list(tasks), limits, isolation, plan, out)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return out.results, out.import_info, out.events, bytes(out.stderr[-STDERR_TAIL:]).decode("utf-8", "replace")


@dataclass
class _Outcome:
    """What one student's sandboxes gave: ``run_student``'s answer, filled box by box."""

    results: dict = field(default_factory=dict)
    import_info: dict = field(default_factory=lambda: {"errors": {}, "replaced": {}})
    events: list = field(default_factory=list)
    stderr: bytearray = field(default_factory=bytearray)


def _run_boxes(workdir, job, pending, limits, isolation, plan, out):
    """The sandbox processes of one student, a fresh one after each crash or time-out (``run_student``'s loop)."""
    helpers, stubs, inputs, dep_sources = job
    results, import_info, events = out.results, out.import_info, out.events
    restarts, stubbed = 0, set()
    empty = workdir / "empty"
    while pending and restarts <= limits.max_restarts:
        box = workdir / f"box{restarts}"
        _write_box(box, helpers, stubs, inputs, limits, stubbed)
        cgroup = _new_cgroup(plan, f"{workdir.name}-{restarts}", events)
        proc = _Process(box, limits, isolation, cgroup, empty)
        try:
            ready = proc.expect("READY", deadline=time.monotonic() + limits.import_seconds)
            if ready is None:
                module = proc.current_import
                why = "timed out" if proc.proc.poll() is None else proc.describe_death()
                restarts += 1
                if module in MODULES and module not in stubbed:
                    stubbed.add(module)
                    import_info["errors"][module] = f"importing helpers/{module}.py {why}"
                    events.append(f"import of helpers/{module}.py {why}: replaced by the stub")
                    continue
                events.append(f"sandbox could not start ({why})")
                break
            try:
                info = json.loads(ready)
                for module, message in dict(info.get("errors", {})).items():
                    import_info["errors"].setdefault(str(module), str(message))
                for module, names in dict(info.get("replaced", {})).items():
                    import_info["replaced"].setdefault(str(module), [str(n) for n in list(names)[:20]])
            except (ValueError, TypeError, AttributeError):
                pass
            while pending:
                task = pending[0]
                start = time.monotonic()
                sent = proc.send({"run": task.name, "deps": {dep: dep_sources[dep] for dep in task.deps}, "call": _call(task)})
                frame = proc.expect("RESULT", task.name, start + limits.task_seconds) if sent else None
                if frame is not None:
                    try:
                        results[task.name] = {"status": "ok", "detail": "", "outputs": read_npz(frame)}
                    except Exception as error:
                        results[task.name] = {"status": "error", "detail": f"unreadable output: {error}", "outputs": {}}
                    pending.pop(0)
                    continue
                timed_out = proc.proc.poll() is None and time.monotonic() - start >= limits.task_seconds
                proc.kill()
                if timed_out:
                    status, detail = "timeout", f"no answer within {limits.task_seconds:g} s (infinite loop?)"
                else:
                    status, detail = "crashed", proc.describe_death()
                results[task.name] = {"status": status, "detail": detail, "outputs": {}}
                events.append(f"{task.name}: {status} ({detail})")
                pending.pop(0)
                restarts += 1
                break  # a fresh process for the remaining tasks
            else:
                proc.send({"exit": True})
        finally:
            proc.kill()
            if cgroup is not None:
                cgroup.remove()  # whatever the student left running in the box goes with it
            isolation.reap()  # container mode: every process of the student user, before the next box
            out.stderr += proc.stderr_tail
            shutil.rmtree(box, ignore_errors=True)
            shutil.rmtree(_home(box), ignore_errors=True)
    for task in pending:
        results.setdefault(task.name, {"status": "not run", "detail": "sandbox gave up", "outputs": {}})
