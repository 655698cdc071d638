"""autograder/sandbox/cgroups.py, cgroup_box.py, cgroup_files.py: whole-box limits through cgroup v2, v1, systemd-run; or why not.

Both cgroup code paths run against a fake tree under tmp_path with a small fake kernel (the
rules that matter: interface files appear on mkdir, a group that enables controllers for its
children holds no processes, a PID is in one group per hierarchy, rmdir refuses a busy
group). The real tests run on this machine's cgroup v1 hierarchy as root (skipped elsewhere)
and on the v2 hierarchy where one is mounted (``/sys/fs/cgroup/unified`` here, for joining,
``cgroup.kill`` and rmdir).
"""

import errno
import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.sandbox import cgroup_box, cgroup_files, cgroups

MiB = 1 << 20


# ----------------------------------------------------------------------------- a fake kernel

V2_FILES = {
    "memory": {"memory.max": "max\n", "memory.swap.max": "max\n", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
    "pids": {"pids.max": "max\n", "pids.events": "max 0\n"},
    "cpu": {"cpu.weight": "100\n"},
}
V1_FILES = {
    "memory": {
        "memory.limit_in_bytes": "9223372036854771712\n",
        "memory.memsw.limit_in_bytes": "9223372036854771712\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        "memory.failcnt": "0\n",
    },
    "pids": {"pids.max": "max\n", "pids.events": "max 0\n"},
    "cpu": {"cpu.shares": "1024\n"},
}


class FakeKernel:
    """Just enough of cgroupfs for the module's logic, on plain directories.

    Replaces cgroup_files.mkdir/rmdir/write/writable/signal_pids. A group is read-only when
    its directory has no owner write bit (the tests run as root, where os.access says yes).
    """

    def __init__(self, root: Path, version: int, monkeypatch, kill_file=True):
        self.root, self.version, self.kill_file = root, version, kill_file
        self.signalled = []
        self.writes = []
        monkeypatch.setattr(cgroup_files, "mkdir", self.mkdir)
        monkeypatch.setattr(cgroup_files, "rmdir", self.rmdir)
        monkeypatch.setattr(cgroup_files, "write", self.write)
        monkeypatch.setattr(cgroup_files, "writable", self.writable)
        monkeypatch.setattr(cgroup_files, "signal_pids", self.signal_pids)

    # -- layout
    def hierarchy(self, path) -> Path:
        """The top of the hierarchy ``path`` is in (the root on v2, root/<controller> on v1)."""
        relative = Path(path).relative_to(self.root)
        return self.root if self.version == 2 else self.root / relative.parts[0]

    def groups(self, path):
        top = self.hierarchy(path)
        return [top] + [p for p in top.rglob("*") if p.is_dir()]

    def populate(self, group: Path, controllers):
        """The interface files of a group that has ``controllers``."""
        (group / "cgroup.procs").write_text("")
        if self.version == 2:
            (group / "cgroup.controllers").write_text(" ".join(controllers) + "\n")
            (group / "cgroup.subtree_control").write_text("")
            if self.kill_file and group != self.root:
                (group / "cgroup.kill").write_text("")
        self.add_files(group, controllers)

    def add_files(self, group: Path, controllers):
        table = V2_FILES if self.version == 2 else V1_FILES
        for controller in controllers:
            for name, text in table.get(controller, {}).items():
                if not (group / name).exists():
                    (group / name).write_text(text)

    def group(self, relative: str, controllers=("memory", "pids", "cpu"), procs=(), subtree=()):
        """Make a group (v2: relative to root; v1: '<controller>/<path>') the way the kernel shows it."""
        group = self.root / relative.strip("/")
        group.mkdir(parents=True, exist_ok=True)
        if self.version == 1:
            controllers = [self.hierarchy(group).name]
        self.populate(group, controllers)
        (group / "cgroup.procs").write_text("".join(f"{pid}\n" for pid in procs))
        if self.version == 2:
            (group / "cgroup.subtree_control").write_text(" ".join(subtree) + "\n")
        return group

    def procs(self, group) -> list:
        return [int(w) for w in (Path(group) / "cgroup.procs").read_text().split()]

    # -- the replaced calls
    def writable(self, path) -> bool:
        path = Path(path)
        directory = path if path.is_dir() else path.parent
        return path.exists() and bool(directory.stat().st_mode & stat.S_IWUSR)

    def mkdir(self, path, mode=0o755):
        path = Path(path)
        if not self.writable(path.parent):
            raise PermissionError(errno.EACCES, "read-only", str(path))
        os.mkdir(path, mode)
        if self.version == 2:
            controllers = (path.parent / "cgroup.subtree_control").read_text().split()
        else:
            controllers = [self.hierarchy(path).name]
        self.populate(path, controllers)

    def rmdir(self, path):
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, "no such group", str(path))
        if self.procs(path) or any(p.is_dir() for p in path.iterdir()):
            raise OSError(errno.EBUSY, "busy", str(path))
        shutil.rmtree(path)

    def write(self, path, text):
        path = Path(path)
        self.writes.append((str(path.relative_to(self.root)), text))
        group, name = path.parent, path.name
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        if not self.writable(path):
            raise PermissionError(errno.EACCES, "read-only", str(path))
        if name == "cgroup.procs":
            pid = int(text)
            if self.version == 2 and group != self.root and (group / "cgroup.subtree_control").read_text().split():
                raise OSError(errno.EBUSY, "no internal processes", str(path))
            for other in self.groups(group):
                (other / "cgroup.procs").write_text("".join(f"{p}\n" for p in self.procs(other) if p != pid))
            (group / "cgroup.procs").write_text("".join(f"{p}\n" for p in self.procs(group) + [pid]))
        elif name == "cgroup.subtree_control":
            enabled = path.read_text().split()
            available = (group / "cgroup.controllers").read_text().split()
            for word in text.split():
                controller = word[1:]
                if word[0] == "+":
                    if controller not in available:
                        raise OSError(errno.ENOENT, "no such controller", controller)
                    if group != self.root and self.procs(group):
                        raise OSError(errno.EBUSY, "no internal processes", str(path))
                    enabled = enabled + [controller] if controller not in enabled else enabled
                else:
                    children = [p for p in group.iterdir() if p.is_dir()]
                    if any(controller in (c / "cgroup.subtree_control").read_text().split() for c in children):
                        raise OSError(errno.EBUSY, "a child uses it", str(path))
                    enabled = [c for c in enabled if c != controller]
            path.write_text(" ".join(enabled) + "\n")
            for child in (p for p in group.iterdir() if p.is_dir()):
                (child / "cgroup.controllers").write_text(" ".join(enabled) + "\n")
                self.add_files(child, enabled)
        elif name == "cgroup.kill":
            self.signalled += self.procs(group)
            (group / "cgroup.procs").write_text("")
        else:
            path.write_text(text)

    def signal_pids(self, procs_file):
        pids = self.procs(Path(procs_file).parent)
        self.signalled += pids
        for group in self.groups(procs_file):
            (group / "cgroup.procs").write_text("".join(f"{p}\n" for p in self.procs(group) if p not in pids))


