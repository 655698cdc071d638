"""Memory, process and CPU limits for a whole sandbox through cgroups, where the machine allows them. Trusted side.

Why: rlimits are per process. ``RLIMIT_AS`` lets N processes map N times the limit, and
``RLIMIT_NPROC`` counts every process of the uid, not the box. A cgroup holds every
process of one sandbox, so its memory, task count and CPU share bind the box as a whole
(contract §6.3), and an OOM kill inside it never picks a process outside it.

What this machine allows is found once per run by :func:`detect`, in this order:

(a) cgroup v2 (``cgroup2fs`` at ``/sys/fs/cgroup``): the grader's own cgroup (``0::/path`` in
    ``/proc/self/cgroup``) when it is delegated to the grader (writable, ``memory`` and
    ``pids`` in ``cgroup.controllers``), else the nearest writable ancestor that already
    gives its children ``memory`` and ``pids``. v2 forbids processes in a group that
    enables controllers for its children ("no internal processes"), so in its own group
    the grader first moves itself into a leaf ``<own>/ddpm-grader-<pid>/grader``; the
    boxes are its siblings ``<own>/ddpm-grader-<pid>/box-<n>-<name>``. Root takes the
    same road (it needs no delegation, only a group it may use).
(b) cgroup v1 as root (or where the v1 ``memory`` and ``pids`` hierarchies are writable): a
    parent ``ddpm-grader-<pid>`` under the grader's own group in each of ``memory``,
    ``pids`` and (when mounted) ``cpu``; boxes are its children.
(c) ``systemd-run --user --scope`` on a v2 machine whose user manager answers: each box is
    an argv prefix (a transient scope with ``MemoryMax``, ``TasksMax``, ``CPUWeight``).
(d) none: the plan says why, and the report says that memory and process limits are
    per process (rlimits).

A launcher (the process that execs ``bwrap``) calls :func:`join` with ``Box.procs_files``
before it execs, as the grader's uid (it may drop to the sandbox user afterwards: the
sandbox user never needs, and never gets, write access to any cgroup file). Every later
process of the sandbox is then inside the box. The sandbox does not see ``/sys``, so
student code cannot raise its own limits even where the box belongs to the grader's uid.

What counts against a box: ``pids.max`` counts threads (like ``RLIMIT_NPROC``) and bwrap's
own two processes; the memory limit counts page cache and the private ``/tmp`` and
``/dev/shm`` (tmpfs pages are charged to the box that writes them), so size it above what
the code needs plus both tmpfs sizes. On v2 in its own group, :func:`detect` moves the
grader process into a leaf: call it before the grader starts other processes (they would
keep the own group busy) and :meth:`Plan.close` at the end, which moves it back.

All paths are parameters (``root``, ``self_cgroup``) so both code paths are tested
against a fake tree; probing and cleaning never raise, and cleaning is idempotent.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
SELF_CGROUP = "/proc/self/cgroup"
PREFIX = "ddpm-grader"
REQUIRED = ("memory", "pids")  # without both, a box is no stronger than rlimits
CONTROLLERS = ("memory", "pids", "cpu")  # what v2 boxes get where the parent passes it down
PROBE_SECONDS = 0.5  # each systemd probe; detect() stays under a second
REMOVE_SECONDS = 3.0  # how long Box.remove() waits for the box to empty

NONE, V1, V2, SYSTEMD = "none", "v1", "v2", "systemd"


class CgroupError(OSError):
    """A box could not be created although the plan said cgroups are available."""


# ----------------------------------------------------------------------------- small file helpers


def _read(path: str) -> str | None:
    """The text of a cgroup file, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    """One write(2) of ``text``: cgroup files take one value per write, and report errors there."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)


def _try_write(path: str, text: str) -> bool:
    try:
        _write(path, text)
        return True
    except OSError:
        return False


def _keyed(text: str | None) -> dict:
    """``key value`` lines (memory.events, memory.oom_control, pids.events) as a dict of ints."""
    values = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def _pids(procs_file: str) -> list[int]:
    return [int(word) for word in (_read(procs_file) or "").split() if word.isdigit()]


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK)


def _mkdir(path: str, mode: int = 0o755) -> None:
    """mkdir one cgroup (module attributes, like _rmdir and _write, so that tests can fake the kernel)."""
    os.mkdir(path, mode)


def _rmdir(path: str) -> None:
    """rmdir one cgroup: the kernel removes its interface files with it."""
    os.rmdir(path)


def _signal_pids(procs_file: str) -> None:
    """SIGKILL every process listed in ``procs_file``, and only those.

    A PID read from the file may exit and be reused by an unrelated process before the
    signal; a pidfd pins the process, and the file is read again after the pidfds are open,
    so only a process that is still listed (still in the box) is signalled.
    """
    pidfds, plain = {}, []
    for pid in _pids(procs_file):
        try:
            pidfds[pid] = os.pidfd_open(pid)
        except AttributeError:
            plain.append(pid)
        except OSError as error:
            if error.errno == errno.ENOSYS:  # before Linux 5.3: a plain kill, re-checked just before
                plain.append(pid)
    try:
        still = set(_pids(procs_file))
        for pid, fd in pidfds.items():
            if pid in still:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except OSError:
                    pass
        for pid in plain:
            if pid in still:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    finally:
        for fd in pidfds.values():
            os.close(fd)


def join(procs_files: list[str], user: tuple[int, int] | None = None) -> None:
    """Move the calling process into every group of one box (the launcher, before it execs bwrap).

    Writes ``os.getpid()`` into each ``cgroup.procs``; children inherit the groups, so the whole
    sandbox stays inside. Raises OSError when a write fails: a launcher that could not join
    must not exec, or the box would run without the limits the report states.

    ``user=(uid, gid)``: drop to that user *after* joining (root grading with a sandbox user).
    Use this instead of ``subprocess.Popen(user=..., group=...)``: Popen switches uid before
    it calls ``preexec_fn``, and the sandbox user may not (and must not be able to) write the
    box's ``cgroup.procs``. Only os calls, so it is fit for a ``preexec_fn``.
    """
    pid = str(os.getpid())
    for path in procs_files:
        _write(path, pid)
    if user is not None:
        os.setgroups([])
        os.setgid(user[1])
        os.setuid(user[0])


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def _shares(weight: int) -> int:
    """cgroup v1 ``cpu.shares`` for a v2 ``cpu.weight`` (systemd's mapping: weight 100 = 1024 shares)."""
    return max(2, min(262144, round(weight * 1024 / 100)))


def _safe(name: str) -> str:
    """A box name fit for a directory or a unit name: student-chosen text never reaches a path as is."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:40].lstrip(".") or "box"


# ----------------------------------------------------------------------------- boxes


@dataclass
class Box:
    """One sandbox's cgroup(s) with the limits set.

    ``procs_files``: the ``cgroup.procs`` files the launcher writes its own PID into (see
    :func:`join`) before it execs bwrap; empty for systemd-run. ``argv_prefix``: put in front of
    the bwrap argv (systemd-run only; empty otherwise). Joining happens as the grader, before
    any drop to the sandbox user, so no chown is needed and the sandbox user owns nothing here.
    """

    name: str
    kind: str
    paths: list[str] = field(default_factory=list)  # the box directories (one per v1 hierarchy)
    procs_files: list[str] = field(default_factory=list)
    argv_prefix: list[str] = field(default_factory=list)
    unit: str = ""  # systemd-run: the transient scope's name
    removed: bool = False

    def _file(self, controller_file: str) -> str | None:
        """The box's ``memory.*``/``pids.*`` file (in the right v1 hierarchy), or None."""
        for path in self.paths:
            candidate = os.path.join(path, controller_file)
            if os.path.exists(candidate):
                return candidate
        return None

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed a process for the box's memory limit.

        v2: ``memory.events`` ``oom_kill``. v1: ``memory.oom_control`` ``oom_kill`` (kernel 4.13+),
        else ``memory.memsw.failcnt``/``memory.failcnt`` (the limit was hit, which at a
        no-swap limit ends in a kill). systemd-run: the scope's cgroup is gone once its last
        process exits, so this is False (unknown). Read before :meth:`remove`.
        """
        if self.kind == V2:
            return _keyed(_read(self._file("memory.events") or "")).get("oom_kill", 0) > 0
        if self.kind == V1:
            control = _keyed(_read(self._file("memory.oom_control") or ""))
            if "oom_kill" in control:
                return control["oom_kill"] > 0
            for name in ("memory.memsw.failcnt", "memory.failcnt"):
                count = _read(self._file(name) or "")
                if count and count.strip().isdigit():
                    return int(count) > 0
        return False

    def pids_limited(self) -> bool:
        """Whether a fork or clone in the box was refused by its task limit (``pids.events`` ``max``)."""
        if self.kind in (V1, V2):
            return _keyed(_read(self._file("pids.events") or "")).get("max", 0) > 0
        return False

    def remove(self, wait_seconds: float = REMOVE_SECONDS) -> bool:
        """Kill whatever is left in the box and remove its group(s). True when nothing is left.

        v2: ``cgroup.kill`` where the kernel has it (5.14+), else SIGKILL to each listed
        process; v1 the latter. Repeats until ``cgroup.procs`` is empty (a process that forks
        while being killed is caught on the next round; the task limit bounds the rounds), at
        most ``wait_seconds``. Idempotent; never raises.
        """
        if self.removed or self.kind not in (V1, V2):
            self.removed = True
            return True
        deadline = time.monotonic() + wait_seconds
        while True:
            busy = False
            for path in self.paths:
                procs = os.path.join(path, "cgroup.procs")
                if not _pids(procs):
                    continue
                busy = True
                kill = os.path.join(path, "cgroup.kill")
                if not (os.path.exists(kill) and _try_write(kill, "1")):
                    _signal_pids(procs)
            if not busy or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        left = False
        for path in self.paths:
            try:
                _rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                left = True
        self.removed = not left
        return not left


# ----------------------------------------------------------------------------- plans


@dataclass
class Plan:
    """What this machine allows for the current user, and the parent group(s) the boxes live in.

    ``kind`` is one of ``"v2"``, ``"v1"``, ``"systemd"``, ``"none"``; ``reason`` says why
    cgroups are not used (kind ``"none"``) or notes a weaker part (no cpu controller).
    :func:`detect` creates the parent(s) already (creating is the only reliable probe), so
    call :meth:`close` when grading ends (or use the plan as a context manager).
    """

    kind: str
    memory_bytes: int
    processes: int
    cpu_weight: int
    reason: str = ""
    parents: dict = field(default_factory=dict)  # v1: controller -> parent dir; v2: {"": parent dir}
    location: str = ""  # the parent's path inside the hierarchy, for the report
    swap_off: bool = False  # whether swap is limited to 0 as well
    cpu: bool = False  # whether the CPU weight is applied
    systemd_run: str = ""
    # v2, when the grader moved itself out of its own group to enable controllers there
    own_dir: str = ""
    own_enabled: list = field(default_factory=list)
    grader_leaf: str = ""
    grader_pid: int = 0
    boxes: list = field(default_factory=list)
    closed: bool = False
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def available(self) -> bool:
        """True when each sandbox gets whole-box limits (a cgroup or a systemd scope)."""
        return self.kind != NONE and not self.closed

    def describe(self) -> str:
        """One line for the report: which limits hold for the whole box, or why none do."""
        memory = _gib(self.memory_bytes) + (" (no swap)" if self.swap_off else "")
        if self.kind == V1:
            cpu = f"cpu shares {_shares(self.cpu_weight)}" if self.cpu else "no cpu controller"
            return f"cgroup v1 per sandbox: memory {memory}, {self.processes} tasks, {cpu}"
        if self.kind == V2:
            cpu = f"cpu weight {self.cpu_weight}" if self.cpu else "no cpu controller"
            return f"cgroup v2 per sandbox under {self.location}: memory {memory}, {self.processes} tasks, {cpu}"
        if self.kind == SYSTEMD:
            cpu = f"cpu weight {self.cpu_weight}" if self.cpu else "no cpu controller"
            return f"systemd-run --user --scope per sandbox: memory {memory}, {self.processes} tasks, {cpu}"
        return f"no cgroup limits ({self.reason}): memory and process limits are per process (rlimits)"

    def summary(self) -> str:
        """The short form each student's row carries."""
        return {V1: "cgroup v1", V2: "cgroup v2", SYSTEMD: "systemd scope"}.get(self.kind, "no cgroups")

    def new_box(self, name: str) -> Box:
        """Create one sandbox's group(s) with the limits set; raises CgroupError if that fails.

        v1: ``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes`` (if present: no swap),
        ``pids.max``, ``cpu.shares``. v2: ``memory.max``, ``memory.swap.max`` = 0 (if present),
        ``pids.max``, ``cpu.weight``. ``name`` is cleaned and numbered, so any text is safe
        and two boxes never share a group.
        """
        if not self.available:
            return Box(name=name, kind=NONE, removed=True)
        leaf = f"box-{next(self._numbers)}-{_safe(name)}"
        if self.kind == SYSTEMD:
            unit = f"{PREFIX}-{os.getpid()}-{leaf}"
            argv = [self.systemd_run, "--user", "--scope", "--quiet", "--collect", f"--unit={unit}"]
            for prop in (
                f"MemoryMax={self.memory_bytes}",
                "MemorySwapMax=0",
                f"TasksMax={self.processes}",
                f"CPUWeight={self.cpu_weight}",
            ):
                argv += ["-p", prop]
            box = Box(name=name, kind=SYSTEMD, argv_prefix=argv + ["--"], unit=unit)
            self.boxes.append(box)
            return box
        box = Box(name=name, kind=self.kind)
        self.boxes.append(box)
        try:
            for controller, parent in self.parents.items():
                path = os.path.join(parent, leaf)
                _mkdir(path, 0o755)
                box.paths.append(path)
                box.procs_files.append(os.path.join(path, "cgroup.procs"))
                for file, value, required in self._limits(controller):
                    target = os.path.join(path, file)
                    if os.path.exists(target):
                        _write(target, value)
                    elif required:
                        raise CgroupError(errno.ENOENT, f"{file} is missing in {path}")
        except OSError as error:
            box.remove(0.5)
            self.boxes.remove(box)
            if isinstance(error, CgroupError):
                raise
            raise CgroupError(error.errno or errno.EIO, f"cannot create the cgroup box {leaf}: {error}") from error
        return box

    def _limits(self, controller: str) -> list[tuple[str, str, bool]]:
        """(file, value, required) to write in one box directory, in an order the kernel accepts."""
        limits = []
        if self.kind == V1:
            if controller == "memory":
                # memsw is memory+swap and must stay >= the memory limit: memory first
                limits += [("memory.limit_in_bytes", str(self.memory_bytes), True)]
                limits += [("memory.memsw.limit_in_bytes", str(self.memory_bytes), False)]
            elif controller == "pids":
                limits += [("pids.max", str(self.processes), True)]
            elif controller == "cpu":
                limits += [("cpu.shares", str(_shares(self.cpu_weight)), False)]
        else:
            limits += [("memory.max", str(self.memory_bytes), True), ("memory.swap.max", "0", False)]
            limits += [("pids.max", str(self.processes), True)]
            if self.cpu:
                limits += [("cpu.weight", str(self.cpu_weight), False)]
        return limits

    def close(self) -> None:
        """Remove every box still there, the parent group(s), and undo the grader's own move (v2).

        Idempotent; never raises. What cannot be removed (a process that would not die) is left.
        """
        if self.closed:
            return
        self.closed = True
        for box in list(self.boxes):
            box.remove()
        self.boxes = [box for box in self.boxes if not box.removed]
        parent = self.parents.get("")
        if parent and self.own_enabled:
            # v2 lets a group hold processes again only once its children's controllers are off
            control = os.path.join(parent, "cgroup.subtree_control")
            _try_write(control, " ".join("-" + c for c in (_read(control) or "").split()))
            if _try_write(os.path.join(self.own_dir, "cgroup.subtree_control"), " ".join("-" + c for c in self.own_enabled)):
                self.own_enabled = []
        if self.grader_leaf:
            leaf_procs = os.path.join(self.grader_leaf, "cgroup.procs")
            if not self.own_enabled and os.getpid() == self.grader_pid and self.grader_pid in _pids(leaf_procs):
                _try_write(os.path.join(self.own_dir, "cgroup.procs"), str(self.grader_pid))
            try:
                _rmdir(self.grader_leaf)
            except OSError:
                pass
        for parent in self.parents.values():
            try:
                _rmdir(parent)
            except OSError:
                pass

    def __enter__(self) -> Plan:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ----------------------------------------------------------------------------- detection


def _undo(plan: Plan) -> None:
    """Remove what a failed attempt created and forget it, so that the next attempt starts clean."""
    plan.close()
    plan.parents, plan.own_dir, plan.own_enabled, plan.grader_leaf, plan.grader_pid = {}, "", [], "", 0
    plan.location, plan.cpu, plan.swap_off, plan.closed = "", False, False, False


def _own_groups(self_cgroup: str) -> dict:
    """controller -> the group path from /proc/self/cgroup; v2's ``0::/path`` under the key ``""``."""
    groups = {}
    for line in (_read(self_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            groups[""] = path
            continue
        for controller in controllers.split(","):
            if controller:
                groups[controller] = path
    return groups


def _inside(root: str, relative: str) -> str:
    """``root`` joined with a cgroup path, refusing ``..`` (a deleted group reads ``/x (deleted)``)."""
    parts = [part for part in relative.split("/") if part]
    if any(part in ("..", ".") for part in parts) or relative.endswith(" (deleted)"):
        raise ValueError(relative)
    return os.path.join(root, *parts)


def _controllers(path: str) -> set:
    return set((_read(os.path.join(path, "cgroup.controllers")) or "").split())


def _usable_v2(directory: str) -> bool:
    """Whether this uid may create groups here and move its processes between them."""
    return all(
        _writable(p)
        for p in (directory, os.path.join(directory, "cgroup.procs"), os.path.join(directory, "cgroup.subtree_control"))
    )


def _v2_parent(plan: Plan, root: str, directory: str, relative: str) -> bool:
    """Create ``ddpm-grader-<pid>`` under ``directory`` and give its children the controllers."""
    pid = os.getpid()
    parent = os.path.join(directory, f"{PREFIX}-{pid}")
    try:
        _mkdir(parent, 0o755)
    except OSError:
        return False
    wanted = [c for c in CONTROLLERS if c in _controllers(parent)]  # what ``directory`` passes down
    if not _try_write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted)):
        try:
            _rmdir(parent)
        except OSError:
            pass
        return False
    plan.parents = {"": parent}
    plan.location = relative.rstrip("/") + f"/{PREFIX}-{pid}"
    plan.cpu = "cpu" in wanted
    plan.swap_off = os.path.exists(os.path.join(parent, "memory.swap.max"))
    return True


def _v2_move_self(plan: Plan, root: str, own_dir: str, relative: str) -> str:
    """Use the grader's own group: move the grader into a leaf, then enable controllers for children.

    Returns "" on success, else why not. Only the grader's own process is ever moved; a group
    that holds any other process is left as it is.
    """
    pid = os.getpid()
    others = [p for p in _pids(os.path.join(own_dir, "cgroup.procs")) if p != pid]
    if others:
        return f"its cgroup {relative} holds {len(others)} other process(es), and v2 allows no processes beside child groups"
    wanted = [c for c in CONTROLLERS if c in _controllers(own_dir)]
    enabled = set((_read(os.path.join(own_dir, "cgroup.subtree_control")) or "").split())
    parent = os.path.join(own_dir, f"{PREFIX}-{pid}")
    leaf = os.path.join(parent, "grader")
    try:
        _mkdir(parent, 0o755)
        _mkdir(leaf, 0o755)
        _write(os.path.join(leaf, "cgroup.procs"), str(pid))
    except OSError as error:
        for path in (leaf, parent):
            try:
                _rmdir(path)
            except OSError:
                pass
        return f"cannot move the grader into {relative}/{PREFIX}-{pid}/grader ({error.strerror or error})"
    plan.own_dir, plan.grader_leaf, plan.grader_pid, plan.parents = own_dir, leaf, pid, {"": parent}
    plan.own_enabled = [c for c in wanted if c not in enabled]
    if plan.own_enabled and not _try_write(
        os.path.join(own_dir, "cgroup.subtree_control"), " ".join("+" + c for c in plan.own_enabled)
    ):
        plan.own_enabled = []
        _try_write(os.path.join(own_dir, "cgroup.procs"), str(pid))
        _undo(plan)
        return f"cannot enable {', '.join(wanted)} for the children of {relative}"
    if not _try_write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted)):
        _undo(plan)
        return f"cannot enable {', '.join(wanted)} in {relative}/{PREFIX}-{pid}"
    plan.location = relative.rstrip("/") + f"/{PREFIX}-{pid}"
    plan.cpu = "cpu" in wanted
    plan.swap_off = os.path.exists(os.path.join(parent, "memory.swap.max"))
    return ""


