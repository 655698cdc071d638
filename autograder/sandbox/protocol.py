"""The process protocol of one sandbox: JSON requests on its stdin, lines and ``RESULT`` frames on its stdout. Trusted side.

The trusted side never opens a path the student can write: dependencies go in over stdin (one JSON object
a line: ``{"run": task, "deps": {...}, "call": ...}`` or ``{"exit": true}``), and the runner answers with
lines (``IMPORT module``, ``READY {json}``) and ``RESULT task size`` followed by ``size`` bytes of ``.npz``,
read with ``allow_pickle=False`` and size-capped. A line or frame nobody asked for at that moment is dropped.
A sandbox is killed through its PID namespace (SIGKILL to its init kills every process in it; bwrap reports
that init's PID on the status pipe), so concurrent runs never touch each other's processes.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np

from autograder.sandbox.allow_list import sandbox_env
from autograder.sandbox.cgroup_box import Box
from autograder.sandbox.isolation import Isolation
from autograder.sandbox.limits import Limits

MAX_OUTPUT_BYTES = 64 << 20
MAX_LINE_BYTES = 1 << 20
STDERR_TAIL = 200_000


def read_npz(data: bytes) -> dict[str, Any]:
    """Plain arrays from untrusted ``.npz`` bytes: no pickle, bounded size."""
    if len(data) > MAX_OUTPUT_BYTES:
        raise ValueError("output too large")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_OUTPUT_BYTES:
            raise ValueError("output too large once decompressed")
    out = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        for key in arrays.files:
            value = arrays[key]
            out[key] = str(value) if value.dtype.kind == "U" else np.array(value)
    return out


class SandboxProcess:
    """One sandbox process: a line protocol on its stdout, ``RESULT`` frames with bytes."""

    def __init__(
        self, box: Path, limits: Limits, isolation: Isolation, cgroup: Box | None = None, empty: Path | None = None
    ) -> None:
        status_r, status_w = os.pipe() if isolation.bwrap is not None else (None, None)
        fds: tuple[int, ...] = ()
        try:
            argv, fds = isolation.launch(box, limits, status_w, cgroup, empty)
            self.proc = subprocess.Popen(
                argv,
                cwd="/",
                env=sandbox_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(fd for fd in (status_w, *fds) if fd is not None),
                start_new_session=True,
            )
        except BaseException:
            if status_r is not None:
                os.close(status_r)
            raise
        finally:
            for fd in (status_w, *fds):
                if fd is not None:
                    os.close(fd)
        # all three are pipes (PIPE above): typed as such here, once
        self.stdin = cast(io.BufferedWriter, self.proc.stdin)
        self.stdout = cast(io.BufferedReader, self.proc.stdout)
        self.stderr = cast(io.BufferedReader, self.proc.stderr)
        self.status_fd = status_r
        self.cgroup = cgroup
        self.init_pid: int | None = None
        self.buffer = b""
        self.current_import: str | None = None  # the module the runner said it is importing (IMPORT lines)
        self.stderr_tail = bytearray()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self) -> None:
        for chunk in iter(lambda: self.stderr.read1(65536), b""):
            self.stderr_tail += chunk
            del self.stderr_tail[:-STDERR_TAIL]

    def read_init_pid(self) -> None:
        """The PID (outside) of the sandbox's init: killing it kills its whole PID namespace."""
        if self.status_fd is None or self.init_pid is not None:
            return
        ready, _, _ = select.select([self.status_fd], [], [], 0)
        if ready:
            data = os.read(self.status_fd, 4096)
            try:
                self.init_pid = int(json.loads(data.split(b"\n")[0])["child-pid"])
            except (ValueError, KeyError, IndexError):
                pass

    def send(self, message: dict[str, Any]) -> bool:
        """Write ``message`` as one JSON line on the runner's stdin; False when the process is gone."""
        try:
            self.stdin.write((json.dumps(message) + "\n").encode())
            self.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on timeout or when the process closed its stdout."""
        self.read_init_pid()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        fd = self.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not ready:
            return self.proc.poll() is None or self._fill(min(deadline, time.monotonic()))
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def expect(self, word: str, task: str | None = None, deadline: float = 0.0) -> str | bytes | None:
        """The first line ``word [task] ...`` (with its frame for ``RESULT``); None on timeout or death.

        Lines and frames that are not what was asked for at this moment are dropped."""
        while True:
            while b"\n" in self.buffer:
                line, rest = self.buffer.split(b"\n", 1)
                words = line.decode("utf-8", "replace").split(" ", 2)
                if words[0] == "RESULT" and len(words) == 3 and words[2].isdigit():
                    size = int(words[2])
                    if size > MAX_OUTPUT_BYTES:
                        return None
                    while len(rest) < size:
                        self.buffer = line + b"\n" + rest
                        if not self._fill(deadline):
                            return None
                        rest = self.buffer.split(b"\n", 1)[1]
                    self.buffer = rest[size:]
                    if word == "RESULT" and words[1] == task:
                        return rest[:size]
                    continue
                self.buffer = rest
                if words[0] == "IMPORT" and len(words) > 1:
                    self.current_import = words[1].strip()
                if words[0] == word and word != "RESULT":
                    return " ".join(words[1:])
            if len(self.buffer) > MAX_LINE_BYTES:
                self.buffer = b""
            if not self._fill(deadline):
                return None

    def kill(self) -> None:
        """SIGKILL the sandbox's init (its whole PID namespace) and the launcher, then close the pipes."""
        self.read_init_pid()
        for pid in (self.init_pid, self.proc.pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.status_fd is not None:
            os.close(self.status_fd)
            self.status_fd = None

    def describe_death(self) -> str:
        """Why the process ended, in words (an out-of-memory kill of the box, a signal, an exit code)."""
        code = self.proc.poll()
        if code is not None and self.cgroup is not None and self.cgroup.oom_killed():
            return "killed: out of the box's memory limit"
        if code is None:
            return "no answer"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            return f"killed by {name}" + (" (CPU time limit)" if name == "SIGXCPU" else "")
        return f"exited with code {code}"
