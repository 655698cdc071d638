"""The kernel's cgroup files, read and written one value at a time; ``join``, which a launcher calls. Trusted side.

Every read, write, ``mkdir`` and ``rmdir`` of a cgroup goes through this module's functions, called as
module attributes (``cgroup_files.write(...)``), so that tests fake the kernel by replacing them here.
Only the standard library: ``launcher.py`` imports this module while it runs as ``python -I -S``.
"""

from __future__ import annotations

import errno
import os
import signal


def read(path: str) -> str | None:
    """The text of a cgroup file, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def write(path: str, text: str) -> None:
    """One write(2) of ``text``: cgroup files take one value per write, and report errors there."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)


def try_write(path: str, text: str) -> bool:
    """``write``, answering whether it worked instead of raising."""
    try:
        write(path, text)
        return True
    except OSError:
        return False


def keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (memory.events, memory.oom_control, pids.events) as a dict of ints."""
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def pids(procs_file: str) -> list[int]:
    """The PIDs a ``cgroup.procs`` file lists (none when it is missing)."""
    return [int(word) for word in (read(procs_file) or "").split() if word.isdigit()]


def writable(path: str) -> bool:
    """Whether this uid may write ``path`` (a cgroup folder or one of its files)."""
    return os.access(path, os.W_OK)


def controllers(path: str) -> set[str]:
    """The controllers a cgroup v2 group has (its ``cgroup.controllers``)."""
    return set((read(os.path.join(path, "cgroup.controllers")) or "").split())


def mkdir(path: str, mode: int = 0o755) -> None:
    """mkdir one cgroup (module attributes, like rmdir and write, so that tests can fake the kernel)."""
    os.mkdir(path, mode)


def rmdir(path: str) -> None:
    """rmdir one cgroup: the kernel removes its interface files with it."""
    os.rmdir(path)


def signal_pids(procs_file: str) -> None:
    """SIGKILL every process listed in ``procs_file``, and only those.

    A PID read from the file may exit and be reused by an unrelated process before the
    signal; a pidfd pins the process, and the file is read again after the pidfds are open,
    so only a process that is still listed (still in the box) is signalled.
    """
    pidfds, plain = {}, []
    for pid in pids(procs_file):
        try:
            pidfds[pid] = os.pidfd_open(pid)
        except AttributeError:
            plain.append(pid)
        except OSError as error:
            if error.errno == errno.ENOSYS:  # before Linux 5.3: a plain kill, re-checked just before
                plain.append(pid)
    try:
        still = set(pids(procs_file))
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
        write(path, pid)
    if user is not None:
        os.setgroups([])
        os.setgid(user[1])
        os.setuid(user[0])
