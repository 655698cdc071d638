"""The limits of one sandbox: wall clock per task and per import, rlimits, tmpfs sizes, the whole box's cgroup. Trusted side."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    """What one sandbox may use; the runner lowers the rlimits before it imports student code, cgroups bind the box."""

    task_seconds: float = 30.0  # wall clock per task
    import_seconds: float = 60.0  # wall clock to import torch and the student's modules
    cpu_seconds: int = 300  # RLIMIT_CPU of the sandbox process
    memory_bytes: int = 8 << 30  # RLIMIT_AS (torch alone maps ~3.3 GB of address space)
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE
    tmp_bytes: int = 256 << 20  # size of the private /tmp and /dev/shm (each)
    processes: int = 64  # RLIMIT_NPROC (threads count too), and the box's pids limit where cgroups allow
    box_memory_bytes: int = 3 << 30  # the whole box's memory, /tmp included, where cgroups allow (torch needs ~0.5 GB)
    cpu_weight: int = 50  # the box's CPU share against the grader's other work (cgroup v2 weight; default 100)
    max_restarts: int = 12
