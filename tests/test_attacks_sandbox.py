"""The sandbox at container strength (issue 18 rows 1-2, items 1-3; issue 25): attacks run inside real sandboxes.

Each test runs an attacker's script as the runner of a real bubblewrap sandbox, with every bubblewrap this
machine has: the one on PATH, and Debian 11's 0.4.1 (no ``--disable-userns``, ``--clearenv`` or ``--size``)
where ``$DDPM_OLD_BWRAP`` names it (``.ci/run`` fetches it with ``.ci/old-bubblewrap``). The seccomp tests build
the filter with an errno the kernel never returns for these calls, so a refusal the test sees is the filter's.
"""

import errno
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from autograder.paths import ROOT
from autograder.sandbox import bubblewrap, detection, launcher, syscall_filter
from autograder.sandbox.isolation import Isolation, work_base
from autograder.sandbox.limits import Limits
from autograder.sandbox.protocol import SandboxProcess

OLD_BWRAP = os.environ.get("DDPM_OLD_BWRAP", "")
MARK = 133  # EHWPOISON, "memory page has hardware error": no call below returns it by itself
X86_64 = platform.machine() == "x86_64"


def _bwraps():
    found = [pytest.param(None, id="bwrap-on-path")]
    reason = "set DDPM_OLD_BWRAP to Debian 11's bwrap 0.4.1 (.ci/old-bubblewrap fetches it)"
    found.append(
        pytest.param(OLD_BWRAP, id="bwrap-0.4.1", marks=pytest.mark.skipif(not os.access(OLD_BWRAP, os.X_OK), reason=reason))
    )
    return found


@pytest.fixture(params=_bwraps())
def isolation(request, monkeypatch):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    if request.param:
        monkeypatch.setenv(bubblewrap.BWRAP_ENV, request.param)
    made = detection.detect()
    yield made
    made.close()


def _run(isolation, code, filter_errno=None):
    """Run ``code`` in a sandbox of ``isolation``; the JSON it printed last. ``filter_errno``: the seccomp filter
    built to refuse with that errno instead of EPERM."""
    if filter_errno is not None:
        isolation = Isolation(**{**vars(isolation), "filter": syscall_filter.build(refusal=filter_errno)})
    try:
        done = detection.run_script(isolation, Limits(), textwrap.dedent(code), timeout=120)
    finally:
        if filter_errno is not None:
            isolation.filter.remove()
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


SYSCALLS = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(number, *args):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_ulong(a) for a in args])
    if result == 0 and number in (56,):  # a clone that went through: the child leaves at once
        os._exit(0)
    return result, ctypes.get_errno()
"""

# x86_64 numbers, with arguments that would do something if the call were allowed
REFUSED_CALLS = {
    "add_key": (248, 0, 0, 0, 0, 0),
    "request_key": (249, 0, 0, 0, 0),
    "keyctl": (250, 0, 0xFFFFFFFD),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "ptrace": (101, 0, 0, 0, 0),  # PTRACE_TRACEME
    "mount": (165, 0, 0, 0, 0, 0),
    "umount2": (166, 0, 0),
    "unshare(CLONE_NEWUSER)": (272, 0x10000000),
    "unshare(CLONE_NEWNS)": (272, 0x00020000),
    "setns": (308, 0, 0),
    "bpf": (321, 0, 0, 0),
    "perf_event_open": (298, 0, 0, 0, 0, 0),
    "userfaultfd": (323, 0),
    "kexec_load": (246, 0, 0, 0, 0),
    "init_module": (175, 0, 0, 0),
    "finit_module": (313, 0, 0, 0),
    "delete_module": (176, 0, 0),
    "process_vm_readv": (310, 1, 0, 0, 0, 0, 0),
    "io_uring_setup": (425, 1, 0),
    "open_tree": (428, 0, 0, 0),
    "fsopen": (430, 0, 0),
    "pivot_root": (155, 0, 0),
    "chroot": (161, 0),
    "syslog": (103, 3, 0, 0),
    "personality(ADDR_NO_RANDOMIZE)": (135, 0x0040000),
    "personality(PER_LINUX32)": (135, 0x8),
    "personality(1 << 33 | ADDR_NO_RANDOMIZE)": (135, (1 << 33) | 0x0040000),
    "clone(CLONE_NEWUSER)": (56, 0x10000000 | 17, 0, 0, 0, 0),
    "clone(CLONE_NEWNET)": (56, 0x40000000 | 17, 0, 0, 0, 0),
    "clone(CLONE_NEWPID)": (56, 0x20000000 | 17, 0, 0, 0, 0),
}


@pytest.mark.skipif(not X86_64, reason="the call numbers are x86_64's")
def test_the_filter_refuses_each_call_and_torch_still_runs(isolation):
    """Item 2: every call in the list fails with the filter's errno inside the sandbox; clone3 says ENOSYS (the C
    library then falls back to clone); the harmless forms still work: a personality query, fork, threads, torch."""
    code = (
        SYSCALLS
        + f"""
