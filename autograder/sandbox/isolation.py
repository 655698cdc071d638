"""How one run's sandboxes are made (:class:`Isolation`): the bwrap argv, the launcher, the words each row carries. Trusted side.

An :class:`Isolation` is made once per run by ``autograder.sandbox.detection.detect`` and holds what the
machine gave: the bwrap binary (or the container's student user), the sandbox user when the grader is root,
the seccomp filter and the cgroup plan. ``launch`` gives the argv that starts one sandbox through
``launcher.py``; ``describe``, ``summary`` and ``row_flags`` say in words which protections were in force.
Where boxes are written (``work_base``) and the student's own folder in container mode (``student_home``)
are here too, since both depend on who the sandbox runs as.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox import container, syscall_filter
from autograder.sandbox.allow_list import masks, python_paths, sandbox_env, system_args
from autograder.sandbox.bubblewrap import Bubblewrap, SandboxUnavailable
from autograder.sandbox.cgroup_box import Box, Plan
from autograder.sandbox.limits import Limits


@dataclass
class Isolation:
    """How this run's sandboxes are made; ``describe()`` goes into the report and every row."""

    bwrap: Bubblewrap | None = None  # None: no sandbox (--unsafe-no-sandbox)
    user: tuple[int, int, str] | None = None  # (uid, gid, name) that the launcher drops to when the grader is root
    notes: list[str] = field(default_factory=list)  # what is missing: every CSV row says it
    hidden: tuple[str, ...] = ()
    filter: syscall_filter.Filter | None = None
    cgroup_plan: Plan | None = None
    student: container.StudentUser | None = None  # container mode: the user student code runs as (bwrap is None)
    why_not_bubblewrap: str = ""  # mode "auto": why bubblewrap did not run here
    lock: threading.Lock = field(default_factory=threading.Lock)  # container mode: one sandbox at a time

    @property
    def sandboxed(self) -> bool:
        """Whether student code runs in a sandbox (bubblewrap or container mode)."""
        return self.bwrap is not None or self.student is not None

    @property
    def mode(self) -> str:
        """Which isolation ran: ``"bubblewrap"``, ``"container"`` or ``"none"``."""
        return container.BUBBLEWRAP if self.bwrap is not None else container.CONTAINER if self.student is not None else "none"

    def layers(self) -> list[str]:
        """The protections in force, in words (the report's ``isolation`` and each student's)."""
        if self.student is not None:
            return self._container_layers(self.student)
        if self.bwrap is None:
            return ["NO SANDBOX (--unsafe-no-sandbox): student code ran with the grader's rights"]
        who = f"as uid {self.user[0]} ({self.user[2]})" if self.user else f"as the grader's uid {os.getuid()} in a user namespace"
        nested = "--disable-userns and the seccomp filter" if self.bwrap.userns_disabled else "the seccomp filter"
        tmp = "private /tmp and /dev/shm" + ("" if self.bwrap.has("--size") else " (no size cap: this bubblewrap lacks --size)")
        return [
            f"bubblewrap {self.bwrap.version} allow-list sandbox {who}",
            "no network, own PID/IPC/UTS/mount/user namespaces",
            f"nested user namespaces refused by {nested}",
            self.filter.describe() if self.filter else "no seccomp filter",
            "/proc/sys read-only",
            tmp,
            self.cgroup_plan.describe() if self.cgroup_plan else "no cgroup limits",
        ]

    def _container_layers(self, user: container.StudentUser) -> list[str]:
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

    def describe(self) -> str:
        """The report's isolation line: every layer in force, then what is missing."""
        return "; ".join([*self.layers(), *self.notes])

    def summary(self) -> str:
        """The short form each student's row carries: which isolation (bubblewrap or container), and which layers."""
        if self.student is not None:
            parts = ["container mode", "seccomp, no sockets but AF_UNIX" if self.filter else "no seccomp"]
            parts.append(self.cgroup_plan.summary() if self.cgroup_plan else "no cgroups")
            return ", ".join([*parts, f"uid {self.student.uid} ({self.student.name})"])
        if self.bwrap is None:
            return "no sandbox"
        parts = [f"bubblewrap {self.bwrap.version}", "seccomp" if self.filter else "no seccomp"]
        parts.append("userns refused (--disable-userns + seccomp)" if self.bwrap.userns_disabled else "userns refused (seccomp)")
        parts.append(self.cgroup_plan.summary() if self.cgroup_plan else "no cgroups")
        parts.append(f"uid {self.user[0]}" if self.user else "user namespace")
        return ", ".join(parts)

    def row_flags(self) -> list[str]:
        """What every CSV row must say about isolation (nothing when it is complete)."""
        if not self.sandboxed:
            return ["graded WITHOUT a sandbox (--unsafe-no-sandbox): only for trusted code"]
        return [f"sandbox: {note}" for note in self.notes]

    def command(
        self, box: Path, limits: Limits, status_fd: int | None = None, seccomp_fd: int | None = None, empty: Path | None = None
    ) -> list[str]:
        """The bwrap argv that runs the runner in ``box`` (a folder only the grader wrote); bwrap reports the
        PID of the sandbox's init on ``status_fd`` and loads the seccomp program from ``seccomp_fd``."""
        runner = ["-I", "-B", "-X", "utf8"]
        if self.bwrap is None:  # no sandbox, or container mode (the launcher drops to the student user first)
            return [sys.executable, *runner, str(box / "sandbox_runner.py")]
        bw = self.bwrap
        binds = python_paths()
        args = [bw.path, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        args += ["--disable-userns"] if bw.userns_disabled else []  # the seccomp filter refuses them either way
        args += ["--cap-drop", "ALL"] if bw.has("--cap-drop") else []
        args += ["--hostname", "sandbox"] if bw.has("--hostname") else []
        if bw.has("--clearenv"):  # older ones inherit the launcher's environment, which is sandbox_env() already
            args += ["--clearenv"]
            for name, value in sandbox_env().items():
                args += ["--setenv", name, value]
        args += system_args() + ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
        # the private /tmp first: an environment that lives under /tmp is then bound on top of it
        for target in ("/tmp", "/dev/shm"):
            args += (["--size", str(limits.tmp_bytes)] if bw.has("--size") else []) + ["--tmpfs", target]
        for path in binds:
            args += ["--ro-bind", path, path]
        args += masks(binds, self.hidden, empty or box)
        args += ["--ro-bind", str(box), "/box", "--chdir", "/tmp"]
        args += ["--json-status-fd", str(status_fd)] if status_fd is not None and bw.has("--json-status-fd") else []
        args += ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        return [*args, "--", sys.executable, *runner, "/box/sandbox_runner.py"]

    def launch(
        self, box: Path, limits: Limits, status_fd: int | None = None, cgroup: Box | None = None, empty: Path | None = None
    ) -> tuple[list[str], tuple[int, ...]]:
        """``(argv, fds to pass)`` for ``subprocess``: the launcher (fresh keyring, the box's cgroup, the sandbox
        user) that becomes bwrap; the caller closes the returned fds after starting it."""
        if not self.sandboxed:
            return self.command(box, limits), ()
        seccomp_fd = self.filter.open_fd() if self.filter else None
        if seccomp_fd is not None:
            os.set_inheritable(seccomp_fd, True)
        argv = self.command(box, limits, status_fd, seccomp_fd, empty)
        spec: dict[str, Any] = {
            "argv": [*(cgroup.argv_prefix if cgroup else []), *argv],
            "procs": list(cgroup.procs_files) if cgroup else [],
            "user": list(self.user[:2]) if self.user else None,
        }
        if self.student is not None:  # no bwrap: the launcher loads the filter, in the student's own folder
            spec.update(seccomp_fd=seccomp_fd, home=str(student_home(box)))
        launcher = [sys.executable, "-I", "-S", str(container.LAUNCHER), json.dumps(spec)]
        return launcher, tuple(fd for fd in [seccomp_fd] if fd)

    def exclusive(self) -> AbstractContextManager[object]:
        """Container mode: one sandbox at a time (the kill after it reaches every process of the student user)."""
        return self.lock if self.student is not None else contextlib.nullcontext()

    def reap(self) -> None:
        """Container mode: kill every process of the student user (``OSError`` if some survive); else nothing."""
        if self.student is not None:
            container.reap(self.student)

    def box_plan(self) -> Plan | None:
        """The cgroup plan each box is made from, where it gives whole-box limits; else None."""
        plan = self.cgroup_plan if self.sandboxed else None
        return plan if plan is not None and plan.available else None

    def close(self) -> None:
        """Release the seccomp program and the cgroups of this run (idempotent)."""
        if self.filter:
            self.filter.remove()
        if self.cgroup_plan:
            self.cgroup_plan.close()


def new_cgroup(plan: Plan | None, name: str, events: list[str]) -> Box | None:
    """The box's cgroup, or None (no plan, or it could not be made: the rlimits still hold, and ``events`` says so)."""
    if plan is None:
        return None
    try:
        return plan.new_box(name)
    except OSError as error:
        events.append(f"no cgroup for this sandbox ({error}): per-process limits only")
        return None


def student_home(box: Path) -> Path:
    """Container mode: the student's writable folder for ``box`` (made by the launcher, beside the box)."""
    return box.parent / f"{box.name}.home"


def _reachable(path: str, user: tuple[int, int, str]) -> bool:
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


def work_base(isolation: Isolation) -> str:
    """Where the boxes are written: the grader's temporary folder, unless the sandbox user (as root) cannot reach
    it (a TMPDIR inside a 0700 home): then the first shared temporary folder it can reach."""
    base = tempfile.gettempdir()
    if not (isolation.sandboxed and isolation.user) or _reachable(base, isolation.user):
        return base
    for shared in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(shared) and _reachable(shared, isolation.user):
            return shared
    raise SandboxUnavailable(f"no temporary folder that the sandbox user {isolation.user[2]!r} can reach (TMPDIR={base})")