def _detect_v2(plan: Plan, root: str, own: str) -> str:
    """Try the own group, then each ancestor; "" when ``plan`` now holds a v2 parent, else why not."""
    uid = os.geteuid()
    hint = (
        f"cgroup v2 at {root} is not delegated to uid {uid}: run the grader under `systemd-run --user --scope -p Delegate=yes …`"
    )
    try:
        own_dir = _inside(root, own)
    except ValueError:
        return f"the grader's cgroup {own!r} is not a path under {root}"
    relative = "/" + own.strip("/")
    missing = [c for c in REQUIRED if c not in _controllers(own_dir)]
    why = ""
    if missing:
        why = f"cgroup v2 group {relative} has no {' or '.join(missing)} controller"
    elif _usable_v2(own_dir):
        enabled = set((_read(os.path.join(own_dir, "cgroup.subtree_control")) or "").split())
        # a group that already gives its children the controllers holds no processes (or is the root)
        if set(REQUIRED) <= enabled and _v2_parent(plan, root, own_dir, relative):
            return ""
        why = _v2_move_self(plan, root, own_dir, relative)
        if not why:
            return ""
        why = f"cgroup v2: {why}"
    # an ancestor the grader may use, whose children already have memory and pids
    parts = [part for part in own.split("/") if part]
    while parts:
        parts.pop()
        directory = os.path.join(root, *parts)
        enabled = set((_read(os.path.join(directory, "cgroup.subtree_control")) or "").split())
        if set(REQUIRED) <= enabled and _usable_v2(directory):
            if _v2_parent(plan, root, directory, "/" + "/".join(parts)):
                return ""
    return why or hint


