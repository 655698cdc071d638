"""Starts one sandbox's bubblewrap: run as ``python -I -S launcher.py JSON`` by ``autograder.sandbox.isolation``. Trusted side.

Between the grader and ``bwrap`` this process, still as the grader, (1) joins a fresh anonymous
session keyring, so nothing in the box inherits the grader's (the seccomp filter refuses the keyring
calls as well: two locks on one door); (2) writes its own PID into the sandbox's cgroups, so that
bwrap and every process the student starts are counted against the limits of the whole box;
(3) as root, drops to the unprivileged sandbox user (supplementary groups first, then gid, then uid);
then it becomes ``bwrap`` with ``execv``, keeping the descriptors the grader passed (the seccomp
program, the status pipe). Doing this in a separate interpreter, not in a ``preexec_fn``, keeps the
grader's threads (``--jobs``) safe from fork-time deadlocks.

Container mode (``autograder.container``: no bubblewrap, the container is the sandbox) has no bwrap to
load the seccomp filter: after the drop to the student user this process sets ``no_new_privs``, loads the
program read from ``seccomp_fd`` itself, moves to ``home`` (the student's own writable folder) and execs
the interpreter. ``{"reap": [uid, gid]}`` instead drops to that user and sends SIGKILL to every process it
may signal (``kill(-1)``: all of that uid's but itself) until none is left.

JSON: ``{"argv": [...], "procs": [cgroup.procs files], "user": [uid, gid] or null, "seccomp_fd": fd or null,
"home": folder or null}`` (``home``: container mode's fresh writable folder, made here as root for the user).
Any failure exits with code 121 and a line on stderr that starts with ``launcher:``.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import struct
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # run as a script, -I
from autograder.sandbox import cgroup_files  # noqa: E402

FAILED = 121
KEYCTL_JOIN_SESSION_KEYRING = 1
# keyctl(2)'s number: the C library has no wrapper, and libkeyutils is rarely installed.
KEYCTL = {"x86_64": 250, "aarch64": 219, "ppc64le": 283, "s390x": 280, "riscv64": 219}


def join_fresh_keyring() -> None:
    """Join a fresh anonymous session keyring, so that nothing in the box inherits the grader's keys."""
    number = KEYCTL.get(platform.machine())
    if number is None:
        return  # the seccomp filter still refuses every keyring call inside the box
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        code = ctypes.get_errno()
        if code != 38:  # ENOSYS: a kernel without keyrings has nothing to inherit
            raise OSError(code, f"keyctl(JOIN_SESSION_KEYRING): {os.strerror(code)}")


PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
REAP_SECONDS = 10.0


def load_seccomp(fd: int) -> None:
    """Install the BPF program in ``fd`` (libseccomp's export: 8-byte ``struct sock_filter`` entries) on this
    process; ``execv`` keeps it, and so does every child. ``no_new_privs`` first: no setuid binary undoes it."""
    with os.fdopen(fd, "rb") as handle:
        program = handle.read()
    if not program or len(program) % 8:
        raise OSError(f"the seccomp program is {len(program)} bytes, not whole filter entries")
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buffer))  # struct sock_fprog
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    for call in ((PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0)):
        if libc.prctl(*(ctypes.c_ulong(v) for v in call)) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"prctl({call[0]}): {os.strerror(code)}")


def alive(uid: int) -> list[int]:
    """PIDs of the processes whose real uid is ``uid`` and that are not zombies (a zombie is dead: it holds no
    memory and runs nothing, and only its parent can remove it), read from ``/proc``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid and not fields.get("State", "").strip().startswith(("Z", "X")):
            found.append(int(name))
    return found


def reap(user: tuple[int, int]) -> None:
    """As ``user``: SIGKILL every process of that uid (``kill(-1)`` reaches exactly those) until none is left alive."""
    os.setgroups([])
    os.setgid(user[1])
    os.setuid(user[0])
    me = os.getpid()
    deadline = time.monotonic() + REAP_SECONDS
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return  # ESRCH: nothing of that user is left
        left = [pid for pid in alive(user[0]) if pid != me]
        if not left:
            return
        if time.monotonic() > deadline:
            raise OSError(f"processes {left[:10]} of uid {user[0]} still alive after {REAP_SECONDS:g} s")
        time.sleep(0.005)


def main(spec: dict[str, Any]) -> None:
    """Prepare this process as the JSON ``spec`` says, then become bwrap (or the runner, in container mode)."""
    if spec.get("reap"):
        reap((int(spec["reap"][0]), int(spec["reap"][1])))
        return
    join_fresh_keyring()
    user = (int(spec["user"][0]), int(spec["user"][1])) if spec.get("user") else None
    home = spec.get("home")
    if home:  # container mode: the student's only writable folder, made fresh and handed over before the drop
        if not user:
            raise OSError("a home folder is only for a sandbox user")
        os.mkdir(home, 0o700)
        os.chown(home, user[0], user[1])
    cgroup_files.join(spec.get("procs") or [], user)
    if user and (os.getuid() != user[0] or os.geteuid() != user[0] or user[0] == 0):
        raise OSError(f"could not drop to uid {user[0]}")
    if home:
        os.chdir(home)
        os.environ.update(HOME=home, TMPDIR=home)
    if spec.get("seccomp_fd") is not None:
        load_seccomp(int(spec["seccomp_fd"]))
    argv = [str(a) for a in spec["argv"]]
    try:
        os.execv(argv[0], argv)
    except OSError as error:
        raise OSError(error.errno, f"cannot run {argv[0]} as uid {os.getuid()}: {error.strerror}") from None


if __name__ == "__main__":
    try:
        main(json.loads(sys.argv[1]))
    except BaseException as error:  # noqa: B036 - say why, in one line, and never start bwrap half-prepared
        print(f"launcher: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(FAILED)