results = {{name: call(*args) for name, args in {REFUSED_CALLS!r}.items()}}
results["clone3"] = call(435, 0, 0)
results["personality query"] = call(135, 0xFFFFFFFF)
import threading, subprocess, sys, numpy, torch
torch.set_num_threads(2)
x = torch.randn(64, 64)
threads = [threading.Thread(target=lambda: (x @ x).sum()) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
child = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({{"results": results, "torch": float((x @ x.T).trace() > 0), "child": child.stdout.strip(),
                  "seccomp": status["Seccomp"].strip(), "no_new_privs": status["NoNewPrivs"].strip()}}))
"""
    )
    seen = _run(isolation, code, filter_errno=MARK)
    results = seen["results"]
    not_refused = {name: result for name, result in results.items() if name in REFUSED_CALLS and result != [-1, MARK]}
    assert not_refused == {}, not_refused
    assert results["clone3"] == [-1, errno.ENOSYS]
    assert results["personality query"][0] >= 0
    assert seen["torch"] == 1.0 and seen["child"] == "42"
    assert seen["seccomp"] == "2" and seen["no_new_privs"] == "1"


def test_nested_user_namespaces_are_refused(isolation):
    """Issue 25: with or without --disable-userns, the tools an attacker would use cannot make a user namespace."""
    code = """
import json, os, subprocess
tried = {}
for argv in (["unshare", "--user", "true"], ["unshare", "--user", "--map-root-user", "true"]):
    try:
        tried[" ".join(argv)] = subprocess.run(argv, capture_output=True).returncode
    except FileNotFoundError:
        tried[" ".join(argv)] = "missing"
try:
    os.unshare(os.CLONE_NEWUSER)
    tried["os.unshare"] = 0
except AttributeError:
    tried["os.unshare"] = "missing"
except OSError as error:
    tried["os.unshare"] = error.errno
print(json.dumps(tried))
"""
    tried = _run(isolation, code)
    assert 0 not in tried.values(), tried
    assert any(v not in ("missing",) for v in tried.values()), tried


def test_proc_sys_and_the_rest_of_proc_are_read_only(isolation):
    """Item 1: kernel knobs cannot be written from the box, whatever bubblewrap decided at set-up: /proc/sys is a
    read-only mount, and no file there or at the top of /proc is writable."""
    code = """
import json, os
writable = []
for top in os.listdir("/proc"):
    path = "/proc/" + top
    if not top.isdigit() and top not in ("self", "thread-self") and os.path.isfile(path) and os.access(path, os.W_OK):
        writable.append(path)
for folder, _dirs, files in os.walk("/proc/sys"):
    writable += [os.path.join(folder, f) for f in files if os.access(os.path.join(folder, f), os.W_OK)]
try:
    with open("/proc/sys/kernel/core_pattern", "w") as out:
        out.write("|/tmp/pwn")
    wrote = "yes"
except OSError as error:
    wrote = error.errno