def _detect_v1(plan: Plan, root: str, groups: dict) -> str:
    """Create ``ddpm-grader-<pid>`` under the grader's own group in memory, pids (and cpu)."""
    parents = {}
    for controller in ("memory", "pids", "cpu"):
        hierarchy = os.path.join(root, controller)
        if not os.path.exists(os.path.join(hierarchy, "cgroup.procs")):
            if controller in REQUIRED:
                return f"no cgroup v1 {controller} hierarchy at {hierarchy}"
            continue
        try:
            directory = _inside(hierarchy, groups.get(controller, "/"))
        except ValueError:
            return f"the grader's v1 {controller} cgroup is not a path under {hierarchy}"
        if not (_writable(directory) and _writable(os.path.join(directory, "cgroup.procs"))):
            if controller in REQUIRED:
                if os.geteuid() != 0:
                    return f"the cgroup v1 {controller} hierarchy at {hierarchy} is writable only by root"
                return f"the cgroup v1 {controller} hierarchy at {hierarchy} is read-only"
            continue
        parents[controller] = os.path.join(directory, f"{PREFIX}-{os.getpid()}")
    made = {}
    for controller, parent in parents.items():
        try:
            _mkdir(parent, 0o755)
            made[controller] = parent
        except OSError as error:
            if controller in REQUIRED:
                plan.parents = made
                _undo(plan)
                return f"cannot create {parent} ({error.strerror or error})"
    plan.parents = made
    plan.location = groups.get("memory", "/")
    plan.cpu = "cpu" in made
    plan.swap_off = os.path.exists(os.path.join(made["memory"], "memory.memsw.limit_in_bytes"))
    return ""


