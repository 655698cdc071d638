"""Container mode: grading where user namespaces are refused (Gradescope, PrairieLearn, most Docker hosts). Trusted side.

Under Docker's default seccomp profile bubblewrap cannot create the namespaces it needs, so there the
container itself is the per-submission sandbox (contract §6.3), and inside it student code runs as a
separate unprivileged user (``ddpm-student``, made by the image's setup, or by the first grading where setup
did not: never a shared user such as ``nobody``, since every process of that user is killed). Each sandbox
process is started through ``launcher.py`` as for bubblewrap (a fresh keyring, the box's cgroups where the
container has them, supplementary groups, gid and uid dropped), which then sets ``no_new_privs``, loads the
same seccomp filter, with every socket family but ``AF_UNIX`` refused (no network even where the container
has one), and execs the interpreter on the runner, which lowers the same rlimits. The box is written by the
grader (read-only to the student); the student's writable folder (``HOME``, ``TMPDIR``, the working folder)
is a fresh 0700 folder of that user beside it. Results come back over the same pipes. After every sandbox
process, before its results count, every process of that user is killed (``kill(-1, SIGKILL)`` as that uid
until none is left) and the files that user left at the top of the shared temporary folders are removed. One
sandbox runs at a time (the kill reaches every process of the uid).

What is not isolated, unlike bubblewrap (README, "Which isolation runs where"): the container's file system
is seen as the container's own users see it (``/usr``, ``/etc``, world-readable files; the course must be
readable by root only: :func:`detect` checks it from inside and refuses otherwise), ``/proc`` shows the
container's processes (not their environment or memory), and world-writable folders (``/tmp``, ``/dev/shm``)
are shared with the container. It needs root (to switch users), and it is chosen only by the harnesses
(``grade --isolation container|auto``), never by a local ``grade`` on its own.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BUBBLEWRAP, CONTAINER, AUTO = "bubblewrap", "container", "auto"
MODES = (BUBBLEWRAP, CONTAINER, AUTO)  # grade --isolation: "container" and "auto" are for the harnesses only
STUDENT_USER = "ddpm-student"  # the dedicated user setup makes; nothing else of the image runs as it
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
LAUNCHER = Path(__file__).resolve().parent / "launcher.py"

USERADD = f"useradd --system --no-create-home --shell /usr/sbin/nologin {STUDENT_USER}"
# What a harness image's setup (as root) runs so that container mode grades there: the dedicated student user,
# and the course (the bundle: solutions, hidden tests) readable by root only. COURSE is replaced by the folder.
SETUP_LINES = f"""\
# Container mode (where bubblewrap cannot make namespaces): student code runs as this unprivileged user,
# and the course (solutions, hidden tests) is readable by root only.
id -u {STUDENT_USER} >/dev/null 2>&1 || {USERADD}
chmod 700 COURSE
"""


def setup_lines(course: str) -> str:
    """The shell lines a harness's setup runs (as root) for container mode; ``course``: the bundle's folder."""
    return SETUP_LINES.replace("COURSE", course)


class ContainerUnavailable(RuntimeError):
    """Container mode cannot run here (not root, no unprivileged user, the course readable by the student user)."""


@dataclass(frozen=True)
class StudentUser:
    """The unprivileged user student code runs as in container mode (``ddpm-student``)."""

    uid: int
    gid: int
    name: str
    made_now: bool  # True: the image's setup did not make it, grading did (said in the report)

    def as_tuple(self) -> tuple[int, int, str]:
        """``(uid, gid, name)``, as ``Isolation.user`` holds the user the launcher drops to."""
        return (self.uid, self.gid, self.name)


def student_user(name: str = STUDENT_USER) -> StudentUser:
    """The unprivileged user student code runs as (``ddpm-student``). Where the image's setup did not make it, it is
    made now (``useradd --system``): never an existing shared user such as ``nobody``, whose other processes the
    kill after each sandbox would reach. ``ContainerUnavailable`` if this process is not root or it cannot be made."""
    if os.geteuid() != 0:
        raise ContainerUnavailable(
            "container mode runs student code as a separate user, which needs root (as in Gradescope's and "
            "PrairieLearn's containers); run the harness as root, or grade with bubblewrap (the default)"
        )
    made = False
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        try:
            subprocess.run(
                [useradd, *USERADD.split()[1:-1], name],
                capture_output=True,
                timeout=60,
                check=True,
            )
            entry, made = pwd.getpwnam(name), True
        except (OSError, subprocess.SubprocessError, KeyError) as error:
            raise ContainerUnavailable(
                f"container mode needs its own unprivileged user {name!r}, which is missing and could not be made "
                f"({type(error).__name__}): add `useradd --system {name}` to the image's setup"
            ) from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ContainerUnavailable(f"the user {name!r} is root or in root's group: container mode needs an unprivileged one")
    return StudentUser(entry.pw_uid, entry.pw_gid, entry.pw_name, made)


def lock_course(folder: str | os.PathLike) -> None:
    """Make ``folder`` (the course) readable by root only, as the setup lines do; for harnesses run as root."""
    if os.geteuid() == 0:
        os.chmod(folder, 0o700)


def probe_code(hidden: list[str]) -> str:
    """Python run as the student user by :func:`autograder.sandbox.detection.detect`: it exits non-zero with a message when
    the interpreter or torch does not start, or when any ``hidden`` folder (the course, the submissions) can be
    listed or one of its files read."""
    return (
        "import os, numpy, torch\n"
        f"for p in {hidden!r}:\n"
        "    try:\n"
        "        names = os.listdir(p)\n"
        "    except (PermissionError, FileNotFoundError):\n"
        "        continue\n"
        "    raise SystemExit(f'{p} is readable by the student user ({len(names)} entries): chmod 700 it (as root)')\n"
    )


def reap(user: StudentUser, python: str = sys.executable) -> None:
    """Kill every process of ``user`` (the launcher, as that uid, loops ``kill(-1, SIGKILL)`` until none is
    left), then remove what it left at the top of the shared temporary folders. Raises ``OSError`` when
    processes survive: grading must not go on beside them."""
    spec = json.dumps({"reap": [user.uid, user.gid]})
    done = subprocess.run([python, "-I", "-S", str(LAUNCHER), spec], capture_output=True, timeout=60, cwd="/")
    if done.returncode != 0:
        raise OSError(f"could not kill the processes of {user.name}: {done.stderr.decode(errors='replace').strip()}")
    for folder in SHARED_TMP:
        remove_owned(folder, user.uid)


def remove_owned(folder: str, uid: int) -> None:
    """Remove the entries of ``folder`` that ``uid`` owns (links not followed; never raises)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if st.st_uid != uid:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
