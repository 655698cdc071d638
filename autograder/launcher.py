"""Starts one sandbox's bubblewrap: run as ``python -I -S launcher.py JSON`` by ``autograder.sandbox``. Trusted side.

Between the grader and ``bwrap`` this process, still as the grader, (1) joins a fresh anonymous
session keyring, so nothing in the box inherits the grader's (the seccomp filter refuses the keyring
calls as well: two locks on one door); (2) writes its own PID into the sandbox's cgroups, so that
bwrap and every process the student starts are counted against the limits of the whole box;
(3) as root, drops to the unprivileged sandbox user (supplementary groups first, then gid, then uid);
then it becomes ``bwrap`` with ``execv``, keeping the descriptors the grader passed (the seccomp
program, the status pipe). Doing this in a separate interpreter, not in a ``preexec_fn``, keeps the
grader's threads (``--jobs``) safe from fork-time deadlocks.

JSON: ``{"argv": [...], "procs": [cgroup.procs files], "user": [uid, gid] or null}``. Any failure
exits with code 121 and a line on stderr that starts with ``launcher:``.
"""

import ctypes
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script, -I
from autograder import cgroups  # noqa: E402

FAILED = 121
KEYCTL_JOIN_SESSION_KEYRING = 1
# keyctl(2)'s number: the C library has no wrapper, and libkeyutils is rarely installed.
KEYCTL = {"x86_64": 250, "aarch64": 219, "ppc64le": 283, "s390x": 280, "riscv64": 219}


def join_fresh_keyring():
    number = KEYCTL.get(platform.machine())
    if number is None:
        return  # the seccomp filter still refuses every keyring call inside the box
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        code = ctypes.get_errno()
        if code != 38:  # ENOSYS: a kernel without keyrings has nothing to inherit
            raise OSError(code, f"keyctl(JOIN_SESSION_KEYRING): {os.strerror(code)}")


def main(spec):
    join_fresh_keyring()
    user = tuple(int(v) for v in spec["user"]) if spec.get("user") else None
    cgroups.join(spec.get("procs") or [], user)
    if user and (os.getuid() != user[0] or os.geteuid() != user[0] or user[0] == 0):
        raise OSError(f"could not drop to uid {user[0]}")
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
