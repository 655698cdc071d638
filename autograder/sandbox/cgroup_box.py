"""A whole-box cgroup (``Box``) and the plan that makes them (``Plan``): limits written, boxes removed. Trusted side.

:func:`autograder.sandbox.cgroups.detect` finds what the machine allows and returns a :class:`Plan`;
``Plan.new_box`` makes one sandbox's group(s) with the memory, task and CPU limits written, and
``Box.remove`` kills whatever is left in it and removes it. Which kernel files are written for each
kind (cgroup v2, cgroup v1, ``systemd-run --user --scope``) is said where they are written.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import time
from dataclasses import dataclass, field

from autograder.sandbox import cgroup_files as files

PREFIX = "ddpm-grader"
REMOVE_SECONDS = 3.0  # how long Box.remove() waits for the box to empty

NONE, V1, V2, SYSTEMD = "none", "v1", "v2", "systemd"


class CgroupError(OSError):
    """A box could not be created although the plan said cgroups are available."""


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
            return files.keyed(files.read(self._file("memory.events") or "")).get("oom_kill", 0) > 0
        if self.kind == V1:
            control = files.keyed(files.read(self._file("memory.oom_control") or ""))
            if "oom_kill" in control:
                return control["oom_kill"] > 0
            for name in ("memory.memsw.failcnt", "memory.failcnt"):
                count = files.read(self._file(name) or "")
                if count and count.strip().isdigit():
                    return int(count) > 0
        return False

    def pids_limited(self) -> bool:
        """Whether a fork or clone in the box was refused by its task limit (``pids.events`` ``max``)."""
        if self.kind in (V1, V2):
            return files.keyed(files.read(self._file("pids.events") or "")).get("max", 0) > 0
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
                if not files.pids(procs):
                    continue
                busy = True
                kill = os.path.join(path, "cgroup.kill")
                if not (os.path.exists(kill) and files.try_write(kill, "1")):
                    files.signal_pids(procs)
            if not busy or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        left = False
        for path in self.paths:
            try:
                files.rmdir(path)
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
    parents: dict[str, str] = field(default_factory=dict)  # v1: controller -> parent dir; v2: {"": parent dir}
    location: str = ""  # the parent's path inside the hierarchy, for the report
    swap_off: bool = False  # whether swap is limited to 0 as well
    cpu: bool = False  # whether the CPU weight is applied
    systemd_run: str = ""
    # v2, when the grader moved itself out of its own group to enable controllers there
    own_dir: str = ""
    own_enabled: list[str] = field(default_factory=list)
    grader_leaf: str = ""
    grader_pid: int = 0
    boxes: list[Box] = field(default_factory=list)
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
                files.mkdir(path, 0o755)
                box.paths.append(path)
                box.procs_files.append(os.path.join(path, "cgroup.procs"))
                for file, value, required in self.limit_files(controller):
                    target = os.path.join(path, file)
                    if os.path.exists(target):
                        files.write(target, value)
                    elif required:
                        raise CgroupError(errno.ENOENT, f"{file} is missing in {path}")
        except OSError as error:
            box.remove(0.5)
            self.boxes.remove(box)
            if isinstance(error, CgroupError):
                raise
            raise CgroupError(error.errno or errno.EIO, f"cannot create the cgroup box {leaf}: {error}") from error
        return box

    def limit_files(self, controller: str) -> list[tuple[str, str, bool]]:
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
            files.try_write(control, " ".join("-" + c for c in (files.read(control) or "").split()))
            if files.try_write(os.path.join(self.own_dir, "cgroup.subtree_control"), " ".join("-" + c for c in self.own_enabled)):
                self.own_enabled = []
        if self.grader_leaf:
            leaf_procs = os.path.join(self.grader_leaf, "cgroup.procs")
            if not self.own_enabled and os.getpid() == self.grader_pid and self.grader_pid in files.pids(leaf_procs):
                files.try_write(os.path.join(self.own_dir, "cgroup.procs"), str(self.grader_pid))
            try:
                files.rmdir(self.grader_leaf)
            except OSError:
                pass
        for parent in self.parents.values():
            try:
                files.rmdir(parent)
            except OSError:
                pass

    def __enter__(self) -> Plan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