mounts = [line.split() for line in open("/proc/self/mountinfo")]
options = [m[5] for m in mounts if m[4] == "/proc/sys"]
print(json.dumps({"writable": writable[:20], "wrote": wrote, "options": options}))
"""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    seen = _run(isolation, code)
    assert seen["writable"] == [] and seen["wrote"] in (errno.EROFS, errno.EACCES, errno.EPERM), seen
    assert seen["options"] and all(o.split(",")[0] == "ro" for o in seen["options"]), seen
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


def test_keys_written_by_one_sandbox_never_reach_the_next(isolation):
    """Row 2: a student links the reference code it was given into the session or user keyring; a later student
    looks for it. Both steps are refused, and no key with that description exists afterwards."""
    write = (
        SYSCALLS
        + """
data = b"def q_sample(...): reference"
tried = {}
for ring, name in ((0xFFFFFFFD, "session"), (0xFFFFFFFC, "user"), (0xFFFFFFFB, "user-session")):
    buffer = ctypes.create_string_buffer(data)
    result = libc.syscall(ctypes.c_long(248), b"user", b"ddpm-stolen-ref", buffer, ctypes.c_size_t(len(data)),
                          ctypes.c_int(ring - (1 << 32)))
    tried[name] = [result, ctypes.get_errno()]
print(json.dumps(tried))
"""
    )
    read = (
        SYSCALLS
        + """
search = libc.syscall(ctypes.c_long(249), b"user", b"ddpm-stolen-ref", None, ctypes.c_int(0))
keys = open("/proc/keys").read() if os.path.exists("/proc/keys") else ""
print(json.dumps({"request_key": [search, ctypes.get_errno()], "listed": "ddpm-stolen-ref" in keys}))
"""
    )
    wrote = _run(isolation, write)
    assert all(result == -1 and code == errno.EPERM for result, code in wrote.values()), wrote
    found = _run(isolation, read)
    assert found == {"request_key": [-1, errno.EPERM], "listed": False}, found
    assert "ddpm-stolen-ref" not in Path("/proc/keys").read_text()


KEYRING_OF_SELF = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.syscall(250, 0, ctypes.c_int(-3), 0))  # KEYCTL_GET_KEYRING_ID of the session keyring, no creation
"""


@pytest.mark.skipif(platform.machine() not in launcher.KEYCTL, reason="keyctl's number is not known here")
def test_the_launcher_gives_each_sandbox_a_fresh_session_keyring(tmp_path):
    """Row 2's second lock: even a call the filter let through would find a new, empty session keyring."""
    script = tmp_path / "show.py"
    script.write_text(KEYRING_OF_SELF)
    ours = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout.strip()
    spec = json.dumps({"argv": [sys.executable, str(script)], "procs": [], "user": None})
    theirs = subprocess.run([sys.executable, "-I", "-S", launcher.__file__, spec], capture_output=True, text=True)
    assert theirs.returncode == 0, theirs.stderr
    assert int(theirs.stdout) > 0 and theirs.stdout.strip() != ours


def test_the_launcher_refuses_to_start_bwrap_half_prepared(tmp_path):
    """A cgroup it cannot join stops the launch with a line that says why, and nothing is started."""
    canary = tmp_path / "started"
    spec = {"argv": ["/bin/sh", "-c", f"touch {canary}"], "procs": [str(tmp_path / "no-such-cgroup" / "cgroup.procs")]}
    done = subprocess.run([sys.executable, "-I", "-S", launcher.__file__, json.dumps(spec)], capture_output=True, text=True)
    assert done.returncode == launcher.FAILED and done.stderr.startswith("launcher: FileNotFoundError")
    assert not canary.exists()