def self_cgroup(tmp_path: Path, text: str) -> str:
    path = tmp_path / "self_cgroup"
    path.write_text(text)
    return str(path)


def leftovers(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"{cgroup_box.PREFIX}-*"))


NO_SYSTEMD = {"systemd_run": None, "systemctl": None}


# ----------------------------------------------------------------------------- v2 with a fake tree

OWN = "user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"


@pytest.fixture
def v2(tmp_path, monkeypatch):
    root = tmp_path / "cg2"
    kernel = FakeKernel(root, 2, monkeypatch)
    kernel.group("", ("cpuset", "cpu", "io", "memory", "pids"), subtree=("cpu", "memory", "pids"))
    parts = OWN.split("/")
    for depth in range(1, len(parts)):
        kernel.group("/".join(parts[:depth]), subtree=("cpu", "memory", "pids"))
    kernel.group(OWN, procs=[os.getpid()])
    kernel.own = root / OWN
    kernel.cgroup_file = self_cgroup(tmp_path, f"0::/{OWN}\n")
    return kernel


def test_v2_delegated_scope_moves_the_grader_into_a_leaf_first(v2):
    """v2's "no internal processes": the grader leaves its own group before enabling controllers there."""
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "v2" and plan.available, plan.reason
    parent = v2.own / f"ddpm-grader-{os.getpid()}"
    assert v2.procs(v2.own) == [] and v2.procs(parent / "grader") == [os.getpid()]
    assert (v2.own / "cgroup.subtree_control").read_text().split() == ["memory", "pids", "cpu"]
    assert (parent / "cgroup.subtree_control").read_text().split() == ["memory", "pids", "cpu"]
    # the order the kernel demands: the move, then the own group's controllers, then the parent's
    order = [w for w in v2.writes if w[0].endswith(("cgroup.procs", "cgroup.subtree_control"))]
    assert order[0] == (f"{OWN}/ddpm-grader-{os.getpid()}/grader/cgroup.procs", str(os.getpid()))
    assert order[1][0] == f"{OWN}/cgroup.subtree_control" and order[2][0].endswith(
        f"ddpm-grader-{os.getpid()}/cgroup.subtree_control"
    )
    assert plan.describe() == (
        f"cgroup v2 per sandbox under /{OWN}/ddpm-grader-{os.getpid()}: memory 4.0 GiB (no swap), 64 tasks, cpu weight 100"
    )

    box = plan.new_box("alice/../bob")
    (path,) = box.paths
    assert Path(path).parent == parent and Path(path).name == "box-1-alice_.._bob"
    assert box.procs_files == [f"{path}/cgroup.procs"] and box.argv_prefix == []
    assert (Path(path) / "memory.max").read_text() == str(4 << 30)
    assert (Path(path) / "memory.swap.max").read_text() == "0"
    assert (Path(path) / "pids.max").read_text() == "64"
    assert (Path(path) / "cpu.weight").read_text() == "100"
    assert plan.new_box("alice/../bob").paths[0].endswith("box-2-alice_.._bob")  # never the same group

    cgroup_files.join(box.procs_files)  # the launcher: the grader's fake kernel moves this PID into the box
    assert v2.procs(path) == [os.getpid()] and v2.procs(parent / "grader") == []
    (Path(path) / "memory.events").write_text("low 0\nhigh 3\nmax 9\noom 1\noom_kill 1\n")
    (Path(path) / "pids.events").write_text("max 2\n")
    assert box.oom_killed() and box.pids_limited()
    v2.group(f"{OWN}/spare")  # something else in the tree is left alone
    assert box.remove() and box.remove()  # idempotent
    assert not Path(path).exists() and os.getpid() in v2.signalled
    assert (v2.own / "spare").exists()

    v2.write(str(parent / "grader" / "cgroup.procs"), str(os.getpid()))  # back, as it was before join
    plan.close()
    plan.close()
    assert not parent.exists(), "close() removes the parent and every box"
    assert v2.procs(v2.own) == [os.getpid()], "close() moves the grader back where it was"
    assert (v2.own / "cgroup.subtree_control").read_text().split() == []
    assert not plan.available and plan.new_box("late").procs_files == []


