"""The seccomp filter that bubblewrap loads into every sandbox (``bwrap --seccomp FD``). Trusted side.

A default-allow filter that refuses, with ``EPERM``, every system call Docker's default profile
refuses to a container without capabilities, and more: the kernel keyrings (not namespaced: a key
linked by one student would be read by the next), ``ptrace`` and cross-process memory access,
every way to make or enter a namespace (``unshare``, ``setns``, ``clone`` with a namespace flag;
``clone3``, whose flags the filter cannot read, answers ``ENOSYS`` so the C library falls back to
``clone``), ``mount`` and the new mount API, ``bpf``, ``perf_event_open``, ``userfaultfd``,
``io_uring``, ``kexec_*``, module loading, and ``personality`` changes other than the harmless ones.
Refusing namespaces here is what keeps nested user namespaces out of the box where bubblewrap is
too old for ``--disable-userns`` (issue 25).

The filter is compiled with libseccomp through its Python binding: Debian's ``python3-seccomp``
(``import seccomp``) where the grader's interpreter has it, else ``pyseccomp`` from PyPI (a ctypes
binding with the same API, in ``requirements-dev.txt``), which needs only ``libseccomp.so.2``.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# Refused outright (EPERM). Names the running kernel or libseccomp does not know are skipped.
REFUSED = {
    "keyrings (not namespaced: shared by every process of the grading user)": ("add_key", "keyctl", "request_key"),
    "other processes' memory": (
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
    ),
    "namespaces": ("unshare", "setns"),
    "mounts": (
        "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
        "move_mount", "mount_setattr", "name_to_handle_at", "open_by_handle_at",
    ),
    "kernel interfaces a sandbox never needs": (
        "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "query_module", "get_kernel_syms", "acct", "quotactl", "quotactl_fd", "lookup_dcookie", "nfsservctl",
        "swapon", "swapoff", "reboot", "syslog", "sysfs", "_sysctl", "uselib", "ustat", "vhangup", "iopl", "ioperm",
        "vm86", "vm86old", "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex",
        "get_mempolicy", "set_mempolicy", "mbind", "move_pages", "fanotify_init",
    ),
}  # fmt: skip

# Namespace flags of clone(2): a clone that asks for any of them is refused.
CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "CLONE_NEWTIME": 0x00000080,
}
TIOCSTI, TIOCLINUX = 0x5412, 0x541C  # ioctls that type into, or drive, the grader's terminal
# Container mode (no network namespace): every socket family but AF_UNIX is refused, so student code has no
# network (AF_INET, AF_INET6), no raw packets (AF_PACKET) and no kernel sockets (AF_NETLINK, AF_ALG, ...).
AF_UNIX = 1


class FilterUnavailable(RuntimeError):
    """No libseccomp binding (or no libseccomp) here: the filter cannot be built."""


def _binding() -> ModuleType:
    try:
        import seccomp  # libseccomp's own binding (Debian: python3-seccomp)

        return seccomp
    except ImportError:
        pass
    try:
        import pyseccomp  # the same API over ctypes (PyPI), needs libseccomp.so.2

        return pyseccomp
    except (ImportError, OSError, AttributeError) as error:
        raise FilterUnavailable(
            f"no libseccomp binding ({type(error).__name__}: {error}): `pip install pyseccomp` (it needs libseccomp, "
            "`sudo apt-get install libseccomp2`), or Debian's `python3-seccomp`"
        ) from None


@dataclass
class Filter:
    """A compiled filter: the BPF program in an anonymous memory file (``memfd``), so that nothing is left on disk
    whatever becomes of the grader; ``open_fd`` hands each bwrap its own descriptor."""

    memfd: int
    binding: str
    refused: tuple[str, ...]
    network_refused: bool = False

    def open_fd(self) -> int:
        """A fresh read-only descriptor on the program, at its start (bwrap reads to the end, so one per sandbox)."""
        return os.open(f"/proc/self/fd/{self.memfd}", os.O_RDONLY | os.O_CLOEXEC)

    def describe(self) -> str:
        """The report's words for this filter: how many calls it refuses, and which binding built it."""
        sockets = "; sockets other than AF_UNIX refused" if self.network_refused else ""
        return f"seccomp filter ({len(self.refused)} calls refused, namespace flags of clone refused{sockets}; {self.binding})"

    def program(self) -> bytes:
        """The BPF program's bytes (``struct sock_filter`` entries), for a launcher that loads it itself."""
        with open(self.open_fd(), "rb") as handle:
            return handle.read()

    def remove(self) -> None:
        """Close the program's memory file (idempotent); no later sandbox can load it."""
        if self.memfd >= 0:
            os.close(self.memfd)
            self.memfd = -1


def _names() -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for group in REFUSED.values() for name in group))


def build(refusal: int = errno.EPERM, refuse_network: bool = False) -> Filter:
    """Compile the filter for this machine's architecture into a private file; ``FilterUnavailable`` if it cannot.

    ``refusal``: the errno a refused call returns (tests pick one the kernel never gives, to tell the filter's
    refusal from the kernel's own). ``refuse_network``: refuse ``socket()`` for every family but ``AF_UNIX``
    (container mode, where no network namespace keeps student code off the network)."""
    seccomp = _binding()
    eperm = seccomp.ERRNO(refusal)
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        refused = []
        for name in _names():
            try:
                rules.add_rule(eperm, name)
                refused.append(name)
            except (RuntimeError, ValueError, OSError):
                pass  # unknown to this kernel/libseccomp: nothing to refuse
        for flag in CLONE_NAMESPACE_FLAGS.values():
            rules.add_rule(eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        try:
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
            refused.append("clone3")
        except (RuntimeError, ValueError, OSError):
            pass
        _refuse_personality(rules, seccomp, eperm)
        if refuse_network:
            rules.add_rule(eperm, "socket", seccomp.Arg(0, seccomp.NE, AF_UNIX))
        for request in (TIOCSTI, TIOCLINUX):
            rules.add_rule(eperm, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
        memfd = os.memfd_create("ddpm-seccomp", os.MFD_CLOEXEC)
        with os.fdopen(os.dup(memfd), "wb") as out:
            rules.export_bpf(out)
    except (RuntimeError, ValueError, OSError, AttributeError) as error:
        raise FilterUnavailable(f"libseccomp could not build the filter: {type(error).__name__}: {error}") from None
    return Filter(memfd, getattr(seccomp, "__name__", "seccomp"), tuple(refused), refuse_network)


def _refuse_personality(rules: Any, seccomp: ModuleType, eperm: Any) -> None:
    """``personality(x)`` answers only the query (``x == 0xffffffff``) and ``PER_LINUX`` (``x == 0``), what
    Python and the C library use; changing it (``ADDR_NO_RANDOMIZE`` turns address randomisation off) is refused.

    libseccomp compares each argument at most once per rule and OR-s the rules of one call, so "neither
    all zeros nor all ones" is written as: some bit ``i`` is set and the next bit (cyclically) is clear,
    which every other 32-bit value has. The kernel reads the low 32 bits only: anything above is refused."""
    for bit in range(32):
        pair = (1 << bit) | (1 << ((bit + 1) % 32))
        rules.add_rule(eperm, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, pair, 1 << bit))
    rules.add_rule(eperm, "personality", seccomp.Arg(0, seccomp.GT, 0xFFFFFFFF))
