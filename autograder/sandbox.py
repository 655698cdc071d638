"""Run one student's exercises in an isolated, unprivileged, resource-limited process.

Trusted side. The sandbox process (``sandbox_runner.py``) gets a private copy of the
student's ``helpers/``, the public stubs, the task inputs and the public stand-ins:
never ``solutions/``, the hidden tests, reference outputs or other students' work.
As root it runs as ``nobody`` (``--sandbox-user``) with ``setsid`` and rlimits on CPU
time, address space, file size and processes; ``python -I`` keeps the repository,
``PYTHONPATH`` and user site-packages off ``sys.path``. A watchdog gives each task a
wall-clock budget; when the process hangs or dies, it is killed and a fresh one runs
the remaining tasks, so an infinite loop costs exactly the exercise it is in.
"""

import json
import os
import pwd
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def exercise_modules():
    """The helpers modules that hold exercises, in course order (from the solution regions)."""
    from . import stubs

    return tuple(dict.fromkeys(stubs.exercises().values()))


MODULES = exercise_modules()
MAX_OUTPUT_BYTES = 200 * 1024 * 1024
STUDENT_UID_BASE = 2_000_000  # far above regular and system users: each graded student gets one


def kill_uid(uid):
    """SIGKILL every process running as ``uid`` (a per-student uid: only that student's leftovers)."""
    if uid is None or uid < STUDENT_UID_BASE:
        return 0
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        line = next((x for x in status.splitlines() if x.startswith("Uid:")), "")
        if line.split()[1:2] == [str(uid)]:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


@dataclass
class Limits:
    task_seconds: float = 30.0  # wall clock per task
    import_seconds: float = 60.0  # wall clock to import torch and the student's modules
    cpu_seconds: int = 300  # RLIMIT_CPU of one sandbox process
    memory_bytes: int = 8 << 30  # RLIMIT_AS (torch alone maps ~3.3 GB of address space)
    file_bytes: int = 256 << 20  # RLIMIT_FSIZE
    max_restarts: int = 12


def sandbox_user(name="nobody"):
    """(uid, gid) to run untrusted code as, or None when we cannot switch users (not root)."""
    if os.geteuid() != 0 or not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _probe(user, limits, mask, stage, check, net=False):
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", check],
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
            preexec_fn=_preexec(limits, user, mask, stage, net),
            capture_output=True,
            timeout=180,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"{type(error).__name__}: {error}"
    if done.returncode != 0:
        return " ".join(done.stderr.decode(errors="replace").strip().splitlines()[-1:])
    return ""


@dataclass
class Isolation:
    """How sandboxes of this run are isolated; ``describe()`` goes into the grading report."""

    user: tuple = None  # (uid, gid) or None: same user as the grader
    mask: tuple = None  # paths hidden by a private mount namespace, or None: no namespace
    notes: str = ""
    net: bool = False  # sandbox processes get an empty network namespace (no network at all)

    def for_student(self, index, role=0):
        """The same isolation with a uid of its own (``STUDENT_UID_BASE + 2 * index + role``; role 0:
        sandbox, 1: nbgrader kernel): concurrent students cannot signal, trace or read each other,
        and leftovers can be killed by uid."""
        if self.user is None:
            return self
        uid = STUDENT_UID_BASE + 2 * int(index) + int(role)
        return Isolation((uid, uid), self.mask, self.notes, self.net)

    def describe(self):
        who = f"uid {self.user[0]}" if self.user else "the grader's own user"
        ns = (
            f"a private mount namespace hiding {', '.join(map(str, self.mask))}"
            if self.mask is not None
            else "no mount namespace"
        )
        ns += ", and no network" if self.net else ""
        return f"sandbox runs as {who}, with {ns}" + (f" ({self.notes})" if self.notes else "")


def choose_isolation(user_name, mask, limits=None, stage=None):
    """The strongest isolation this machine allows: namespace + unprivileged user, else
    unprivileged user alone, else none (stated in the report). Probed once per run."""
    limits = limits or Limits()
    user = sandbox_user(user_name)
    mask = tuple(str(Path(p).resolve()) for p in mask)
    if stage is None:
        stage = tempfile.mkdtemp(prefix="ddpm-stage-")
    check = (
        "import os, numpy, torch\n"
        f"for p in {[p for p in mask if Path(p).is_dir()]!r}:\n"
        "    try:\n        assert not os.listdir(p), p + ' is visible'\n"
        "    except PermissionError:\n        pass\n"
    )
    notes = []
    if user is not None:
        problem = _probe(user, limits, mask, stage, check)
        if not problem:
            no_net = not _probe(user, limits, mask, stage, "import socket; socket.socket()", net=True)
            return Isolation(user, mask, "" if no_net else "network namespace unavailable", no_net)
        notes.append(f"namespace unavailable: {problem}")
        problem = _probe(user, limits, None, None, "import numpy, torch")
        if not problem:
            return Isolation(user, None, "; ".join(notes))
        notes.append(f"user {user_name!r} cannot run {sys.executable}: {problem}")
    elif user_name:
        notes.append("not root: cannot switch to an unprivileged user")
    return Isolation(None, None, "; ".join(notes))