def test_v2_remove_without_cgroup_kill_signals_each_process(tmp_path, monkeypatch):
    root = tmp_path / "cg2"
    kernel = FakeKernel(root, 2, monkeypatch, kill_file=False)
    kernel.group("", ("cpu", "memory", "pids"), subtree=("cpu", "memory", "pids"))
    plan = cgroups.detect(MiB << 6, 8, 100, root=str(root), self_cgroup=self_cgroup(tmp_path, "0::/\n"), **NO_SYSTEMD)
    assert plan.kind == "v2", plan.reason
    assert plan.location == f"/ddpm-grader-{os.getpid()}" and plan.grader_leaf == "", "the root group needs no move"
    box = plan.new_box("x")
    (Path(box.paths[0]) / "cgroup.procs").write_text("424242\n424243\n")
    assert box.remove(wait_seconds=0.5)
    assert kernel.signalled == [424242, 424243]
    plan.close()
    assert leftovers(root) == []


def test_v2_group_with_other_processes_uses_a_writable_ancestor(v2):
    """The grader never moves a process it did not start: a shared group sends it to an ancestor."""
    (v2.own / "cgroup.procs").write_text(f"{os.getpid()}\n4242\n")
    plan = cgroups.detect(MiB << 9, 16, 50, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "v2", plan.reason
    app = v2.root / "user.slice/user-1000.slice/user@1000.service/app.slice"
    assert plan.parents == {"": str(app / f"ddpm-grader-{os.getpid()}")}
    assert v2.procs(v2.own) == [os.getpid(), 4242], "nobody moved"
    assert "512 MiB (no swap), 16 tasks, cpu weight 50" in plan.describe()
    plan.close()
    assert leftovers(v2.root) == []


def test_v2_ancestor_without_cpu_for_its_children(v2):
    (v2.own / "cgroup.procs").write_text(f"{os.getpid()}\n4242\n")
    app = v2.root / "user.slice/user-1000.slice/user@1000.service/app.slice"
    (app / "cgroup.subtree_control").write_text("memory pids\n")
    plan = cgroups.detect(MiB << 9, 16, 50, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "v2" and not plan.cpu, plan.reason
    assert plan.describe().endswith("memory 512 MiB (no swap), 16 tasks, no cpu controller")
    box = plan.new_box("x")
    assert not (Path(box.paths[0]) / "cpu.weight").exists() and (Path(box.paths[0]) / "pids.max").read_text() == "16"
    plan.close()
    assert leftovers(v2.root) == []


def test_v2_not_delegated_says_how_to_delegate(v2, monkeypatch):
    """A read-only tree (an ordinary user outside a delegated scope): no plan, and the report says why."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for group in [v2.root, *v2.root.rglob("*")]:
        if group.is_dir():
            group.chmod(0o555)
    try:
        plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    finally:
        for group in [v2.root, *v2.root.rglob("*")]:
            if group.is_dir():
                group.chmod(0o755)
    assert plan.kind == "none" and not plan.available
    assert plan.describe() == (
        "no cgroup limits (cgroup v2 at "
        f"{v2.root} is not delegated to uid 1000: run the grader under `systemd-run --user --scope -p Delegate=yes …`; "
        "no systemd-run): memory and process limits are per process (rlimits)"
    )
    assert leftovers(v2.root) == []
    assert plan.new_box("a").procs_files == [] and plan.new_box("a").remove()


def test_v2_missing_controllers(v2):
    (v2.own / "cgroup.controllers").write_text("cpu\n")
    for path in [v2.root, *v2.root.rglob("*")]:  # no ancestor gives its children memory either
        if (path / "cgroup.subtree_control").exists():
            (path / "cgroup.subtree_control").write_text("cpu\n")
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "none"
    assert plan.reason.startswith(f"cgroup v2 group /{OWN} has no memory or pids controller")
    assert leftovers(v2.root) == []


def test_v2_failure_to_enable_rolls_the_move_back(v2, monkeypatch):
    """If the own group refuses the controllers after the move, the grader goes back and nothing is left."""
    real = v2.write

    def refuse(path, text):
        if path == str(v2.own / "cgroup.subtree_control") and "+" in text:
            raise OSError(errno.EBUSY, "busy")
        return real(path, text)

    monkeypatch.setattr(cgroup_files, "write", refuse)
    for path in v2.root.rglob("cgroup.subtree_control"):  # and no ancestor to fall back on
        if path.parent != v2.own:
            path.write_text("cpu\n")
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "none"
    assert "cannot enable memory, pids, cpu for the children of" in plan.reason
    assert v2.procs(v2.own) == [os.getpid()] and leftovers(v2.root) == []


def test_v2_new_box_failure_raises_and_cleans(v2, monkeypatch):
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, **NO_SYSTEMD)
    real = v2.write

    def refuse(path, text):
        if path.endswith("pids.max"):
            raise OSError(errno.EINVAL, "invalid")
        return real(path, text)

    monkeypatch.setattr(cgroup_files, "write", refuse)
    with pytest.raises(cgroup_box.CgroupError):
        plan.new_box("a")
    assert [p.name for p in Path(plan.parents[""]).iterdir() if p.is_dir()] == ["grader"] and plan.boxes == []
    monkeypatch.setattr(cgroup_files, "write", real)
    plan.close()
    assert leftovers(v2.root) == []


# ----------------------------------------------------------------------------- v1 with a fake tree


@pytest.fixture
def v1(tmp_path, monkeypatch):
    root = tmp_path / "cg1"
    kernel = FakeKernel(root, 1, monkeypatch)
    for controller in ("memory", "pids", "cpu"):
        kernel.group(controller)
    kernel.group("memory/process_api")
    kernel.group("memory/process_api/abc", procs=[os.getpid()])
    kernel.cgroup_file = self_cgroup(tmp_path, "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/\n")
    return kernel


def test_v1_as_root_parents_under_the_own_groups(v1):
    plan = cgroups.detect(4 << 30, 64, 50, root=str(v1.root), self_cgroup=v1.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "v1", plan.reason
    parent = f"ddpm-grader-{os.getpid()}"
    assert plan.parents == {
        "memory": str(v1.root / "memory/process_api/abc" / parent),
        "pids": str(v1.root / "pids" / parent),
        "cpu": str(v1.root / "cpu" / parent),
    }
    assert plan.describe() == "cgroup v1 per sandbox: memory 4.0 GiB (no swap), 64 tasks, cpu shares 512"
    box = plan.new_box("bob")
    memory, pids, cpu = (Path(p) for p in box.paths)
    assert (memory / "memory.limit_in_bytes").read_text() == str(4 << 30)
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(4 << 30)
    assert (pids / "pids.max").read_text() == "64" and (cpu / "cpu.shares").read_text() == "512"
    assert [w[0].rsplit("/", 1)[1] for w in v1.writes[:2]] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    assert box.procs_files == [str(p / "cgroup.procs") for p in (memory, pids, cpu)]

    cgroup_files.join(box.procs_files)
    assert all(v1.procs(p) == [os.getpid()] for p in (memory, pids, cpu))
    assert v1.procs(v1.root / "memory/process_api/abc") == []
    assert not box.oom_killed()
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert box.oom_killed()
    (pids / "pids.events").write_text("max 5\n")
    assert box.pids_limited()
    assert box.remove() and not memory.exists() and not pids.exists() and not cpu.exists()
    plan.close()
    assert leftovers(v1.root) == []


def test_v1_old_kernel_oom_from_failcnt_and_no_cpu_no_memsw(v1):
    shutil.rmtree(v1.root / "cpu")
    del V1_FILES["memory"]["memory.memsw.limit_in_bytes"]
    try:
        (v1.root / "memory/process_api/abc/memory.memsw.limit_in_bytes").unlink()
        plan = cgroups.detect(MiB << 6, 8, 100, root=str(v1.root), self_cgroup=v1.cgroup_file, **NO_SYSTEMD)
    finally:
        V1_FILES["memory"]["memory.memsw.limit_in_bytes"] = "9223372036854771712\n"
    assert plan.kind == "v1" and plan.reason == "no cpu controller"
    assert plan.describe() == "cgroup v1 per sandbox: memory 64 MiB, 8 tasks, no cpu controller"
    box = plan.new_box("b")
    assert len(box.paths) == 2
    memory = Path(box.paths[0])
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")  # before 4.13
    assert not box.oom_killed()
    (memory / "memory.failcnt").write_text("17\n")
    assert box.oom_killed()
    plan.close()
    assert leftovers(v1.root) == []


def test_v1_not_root_or_read_only(v1, monkeypatch):
    (v1.root / "pids").chmod(0o555)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    try:
        plan = cgroups.detect(MiB << 6, 8, 100, root=str(v1.root), self_cgroup=v1.cgroup_file, **NO_SYSTEMD)
        assert plan.kind == "none"
        assert plan.reason == f"the cgroup v1 pids hierarchy at {v1.root / 'pids'} is read-only; no systemd-run"
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        plan = cgroups.detect(MiB << 6, 8, 100, root=str(v1.root), self_cgroup=v1.cgroup_file, **NO_SYSTEMD)
        assert "pids hierarchy at" in plan.reason and "is writable only by root" in plan.reason
    finally:
        (v1.root / "pids").chmod(0o755)
    assert leftovers(v1.root) == [], "the memory parent made before pids failed is gone again"


def test_v1_mkdir_failure_removes_the_parents_made(v1, monkeypatch):
    real = v1.mkdir

    def refuse_pids(path, mode=0o755):
        if "/pids/" in path:
            raise OSError(errno.ENOSPC, "too many groups")
        return real(path, mode)

    monkeypatch.setattr(cgroup_files, "mkdir", refuse_pids)
    plan = cgroups.detect(MiB << 6, 8, 100, root=str(v1.root), self_cgroup=v1.cgroup_file, **NO_SYSTEMD)
    assert plan.kind == "none" and "cannot create" in plan.reason and "too many groups" in plan.reason
    assert leftovers(v1.root) == []


# ----------------------------------------------------------------------------- systemd-run, none, odd input


def fake_program(tmp_path: Path, name: str, script: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def v2_not_delegated(v2, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(v2, "writable", lambda path: False)
    monkeypatch.setattr(cgroup_files, "writable", lambda path: False)
    return v2


def test_systemd_run_scope_when_the_user_manager_answers(v2_not_delegated, tmp_path):
    v2 = v2_not_delegated
    run = fake_program(tmp_path, "systemd-run", "exit 0")
    ctl = fake_program(tmp_path, "systemctl", "echo degraded; exit 1")
    start = time.monotonic()
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, systemd_run=run, systemctl=ctl)
    assert time.monotonic() - start < 1.0
    assert plan.kind == "systemd" and plan.available
    assert plan.describe() == "systemd-run --user --scope per sandbox: memory 4.0 GiB (no swap), 64 tasks, cpu weight 100"
    box = plan.new_box("carol; rm -rf /")
    unit = f"ddpm-grader-{os.getpid()}-box-1-carol__rm_-rf__"
    assert box.argv_prefix == [
        run, "--user", "--scope", "--quiet", "--collect", f"--unit={unit}",
        "-p", f"MemoryMax={4 << 30}", "-p", "MemorySwapMax=0", "-p", "TasksMax=64", "-p", "CPUWeight=100", "--",
    ]  # fmt: skip
    assert box.procs_files == [] and not box.oom_killed() and box.remove()
    plan.close()


def test_systemd_run_without_a_user_manager(v2_not_delegated, tmp_path):
    v2 = v2_not_delegated
    run = fake_program(tmp_path, "systemd-run", "echo 'Failed to connect to bus: No medium found' >&2; exit 1")
    ctl = fake_program(tmp_path, "systemctl", "echo offline; exit 1")
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, systemd_run=run, systemctl=ctl)
    assert plan.kind == "none"
    assert plan.reason.endswith("; no systemd user manager answers for uid 1000")
    hung = fake_program(tmp_path, "systemctl-hung", "exec sleep 5")
    start = time.monotonic()
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, systemd_run=run, systemctl=hung)
    assert plan.kind == "none" and time.monotonic() - start < 1.5, "a hung user manager costs at most the probe timeouts"


def test_systemd_user_manager_without_memory_controller(v2_not_delegated, tmp_path):
    v2 = v2_not_delegated
    manager = v2.root / "user.slice/user-1000.slice/user@1000.service"
    (manager / "cgroup.controllers").write_text("cpu pids\n")
    run = fake_program(tmp_path, "systemd-run", "exit 0")
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v2.root), self_cgroup=v2.cgroup_file, systemd_run=run, systemctl=None)
    assert plan.kind == "none" and plan.reason.endswith("the systemd user manager of uid 1000 has no memory controller")


def test_systemd_run_is_not_used_on_cgroup_v1(v1, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(cgroup_files, "writable", lambda path: False)
    run = fake_program(tmp_path, "systemd-run", "exit 0")
    plan = cgroups.detect(4 << 30, 64, 100, root=str(v1.root), self_cgroup=v1.cgroup_file, systemd_run=run, systemctl=None)
    assert plan.kind == "none" and plan.reason.endswith("; systemd-run --user needs cgroup v2")
    assert plan.describe().startswith("no cgroup limits (the cgroup v1 memory hierarchy at")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "0::/../../etc\n",
        "0::/gone (deleted)\n",
        "0::/\udcff\n".encode("utf-8", "surrogateescape").decode("latin-1"),
    ],
)
def test_detect_never_raises(tmp_path, text):
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("memory pids\n")
    plan = cgroups.detect(1, 1, 0, root=str(root), self_cgroup=self_cgroup(tmp_path, text), **NO_SYSTEMD)
    assert plan.kind in ("none", "v2") and plan.describe()
    plan.close()
    assert leftovers(root) == []


def test_no_cgroup_filesystem(tmp_path):
    plan = cgroups.detect(4 << 30, 64, 100, root=str(tmp_path / "nothing"), self_cgroup=str(tmp_path / "none"), **NO_SYSTEMD)
    assert plan.describe() == (
        f"no cgroup limits (no cgroup filesystem at {tmp_path / 'nothing'}; no systemd-run): "
        "memory and process limits are per process (rlimits)"
    )


def test_detect_survives_an_unexpected_error(monkeypatch, tmp_path):
    monkeypatch.setattr(cgroups, "own_groups", lambda path: 1 / 0)
    plan = cgroups.detect(4 << 30, 64, 100, root=str(tmp_path), **NO_SYSTEMD)
    assert plan.kind == "none" and "ZeroDivisionError" in plan.reason


def test_signal_pids_kills_only_listed_processes(tmp_path):
    victim = subprocess.Popen(["sleep", "30"])
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        procs = tmp_path / "cgroup.procs"
        procs.write_text(f"{victim.pid}\n999999999\n")
        cgroup_files.signal_pids(str(procs))
        assert victim.wait(5) == -signal.SIGKILL
        assert bystander.poll() is None
    finally:
        for process in (victim, bystander):
            process.kill()
            process.wait()


def test_signal_pids_without_pidfd(tmp_path, monkeypatch):
    """Kernels before 5.3 have no pidfd_open: a plain kill of the processes still listed."""

    def no_pidfd(pid):
        raise OSError(errno.ENOSYS, "not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    victim = subprocess.Popen(["sleep", "30"])
    try:
        procs = tmp_path / "cgroup.procs"
        procs.write_text(f"{victim.pid}\n")
        cgroup_files.signal_pids(str(procs))
        assert victim.wait(5) == -signal.SIGKILL
    finally:
        victim.kill()
        victim.wait()


def test_join_raises_when_it_cannot_join(tmp_path):
    """A launcher that could not join must not exec: the box would run without its limits."""
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    cgroup_files.join([str(procs)])
    assert procs.read_text() == str(os.getpid())
    with pytest.raises(OSError):
        cgroup_files.join([str(tmp_path / "missing" / "cgroup.procs")])


# ----------------------------------------------------------------------------- for real, on this machine

REAL_V1 = Path("/sys/fs/cgroup/memory/cgroup.procs").exists() and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
real_v1 = pytest.mark.skipif(not (REAL_V1 and os.geteuid() == 0), reason="needs root and a cgroup v1 hierarchy")


@pytest.fixture
def real_plan():
    start = time.monotonic()
    plan = cgroups.detect(64 * MiB, 8, 50)
    assert time.monotonic() - start < 1.0
    if plan.kind != "v1":
        plan.close()
        pytest.skip(f"cgroup v1 not usable here: {plan.describe()}")
    yield plan
    plan.close()
    assert not any(os.path.exists(p) for p in plan.parents.values()), "close() leaves nothing"


def run_in_box(box, code: str, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=functools.partial(cgroup_files.join, box.procs_files),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
    )


@real_v1
def test_real_v1_memory_limit_holds_for_the_box(real_plan):
    assert real_plan.describe() == "cgroup v1 per sandbox: memory 64 MiB (no swap), 8 tasks, cpu shares 512"
    box = real_plan.new_box("memory")
    result = run_in_box(box, "b = bytearray(b'x') * (200 << 20); print('alive')")
    assert result.returncode == -signal.SIGKILL and "alive" not in result.stdout
    assert box.oom_killed() and not box.pids_limited()
    small = real_plan.new_box("small")
    assert run_in_box(small, "b = bytearray(b'x') * (16 << 20); print('alive')").stdout == "alive\n"
    assert not small.oom_killed()
    assert box.remove() and small.remove()
    assert not any(os.path.exists(p) for p in box.paths + small.paths)


@real_v1
def test_real_v1_task_limit_holds_for_the_box_and_remove_kills_the_rest(real_plan):
    box = real_plan.new_box("fork")
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(20):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        os.close(1)\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(n)\n"
    )
    result = run_in_box(box, code)
    assert result.returncode == 0 and int(result.stdout) == 7, "8 tasks: the child and 7 of its forks"
    assert box.pids_limited()
    left = cgroup_files.pids(box.procs_files[0])
    assert len(left) == 7
    start = time.monotonic()
    assert box.remove() and time.monotonic() - start < 3
    assert not any(os.path.exists(p) for p in box.paths)
    for pid in left:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]


@real_v1
def test_real_v1_bwrap_as_the_sandbox_user_stays_in_the_box(real_plan):
    """As the grader would run it: join as root, drop to nobody, exec bwrap with its own PID namespace."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("no bwrap")
    code = "import os; b = bytearray(b'x') * (200 << 20); print('alive', os.getuid(), os.getpid())"
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc"]
    argv += ["--dev", "/dev", "--", sys.executable, "-c", code]
    box = real_plan.new_box("bwrap")
    result = subprocess.run(
        argv,
        preexec_fn=functools.partial(cgroup_files.join, box.procs_files, (65534, 65534)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "bwrap:" in result.stderr:
        pytest.skip(f"bwrap did not start as nobody here: {result.stderr.strip()[-200:]}")
    assert result.returncode != 0 and box.oom_killed()
    small = real_plan.new_box("bwrap-small")
    result = subprocess.run(
        argv[:-1] + ["import os; print(os.getuid(), os.getpid())"],
        preexec_fn=functools.partial(cgroup_files.join, small.procs_files, (65534, 65534)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "65534 2\n", result.stderr
    assert box.remove() and small.remove()


@real_v1
def test_real_popen_user_drops_before_preexec_so_join_must_drop_itself(real_plan):
    """Why join() takes ``user``: Popen(user=...) switches uid before preexec_fn, and nobody cannot join."""
    box = real_plan.new_box("order")
    with pytest.raises(subprocess.SubprocessError):
        subprocess.run(
            ["true"], user=65534, group=65534, extra_groups=[], preexec_fn=functools.partial(cgroup_files.join, box.procs_files)
        )
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getuid(), os.getgid(), os.getgroups())"],
        preexec_fn=functools.partial(cgroup_files.join, box.procs_files, (65534, 65534)),
        capture_output=True,
        text=True,
    )
    assert done.stdout == "65534 65534 []\n"
    assert box.remove()


def real_v2_mount() -> str | None:
    """A cgroup v2 mount this test may use as root: /sys/fs/cgroup itself, or the hybrid /sys/fs/cgroup/unified."""
    for path in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.exists(f"{path}/cgroup.controllers") and os.access(f"{path}/cgroup.procs", os.W_OK):
            return path
    return None


@pytest.mark.skipif(os.geteuid() != 0 or real_v2_mount() is None, reason="needs root and a cgroup v2 mount")
def test_real_v2_join_kill_and_rmdir():
    """The v2 mechanics the fakes stand in for: join through cgroup.procs, cgroup.kill (or signals), rmdir."""
    top = Path(real_v2_mount()) / f"{cgroup_box.PREFIX}-test-{os.getpid()}"
    top.mkdir()
    try:
        path = top / "box"
        path.mkdir()
        box = cgroup_box.Box(name="box", kind="v2", paths=[str(path)], procs_files=[str(path / "cgroup.procs")])
        code = (
            "import os, time\n"
            "for _ in range(5):\n"
            "    if os.fork() == 0:\n"
            "        os.close(1)\n"
            "        time.sleep(60)\n"
            "        os._exit(0)\n"
            "print('ok', flush=True)\n"
            "time.sleep(60)\n"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            preexec_fn=functools.partial(cgroup_files.join, box.procs_files),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdout.readline() == "ok\n"
        assert len(cgroup_files.pids(box.procs_files[0])) >= 6
        assert box.remove()
        assert child.wait(5) == -signal.SIGKILL and not path.exists()
    finally:
        for leftover in (top / "box", top):
            if leftover.exists():
                os.rmdir(leftover)


MOVE_SCRIPT = """
import functools, json, os, subprocess, sys
sys.path.insert(0, sys.argv[2])
from autograder.sandbox import cgroup_box, cgroup_files, cgroups

unified, me = sys.argv[1], os.getpid()
own = f"{unified}/ddpm-grader-test-{me}"
out = {}


def where(pid="self"):
    return [line for line in open(f"/proc/{pid}/cgroup").read().splitlines() if line.startswith("0::")][0][3:]


os.mkdir(own)
try:
    cgroup_files.write(f"{own}/cgroup.procs", str(me))  # the grader alone in its (delegated) group
    try:
        cgroup_files.write(f"{own}/cgroup.subtree_control", "+hugetlb")
        out["internal"] = "allowed"
    except OSError as error:
        out["internal"] = error.errno
    cgroups.REQUIRED = cgroups.CONTROLLERS = ("hugetlb",)  # the one controller v2 has on this machine
    cgroup_box.Plan.limit_files = lambda self, controller: []
    plan = cgroups.detect(1 << 30, 8, 100, root=unified, systemd_run=None, systemctl=None)
    out["kind"], out["reason"], out["location"] = plan.kind, plan.reason, plan.location
    out["grader_in"] = where()
    out["own_subtree"] = open(f"{own}/cgroup.subtree_control").read().split()
    parent = plan.parents.get("", "")
    out["parent_subtree"] = open(f"{parent}/cgroup.subtree_control").read().split() if parent else None
    box = plan.new_box("b")
    child = subprocess.Popen(["sleep", "30"], preexec_fn=functools.partial(cgroup_files.join, box.procs_files))
    out["child_in"] = where(child.pid)
    out["removed"] = box.remove()
    out["child_rc"] = child.wait(5)
    plan.close()
    out["grader_after"] = where()
    out["own_subtree_after"] = open(f"{own}/cgroup.subtree_control").read().split()
    out["left"] = sorted(entry.name for entry in os.scandir(own) if entry.is_dir())
finally:
    cgroup_files.write(f"{unified}/cgroup.procs", str(me))
    for path in (f"{own}/ddpm-grader-{me}/grader", f"{own}/ddpm-grader-{me}", own):
        if os.path.isdir(path):
            os.rmdir(path)
print(json.dumps(out))
"""


def hugetlb_v2() -> str | None:
    """The hybrid v2 mount with a domain controller and no groups of anyone else (so enabling it at the root touches nobody)."""
    unified = "/sys/fs/cgroup/unified"
    if os.geteuid() != 0 or "hugetlb" not in cgroup_files.controllers(unified):
        return None
    if any(entry.is_dir() and not entry.name.startswith(cgroup_box.PREFIX) for entry in os.scandir(unified)):
        return None
    return unified


@pytest.mark.skipif(hugetlb_v2() is None, reason="needs root and a v2 mount with a spare domain controller")
def test_real_v2_no_internal_processes_move(tmp_path):
    """The v2 order against the real kernel: the rule the fake enforces, the grader's move, and the way back."""
    unified = hugetlb_v2()
    control = Path(unified) / "cgroup.subtree_control"
    enabled_before = "hugetlb" in control.read_text().split()
    if not enabled_before:
        cgroup_files.write(str(control), "+hugetlb")
    try:
        done = subprocess.run(
            [sys.executable, "-c", MOVE_SCRIPT, unified, str(Path(__file__).resolve().parents[1])],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if not enabled_before:
            cgroup_files.try_write(str(control), "-hugetlb")
    assert done.returncode == 0, done.stderr
    out = __import__("json").loads(done.stdout)
    pid_own = out["location"].split("/")[1]
    assert out["internal"] == errno.EBUSY, "v2 refuses controllers for the children of a group with a process"
    assert out["kind"] == "v2", out["reason"]
    assert out["grader_in"] == f"/{pid_own}/{out['location'].split('/')[2]}/grader"
    assert out["own_subtree"] == ["hugetlb"] and out["parent_subtree"] == ["hugetlb"]
    assert out["child_in"].startswith(out["location"] + "/box-1-b")
    assert out["removed"] and out["child_rc"] == -signal.SIGKILL
    assert out["grader_after"] == f"/{pid_own}" and out["own_subtree_after"] == [] and out["left"] == []