def test_the_sandbox_runs_as_an_unprivileged_uid_seen_from_outside(isolation):
    """Item 1: the kernel's view of the sandbox's uid (read from the host's /proc, not from inside) is never 0."""
    code = """
import json, os
print(json.dumps({"pid_inside": os.getpid()}))
import time; time.sleep(0.1)
"""
    box = Path(tempfile.mkdtemp(prefix="ddpm-test-"))
    box.chmod(0o755)
    (box / "sandbox_runner.py").write_text(code + "\nimport sys; sys.stdin.read()\n")
    (box / "sandbox_runner.py").chmod(0o644)
    proc = SandboxProcess(box, Limits(), isolation, None, box)
    try:
        for _ in range(200):
            proc.read_init_pid()
            if proc.init_pid:
                break
            time.sleep(0.05)
        assert proc.init_pid, "bwrap did not report its child"
        uids = {}
        for pid in [proc.proc.pid, proc.init_pid, *_children(proc.init_pid)]:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            uids[pid] = [int(v) for v in status["Uid"].split()]
        assert uids and all(0 not in ids for ids in uids.values()), uids
        expected = isolation.user[0] if isolation.user else os.getuid()
        assert all(set(ids) == {expected} for ids in uids.values()), uids
    finally:
        proc.kill()
        shutil.rmtree(box, ignore_errors=True)


def _children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


# ----------------------------------------------------------------------------- as root


def _root_only_interpreter(tmp_path):
    """A virtual environment in a 0700 folder (like a venv or pyenv under /root): ``nobody`` cannot run it."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(private / "venv")], check=True)
    site = next((private / "venv" / "lib").glob("python3*/site-packages"))
    (site / "course.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    return private / "venv" / "bin" / "python"


@pytest.mark.skipif(os.getuid() != 0, reason="grading as root")
def test_root_with_an_interpreter_the_sandbox_user_cannot_run_refuses(tmp_path):
    """Row 1: the old fallback ran the sandbox in a user namespace mapped to uid 0. Now grading refuses, says how to
    grade as an ordinary user, and writes no row at all (certainly none that says a limit was not enforced)."""
    python = _root_only_interpreter(tmp_path)
    subs = tmp_path / "subs" / "alice" / "helpers"
    subs.mkdir(parents=True)
    (subs / "schedules.py").write_text("x = 1\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [str(python), "-m", "autograder", "grade", str(tmp_path / "subs"), "--out", str(out), "--no-nbgrader"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "refusing to run student code" in done.stderr and "grade as an ordinary user" in done.stderr
    assert "'nobody'" in done.stderr and str(python) in done.stderr
    assert not (out / "grades.csv").exists()


@pytest.mark.skipif(os.getuid() != 0, reason="grading as root")
def test_root_never_falls_back_to_a_root_mapped_sandbox(monkeypatch):
    """Row 1 at the unit level: a sandbox user that is root, or missing, is refused before anything runs."""
    for name in ("root", "no-such-user-ddpm"):
        with pytest.raises(bubblewrap.SandboxUnavailable, match="unprivileged --sandbox-user"):
            detection.detect(user_name=name)


def test_no_bwrap_or_a_bwrap_without_seccomp_refuses(tmp_path, monkeypatch):
    """Issue 25 item 2: a bubblewrap that cannot load a seccomp filter is refused with its version and the minimum."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\ncase \"$1\" in --version) echo 'bubblewrap 0.1.7';; *) echo '    --unshare-all  x';; esac\n")
    fake.chmod(0o755)
    bubblewrap.read_bubblewrap.cache_clear()
    monkeypatch.setenv(bubblewrap.BWRAP_ENV, str(fake))
    with pytest.raises(bubblewrap.SandboxUnavailable, match=r"bubblewrap 0\.1\.7 .* lacks .*--seccomp.*0\.4\.1 or newer"):
        detection.detect()
    monkeypatch.setenv(bubblewrap.BWRAP_ENV, str(tmp_path / "missing"))
    with pytest.raises(bubblewrap.SandboxUnavailable, match="does not run"):
        detection.detect()


def test_options_are_read_from_the_bubblewrap_in_use(monkeypatch):
    """Issue 25 item 1: the argv holds only options the binary listed in its --help."""
    fake = bubblewrap.Bubblewrap("/x/bwrap", "0.4.1", frozenset(OLD_OPTIONS))
    made = Isolation(fake, None, [], (), None, None)
    argv = made.command(Path("/box"), Limits(), status_fd=5, seccomp_fd=6, empty=Path("/e"))
    used = {a for a in argv[: argv.index("--")] if a.startswith("--")}
    assert used <= OLD_OPTIONS, used - OLD_OPTIONS
    assert "--seccomp" in used and "--disable-userns" not in used
    new = Isolation(bubblewrap.Bubblewrap("/x/bwrap", "0.8.0", frozenset(OLD_OPTIONS | NEW_OPTIONS)), None, [], (), None, None)
    argv = new.command(Path("/box"), Limits(), status_fd=5, seccomp_fd=6)
    assert {"--disable-userns", "--clearenv", "--size"} <= set(argv)