_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000


def _mount(source, target, fstype, flags, data=None):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    enc = lambda v: None if v is None else str(v).encode()  # noqa: E731
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _blocked_ancestors(path, uid, gid):
    """Directories on the way to ``path`` that ``uid`` cannot traverse: [(dir, child on the path)]."""
    parts = Path(path).parts
    blocked = []
    for i in range(0, len(parts) - 1):
        directory = Path(*parts[: i + 1])
        st = directory.stat()
        mode = st.st_mode
        can = (mode & 0o001) or (st.st_gid == gid and mode & 0o010) or (st.st_uid == uid and mode & 0o100)
        if not can:
            blocked.append((directory, Path(*parts[: i + 2])))
    return blocked


def _needed_paths():
    """What the sandbox must reach: the interpreter, the environment (venv) and its packages."""
    paths = {os.path.realpath(sys.executable), os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    paths |= {os.path.realpath(p) for p in sys.path if p and "-packages" in p and os.path.isdir(p)}
    return sorted(paths)


def _isolate(mask, user, stage, net=False):
    """In the child, before exec: a private mount namespace where ``mask`` paths are empty
    read-only tmpfs and the interpreter is reachable by ``user`` even under a private home."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS | (_CLONE_NEWNET if net else 0)) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    if user is not None:
        uid, gid = user
        blocked = {}  # directory the user cannot traverse -> the children on the way to what it needs
        for needed in _needed_paths():
            for directory, child in _blocked_ancestors(needed, uid, gid):
                blocked.setdefault(directory, set()).add(child)
        index = 0
        for directory in sorted(blocked, key=lambda d: len(d.parts)):
            staged = []
            for child in sorted(blocked[directory]):
                target = Path(stage) / f"s{index}"
                index += 1
                target.mkdir(exist_ok=True) if child.is_dir() else target.touch()
                _mount(child, target, None, _MS_BIND | _MS_REC)
                staged.append((child, target))
            _mount("tmpfs", directory, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=755")
            for child, target in staged:
                place = directory / child.name
                place.mkdir() if target.is_dir() else place.touch()
                _mount(target, place, None, _MS_BIND | _MS_REC)
    for path in mask:
        if Path(path).is_dir():
            _mount("tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=4k,mode=000")


def _preexec(limits, user, mask=None, stage=None, net=False):
    def apply():
        os.setsid()
        if mask is not None:
            _isolate(mask, user, stage, net)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if user is not None:
            uid, gid = user
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))

    return apply


def read_npz(path):
    """Plain arrays from an untrusted ``.npz``: no pickle, bounded size."""
    path = Path(path)
    if path.stat().st_size > MAX_OUTPUT_BYTES:
        raise ValueError("output file too large")
    with zipfile.ZipFile(path) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_OUTPUT_BYTES:
            raise ValueError("output file too large once decompressed")
    out = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            value = data[key]
            out[key] = str(value) if value.dtype.kind == "U" else np.array(value)
    return out


class _Process:
    """One sandbox process and its line protocol."""

    def __init__(self, box, stderr_file, limits, isolation, stubbed):
        (box / "job.json").write_text(json.dumps({"modules": list(MODULES), "stubbed": sorted(stubbed)}))
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(box / "tmp"),
            "TMPDIR": str(box / "tmp"),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "CUDA_VISIBLE_DEVICES": "",
            "TQDM_DISABLE": "1",
            "LANG": "C.UTF-8",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "sandbox_runner.py"],
            cwd=box,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            preexec_fn=_preexec(limits, isolation.user, isolation.mask, box.parent / "stage", isolation.net),
            close_fds=True,
        )
        self.buffer = b""
        self.current_import = None

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def expect(self, prefix, deadline):
        """The first protocol line starting with ``prefix``; None on timeout or death."""
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                if text.startswith("IMPORT "):
                    self.current_import = text.split(" ", 1)[1].strip()
                if text.startswith(prefix):
                    return text
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None  # the process closed stdout: it died
                self.buffer = (self.buffer + chunk)[-(1 << 20) :]
            elif self.proc.poll() is not None:
                return None

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def describe_death(self):
        code = self.proc.poll()
        if code is None:
            return "no answer"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return f"killed by {name}" + (" (CPU time limit)" if name == "SIGXCPU" else "")
        return f"exited with code {code}"


def _copy_into(box, helpers_files, stubs, inputs_dir, user):
    """Lay out the sandbox directory; returns nothing. ``helpers_files``: {name: source path}."""
    box.mkdir()
    (box / "helpers").mkdir()
    for name, src in helpers_files.items():
        shutil.copyfile(src, box / "helpers" / name)
    (box / "stubs").mkdir()
    for name, text in stubs.items():
        (box / "stubs" / f"{name}.py").write_text(text)
    shutil.copytree(inputs_dir, box / "inputs")
    shutil.copyfile(HERE / "sandbox_runner.py", box / "sandbox_runner.py")
    shutil.copyfile(HERE / "standins.py", box / "standins.py")
    for sub in ("deps", "outputs", "tmp"):
        (box / sub).mkdir()
    for path in [box, *box.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
        if user is not None:
            os.chown(path, *user)


def run_student(helpers_files, stubs, inputs_dir, tasks, dep_sources, limits=None, isolation=None, log=None):
    """Run ``tasks`` (a list of ``hidden_tests.Task``) on one student's helpers.

    Returns ``(results, import_errors, events)``: ``results[task] = {"status", "detail", "outputs"}``,
    ``import_errors[module] = message`` and ``events``: human-readable lines (timeouts, crashes).
    """
    limits = limits or Limits()
    isolation = isolation or Isolation()
    user = isolation.user
    workdir = Path(tempfile.mkdtemp(prefix="ddpm-sbx-"))
    workdir.chmod(0o711)  # others may traverse to the box (random name) but not list it
    (workdir / "stage").mkdir()
    box = workdir / secrets.token_hex(16)
    results, import_errors, events, stubbed = {}, {}, [], set()
    try:
        _copy_into(box, helpers_files, stubs, inputs_dir, user)
        pending = list(tasks)
        restarts = 0
        with open(workdir / "stderr.log", "wb") as stderr_file:
            while pending and restarts <= limits.max_restarts:
                proc = _Process(box, stderr_file, limits, isolation, stubbed)
                try:
                    ready = proc.expect("READY", time.monotonic() + limits.import_seconds)
                    if ready is None:
                        module = proc.current_import
                        why = "timed out" if proc.proc.poll() is None else proc.describe_death()
                        restarts += 1
                        if module and module not in stubbed:
                            stubbed.add(module)
                            import_errors[module] = f"importing helpers/{module}.py {why}"
                            events.append(f"import of helpers/{module}.py {why}: replaced by the stub")
                            continue
                        events.append(f"sandbox could not start ({why})")
                        break
                    for module, message in json.loads(ready.split(" ", 1)[1]).items():
                        import_errors.setdefault(module, message)
                    while pending:
                        task = pending[0]
                        out_file = box / "outputs" / f"{task.name}.npz"
                        if out_file.exists():
                            out_file.unlink()
                        for dep in task.deps:
                            dep_file = box / "deps" / f"{dep}.py"
                            dep_file.write_text(dep_sources[dep])
                            dep_file.chmod(0o600)
                            if user is not None:
                                os.chown(dep_file, *user)
                        start = time.monotonic()
                        ok = proc.send(" ".join(["RUN", task.name, *task.deps]))
                        done = ok and proc.expect(f"DONE {task.name}", start + limits.task_seconds)
                        if done:
                            try:
                                outputs = read_npz(out_file)
                                results[task.name] = {"status": "ok", "detail": "", "outputs": outputs}
                            except Exception as error:
                                results[task.name] = {"status": "error", "detail": f"unreadable output: {error}", "outputs": {}}
                            pending.pop(0)
                            continue
                        alive = proc.proc.poll() is None
                        if alive and time.monotonic() - start >= limits.task_seconds:
                            status, detail = "timeout", f"no answer within {limits.task_seconds:g} s (infinite loop?)"
                        else:
                            proc.kill()
                            status, detail = "crashed", proc.describe_death()
                        results[task.name] = {"status": status, "detail": detail, "outputs": {}}
                        events.append(f"{task.name}: {status} ({detail})")
                        pending.pop(0)
                        restarts += 1
                        break  # a fresh process for the remaining tasks
                    else:
                        proc.send("EXIT")
                        proc.expect("\0never", time.monotonic() + 2)
                finally:
                    proc.kill()
        for task in pending:
            results.setdefault(task.name, {"status": "not run", "detail": "sandbox gave up", "outputs": {}})
        if log is not None:
            log.write_bytes((workdir / "stderr.log").read_bytes()[-200_000:])
    finally:
        if user is not None:
            kill_uid(user[0])
        shutil.rmtree(workdir, ignore_errors=True)
    return results, import_errors, events