def _detect_systemd(plan: Plan, root: str, systemd_run: str | None, systemctl: str | None) -> str:
    """Whether ``systemd-run --user --scope`` can hold each box (v2 and a user manager that answers)."""
    if not systemd_run:
        return "no systemd-run"
    if not os.path.exists(os.path.join(root, "cgroup.controllers")):
        return "systemd-run --user needs cgroup v2"
    uid = os.geteuid()
    manager = os.path.join(root, "user.slice", f"user-{uid}.slice", f"user@{uid}.service")
    cpu = True  # unknown where the manager's group is elsewhere: systemd applies what it can
    if os.path.isdir(manager):
        delegated = _controllers(manager)
        missing = [c for c in REQUIRED if c not in delegated]
        if missing:
            return f"the systemd user manager of uid {uid} has no {' or '.join(missing)} controller"
        cpu = "cpu" in delegated
    env = dict(os.environ, SYSTEMD_PAGER="", LC_ALL="C")
    probes = []
    if systemctl:
        probes.append([systemctl, "--user", "is-system-running"])
    probes.append([systemd_run, "--user", "--scope", "--quiet", "--collect", "true"])
    for argv in probes:
        try:
            result = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PROBE_SECONDS, env=env
            )
        except (OSError, subprocess.SubprocessError):
            continue
        state = result.stdout.strip()
        if argv[-1] == "true" and result.returncode == 0:
            break
        if argv[-1] == "is-system-running" and state in ("running", "degraded", "starting", "initializing"):
            break
    else:
        return f"no systemd user manager answers for uid {uid}"
    plan.systemd_run = systemd_run
    plan.swap_off = True
    plan.cpu = cpu
    return ""


