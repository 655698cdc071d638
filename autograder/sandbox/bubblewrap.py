"""The bubblewrap binary (``bwrap``) the sandbox runs, and the options it has. Trusted side.

bwrap's options are read from its own ``--help``, so bubblewrap 0.4.1 (Debian 11) to today's work, each with
what it can do (``Isolation.command`` uses an option only where the binary lists it); too old for the
guarantees (no ``--seccomp``), it is refused. :class:`SandboxUnavailable` is what every part of the sandbox
raises when student code must not run here, with :data:`ENABLE_HINT` saying how to make it run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

ENABLE_HINT = (
    "install bubblewrap (`sudo apt-get install bubblewrap`) and allow unprivileged user namespaces "
    "(on Ubuntu 23.10+: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), "
    "or grade trusted code only with --unsafe-no-sandbox"
)
BWRAP_ENV = "DDPM_BWRAP"  # the bwrap binary to use instead of the one on PATH (an older or newer build)
# what the sandbox cannot do without (all in 0.4.1); the rest is used where the binary lists it
REQUIRED_OPTIONS = frozenset(
    "--unshare-all --unshare-user --seccomp --ro-bind --proc --dev --tmpfs --die-with-parent --new-session --symlink".split()
)
MIN_BWRAP = "0.4.1"  # the oldest tested; what matters is --seccomp, which every bubblewrap since 0.1.8 has


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create namespaces here: student code must not run."""


@dataclass(frozen=True)
class Bubblewrap:
    """One bwrap binary and the options it has (read from its own ``--help``: versions differ, see issue 25)."""

    path: str
    version: str
    options: frozenset[str]

    def has(self, option: str) -> bool:
        """Whether this bwrap lists ``option`` in its ``--help``."""
        return option in self.options

    @property
    def userns_disabled(self) -> bool:
        """Whether this bwrap can refuse nested user namespaces itself (``--disable-userns``)."""
        return self.has("--disable-userns")


def find_bubblewrap(path: str | None = None) -> Bubblewrap:
    """The bwrap to use (``$DDPM_BWRAP``, else ``bwrap`` on PATH) and its options; ``SandboxUnavailable`` without one."""
    path = path or os.environ.get(BWRAP_ENV) or shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {ENABLE_HINT}")
    return read_bubblewrap(os.path.abspath(path))


@lru_cache(maxsize=8)
def read_bubblewrap(path: str) -> Bubblewrap:
    """The version and options of the bwrap at ``path``, read once per path (``read_bubblewrap.cache_clear()``
    forgets them); ``SandboxUnavailable`` when it does not run or lacks :data:`REQUIRED_OPTIONS`."""
    try:
        helped = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30, errors="replace")
        versioned = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, errors="replace")
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxUnavailable(f"{path} does not run ({type(error).__name__}: {error}): {ENABLE_HINT}") from None
    options = frozenset(re.findall(r"^\s+(--[a-z0-9-]+)", helped.stdout + helped.stderr, re.MULTILINE))
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", versioned.stdout + versioned.stderr)
    version = match.group(1) if match else "unknown"
    if not REQUIRED_OPTIONS <= options:
        raise SandboxUnavailable(
            f"bubblewrap {version} at {path} lacks {', '.join(sorted(REQUIRED_OPTIONS - options))}: the sandbox needs bubblewrap "
            f"{MIN_BWRAP} or newer (a seccomp filter, user namespaces): {ENABLE_HINT}"
        )
    return Bubblewrap(path, version, options)