OLD_OPTIONS = set(
    "--help --version --args --unshare-all --share-net --unshare-user --unshare-user-try --unshare-ipc --unshare-pid "
    "--unshare-net --unshare-uts --unshare-cgroup --unshare-cgroup-try --userns --userns2 --pidns --uid --gid --hostname "
    "--chdir --setenv --unsetenv --lock-file --sync-fd --bind --bind-try --dev-bind --dev-bind-try --ro-bind "
    "--ro-bind-try --remount-ro --exec-label --file-label --proc --dev --tmpfs --mqueue --dir --file --bind-data "
    "--ro-bind-data --symlink --seccomp --block-fd --userns-block-fd --info-fd --json-status-fd --new-session "
    "--die-with-parent --as-pid-1 --cap-add --cap-drop".split()
)  # bubblewrap 0.4.1's --help, Debian 11
NEW_OPTIONS = {"--disable-userns", "--assert-userns-disabled", "--clearenv", "--size", "--perms", "--chmod"}


def test_the_box_limits_hold_for_the_whole_fork_tree(monkeypatch):
    """Item 3: where cgroups are available, memory and tasks are capped for the box, not per process: four children
    of 320 MB each do not all fit in a 1 GiB box (each alone is far below its rlimit), and a fork bomb stops at
    the box's task count."""
    limits = Limits(box_memory_bytes=1 << 30, processes=24)
    made = detection.detect(limits=limits)
    try:
        if not (made.cgroup_plan and made.cgroup_plan.available):
            pytest.skip(f"no cgroups for this user here: {made.cgroup_plan.describe()}")
        code = """
import json, os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(320 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(2)
        os._exit(0)
    children.append(pid)
killed = sum(os.waitpid(pid, 0)[1] != 0 for pid in children)
forks, refused = 0, 0
sleepers = []
for _ in range(60):
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    sleepers.append(pid)
print(json.dumps({"killed": killed, "forked": len(sleepers), "refused": refused}))
"""
        done = detection.run_script(made, limits, code, timeout=120)
        seen = json.loads(done.stdout.decode().strip().splitlines()[-1])
        assert seen["killed"] >= 1 and seen["refused"] == 1 and seen["forked"] < limits.processes, seen
    finally:
        made.close()


@pytest.mark.skipif(os.getuid() != 0, reason="grading as root")
def test_as_root_boxes_go_where_the_sandbox_user_can_reach_them(tmp_path, monkeypatch):
    """With sudo, TMPDIR is often inside root's 0700 home: the boxes then go to a shared temporary folder (the
    sandbox user could not bind them otherwise), and a correct hand-in still runs."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    made = detection.detect()
    try:
        assert work_base(made) == "/tmp"
        done = detection.run_script(made, Limits(), "import torch; print(int(torch.ones(3).sum()))")
        assert done.returncode == 0 and done.stdout.strip() == b"3", done.stderr[-2000:]
        assert list(private.iterdir()) == []
    finally:
        made.close()


@pytest.mark.skipif(not X86_64, reason="the x32 ABI is x86_64's")
def test_the_x32_door_to_the_same_calls_is_shut(isolation):
    """The same refused call through the x32 ABI (number | 0x40000000), which a filter written for x86_64 alone
    would miss: the process is killed (SIGSYS) before the call runs."""
    code = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall(ctypes.c_long(0x40000000 + 248), 0, 0, 0, 0, 0)  # add_key, x32
print("the call returned")
"""
    done = detection.run_script(isolation, Limits(), code, timeout=120)
    assert b"returned" not in done.stdout and done.returncode != 0, (done.returncode, done.stdout)