def detect(
    memory_bytes: int,
    processes: int,
    cpu_weight: int = 100,
    *,
    root: str = ROOT,
    self_cgroup: str = SELF_CGROUP,
    systemd_run: str | None = "",
    systemctl: str | None = "",
) -> Plan:
    """Find what this machine allows the current user, and prepare the boxes' parent group(s).

    ``cpu_weight`` is v2's (1-10000, 100 the default share); v1 gets the matching
    ``cpu.shares``. ``systemd_run``/``systemctl``: the programs ("" finds them on PATH, None
    means absent). Quick (well under a second) and never raises: anything unexpected makes a
    plan of kind "none" that says why.
    """
    memory_bytes, processes = int(memory_bytes), int(processes)
    cpu_weight = max(1, min(10000, int(cpu_weight)))
    plan = Plan(NONE, memory_bytes, processes, cpu_weight)
    try:
        if systemd_run == "":
            systemd_run = shutil.which("systemd-run")
        if systemctl == "":
            systemctl = shutil.which("systemctl")
        groups = _own_groups(self_cgroup)
        reasons = []
        if os.path.exists(os.path.join(root, "cgroup.controllers")):  # v2 mounted at the root
            if "" not in groups:
                reasons.append(f"{self_cgroup} names no cgroup v2 group")
            else:
                why = _detect_v2(plan, root, groups[""])
                if not why:
                    plan.kind = V2
                    return plan
                reasons.append(why)
        elif os.path.exists(os.path.join(root, "memory", "cgroup.procs")):
            why = _detect_v1(plan, root, groups)
            if not why:
                plan.kind = V1
                if not plan.cpu:
                    plan.reason = "no cpu controller"
                return plan
            reasons.append(why)
        else:
            reasons.append(f"no cgroup filesystem at {root}")
        why = _detect_systemd(plan, root, systemd_run, systemctl)
        if not why:
            plan.kind = SYSTEMD
            return plan
        reasons.append(why)
        plan.reason = "; ".join(reasons)
    except Exception as error:  # noqa: BLE001 - the probe must never stop grading
        try:
            plan.close()
        except Exception:  # noqa: BLE001
            pass
        plan = Plan(NONE, memory_bytes, processes, cpu_weight, reason=f"cgroup probe failed: {error!r}")
    plan.kind = NONE
    plan.parents = {}
    return plan
