"""Which cgroups this machine allows (v2, v1, systemd-run, or none and why): :func:`detect`. Trusted side.

Memory, process and CPU limits for a whole sandbox, where the machine allows them; the boxes and the
plan that makes them are in ``cgroup_box``, the kernel's files in ``cgroup_files``.

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

A launcher (the process that execs ``bwrap``) calls ``cgroup_files.join`` with ``Box.procs_files``
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

import os
import shutil
import subprocess

from autograder.sandbox import cgroup_files as files
from autograder.sandbox.cgroup_box import NONE, PREFIX, SYSTEMD, V1, V2, Plan

CGROUP_FS = "/sys/fs/cgroup"  # where the kernel mounts cgroups
SELF_CGROUP = "/proc/self/cgroup"
REQUIRED = ("memory", "pids")  # without both, a box is no stronger than rlimits
CONTROLLERS = ("memory", "pids", "cpu")  # what v2 boxes get where the parent passes it down
PROBE_SECONDS = 0.5  # each systemd probe; detect() stays under a second


def _undo(plan: Plan) -> None:
    """Remove what a failed attempt created and forget it, so that the next attempt starts clean."""
    plan.close()
    plan.parents, plan.own_dir, plan.own_enabled, plan.grader_leaf, plan.grader_pid = {}, "", [], "", 0
    plan.location, plan.cpu, plan.swap_off, plan.closed = "", False, False, False


def own_groups(self_cgroup: str) -> dict[str, str]:
    """controller -> the group path from /proc/self/cgroup; v2's ``0::/path`` under the key ``""``."""
    groups = {}
    for line in (files.read(self_cgroup) or "").splitlines():
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


def _usable_v2(directory: str) -> bool:
    """Whether this uid may create groups here and move its processes between them."""
    return all(
        files.writable(p)
        for p in (directory, os.path.join(directory, "cgroup.procs"), os.path.join(directory, "cgroup.subtree_control"))
    )


def _v2_parent(plan: Plan, root: str, directory: str, relative: str) -> bool:
    """Create ``ddpm-grader-<pid>`` under ``directory`` and give its children the controllers."""
    pid = os.getpid()
    parent = os.path.join(directory, f"{PREFIX}-{pid}")
    try:
        files.mkdir(parent, 0o755)
    except OSError:
        return False
    wanted = [c for c in CONTROLLERS if c in files.controllers(parent)]  # what ``directory`` passes down
    if not files.try_write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted)):
        try:
            files.rmdir(parent)
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
    others = [p for p in files.pids(os.path.join(own_dir, "cgroup.procs")) if p != pid]
    if others:
        return f"its cgroup {relative} holds {len(others)} other process(es), and v2 allows no processes beside child groups"
    wanted = [c for c in CONTROLLERS if c in files.controllers(own_dir)]
    enabled = set((files.read(os.path.join(own_dir, "cgroup.subtree_control")) or "").split())
    parent = os.path.join(own_dir, f"{PREFIX}-{pid}")
    leaf = os.path.join(parent, "grader")
    try:
        files.mkdir(parent, 0o755)
        files.mkdir(leaf, 0o755)
        files.write(os.path.join(leaf, "cgroup.procs"), str(pid))
    except OSError as error:
        for path in (leaf, parent):
            try:
                files.rmdir(path)
            except OSError:
                pass
        return f"cannot move the grader into {relative}/{PREFIX}-{pid}/grader ({error.strerror or error})"
    plan.own_dir, plan.grader_leaf, plan.grader_pid, plan.parents = own_dir, leaf, pid, {"": parent}
    plan.own_enabled = [c for c in wanted if c not in enabled]
    if plan.own_enabled and not files.try_write(
        os.path.join(own_dir, "cgroup.subtree_control"), " ".join("+" + c for c in plan.own_enabled)
    ):
        plan.own_enabled = []
        files.try_write(os.path.join(own_dir, "cgroup.procs"), str(pid))
        _undo(plan)
        return f"cannot enable {', '.join(wanted)} for the children of {relative}"
    if not files.try_write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted)):
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
    missing = [c for c in REQUIRED if c not in files.controllers(own_dir)]
    why = ""
    if missing:
        why = f"cgroup v2 group {relative} has no {' or '.join(missing)} controller"
    elif _usable_v2(own_dir):
        enabled = set((files.read(os.path.join(own_dir, "cgroup.subtree_control")) or "").split())
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
        enabled = set((files.read(os.path.join(directory, "cgroup.subtree_control")) or "").split())
        if set(REQUIRED) <= enabled and _usable_v2(directory):
            if _v2_parent(plan, root, directory, "/" + "/".join(parts)):
                return ""
    return why or hint


def _detect_v1(plan: Plan, root: str, groups: dict[str, str]) -> str:
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
        if not (files.writable(directory) and files.writable(os.path.join(directory, "cgroup.procs"))):
            if controller in REQUIRED:
                if os.geteuid() != 0:
                    return f"the cgroup v1 {controller} hierarchy at {hierarchy} is writable only by root"
                return f"the cgroup v1 {controller} hierarchy at {hierarchy} is read-only"
            continue
        parents[controller] = os.path.join(directory, f"{PREFIX}-{os.getpid()}")
    made = {}
    for controller, parent in parents.items():
        try:
            files.mkdir(parent, 0o755)
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
        delegated = files.controllers(manager)
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
    root: str = CGROUP_FS,
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
        groups = own_groups(self_cgroup)
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
