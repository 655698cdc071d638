"""One student's code in sandboxes (:func:`run_student`): the box, the tasks, a fresh process after each crash. Trusted side.

The grader writes a read-only ``/box`` for each sandbox process from texts and bytes (never by copying a path
a student chose): the student's ``helpers/``, the stubs, the task inputs, the in-box runner and ``job.json``.
Tasks are sent one at a time over the process protocol (``autograder.sandbox.protocol``); a task that times
out or kills its process is recorded as such and the remaining tasks go to a fresh process (at most
``Limits.max_restarts``), and a module whose import hangs or kills the process is replaced by its stub.
The answer is a :class:`~autograder.records.SandboxRun`, plain data that scoring reads.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from autograder.records import ImportReport, SandboxRun, TaskResult
from autograder.sandbox.cgroup_box import Plan
from autograder.sandbox.isolation import Isolation, new_cgroup, student_home, work_base
from autograder.sandbox.limits import Limits
from autograder.sandbox.protocol import STDERR_TAIL, SandboxProcess, read_npz

BOX_FILES = Path(__file__).resolve().parent / "box"  # copied into every box


class SandboxTask(Protocol):
    """What :func:`run_student` needs of a task (a hidden test's ``Task``, a self-check's ``Check``).

    A task may also have ``call`` (a function exercise's ``{"function": ...}``) and ``module``."""

    @property
    def name(self) -> str: ...

    @property
    def deps(self) -> Sequence[str]: ...


def _write_box(
    box: Path,
    helpers: dict[str, bytes],
    stubs: dict[str, str],
    inputs: dict[str, bytes],
    limits: Limits,
    modules: Sequence[str],
    stubbed: set[str],
) -> None:
    """The read-only ``/box``: written here, by the grader, from texts and bytes (never by copying paths)."""
    box.mkdir(mode=0o755)
    for folder in ("helpers", "stubs", "inputs"):
        (box / folder).mkdir(mode=0o755)
    for name, data in helpers.items():
        (box / "helpers" / name).write_bytes(data)
    for name, text in stubs.items():
        (box / "stubs" / f"{name}.py").write_text(text)
    for name, data in inputs.items():
        (box / "inputs" / f"{name}.npz").write_bytes(data)
    shutil.copyfile(BOX_FILES / "sandbox_runner.py", box / "sandbox_runner.py")
    shutil.copyfile(BOX_FILES / "standins.py", box / "standins.py")
    shutil.copyfile(BOX_FILES / "calls.py", box / "calls.py")
    job = {
        "modules": list(modules),
        "stubbed": sorted(stubbed),
        "limits": {
            "cpu": limits.cpu_seconds,
            "memory": limits.memory_bytes,
            "file": limits.file_bytes,
            "import_seconds": limits.import_seconds,  # the runner leaves time for its clean-import comparison
        },
        "processes": limits.processes,
    }
    (box / "job.json").write_text(json.dumps(job))
    for path in [box, *box.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _call(task: SandboxTask) -> dict[str, Any] | None:
    """How the runner calls the student for ``task``: its call spec (``autograder/sandbox/box/calls.py``), else None."""
    call = getattr(task, "call", None)
    return call if isinstance(call, dict) else None


def run_student(
    helpers: dict[str, bytes],
    stubs: dict[str, str],
    inputs: dict[str, bytes],
    tasks: Iterable[SandboxTask],
    dep_sources: dict[str, str],
    limits: Limits,
    isolation: Isolation,
    *,
    modules: Sequence[str],
) -> SandboxRun:
    """Run ``tasks`` on one student's code; what came back, task by task (every task has a result).

    ``helpers``: ``{file name: bytes}`` of the sandbox's ``helpers/`` package; ``stubs``: ``{module: text}``
    (used for a module that does not import); ``inputs``: ``{task: npz bytes}``; ``modules``: the exercise
    modules in course order (``autograder.assignment.exercises.MODULES``), imported in that order."""
    workdir = Path(tempfile.mkdtemp(prefix="ddpm-sbx-", dir=work_base(isolation)))
    workdir.chmod(0o711)  # the unprivileged sandbox user may traverse to its box, not list it
    run, stderr = SandboxRun(imports=ImportReport()), bytearray()
    empty = workdir / "empty"  # what a hidden folder inside an allowed bind looks like
    empty.mkdir(mode=0o755)
    empty.chmod(0o755)
    plan = isolation.box_plan()
    with isolation.exclusive():
        try:
            job = (helpers, stubs, inputs, dep_sources, tuple(modules))
            _run_boxes(workdir, job, list(tasks), limits, isolation, plan, run, stderr)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    run.stderr = bytes(stderr[-STDERR_TAIL:]).decode("utf-8", "replace")
    return run


def _run_boxes(
    workdir: Path,
    job: tuple[dict[str, bytes], dict[str, str], dict[str, bytes], dict[str, str], tuple[str, ...]],
    pending: list[SandboxTask],
    limits: Limits,
    isolation: Isolation,
    plan: Plan | None,
    run: SandboxRun,
    stderr: bytearray,
) -> None:
    """The sandbox processes of one student, a fresh one after each crash or time-out (``run_student``'s loop)."""
    helpers, stubs, inputs, dep_sources, modules = job
    results, imports, events = run.results, run.imports, run.events
    restarts = 0
    stubbed: set[str] = set()  # exercise modules whose import hung or killed the process: their stubs stand in
    empty = workdir / "empty"
    while pending and restarts <= limits.max_restarts:
        box = workdir / f"box{restarts}"
        _write_box(box, helpers, stubs, inputs, limits, modules, stubbed)
        cgroup = new_cgroup(plan, f"{workdir.name}-{restarts}", events)
        proc = SandboxProcess(box, limits, isolation, cgroup, empty)
        try:
            ready = proc.expect("READY", deadline=time.monotonic() + limits.import_seconds)
            if ready is None:
                module = proc.current_import
                why = "timed out" if proc.proc.poll() is None else proc.describe_death()
                restarts += 1
                if module is not None and module in modules and module not in stubbed:
                    stubbed.add(module)
                    imports.errors[module] = f"importing helpers/{module}.py {why}"
                    events.append(f"import of helpers/{module}.py {why}: replaced by the stub")
                    continue
                events.append(f"sandbox could not start ({why})")
                break
            try:
                info = json.loads(ready)
                for module, message in dict(info.get("errors", {})).items():
                    imports.errors.setdefault(str(module), str(message))
                for module, names in dict(info.get("replaced", {})).items():
                    imports.replaced.setdefault(str(module), [str(n) for n in list(names)[:20]])
            except (ValueError, TypeError, AttributeError):
                pass
            while pending:
                task = pending[0]
                start = time.monotonic()
                sent = proc.send({"run": task.name, "deps": {dep: dep_sources[dep] for dep in task.deps}, "call": _call(task)})
                frame = proc.expect("RESULT", task.name, start + limits.task_seconds) if sent else None
                if isinstance(frame, bytes):
                    try:
                        results[task.name] = TaskResult("ok", "", read_npz(frame))
                    except Exception as error:
                        results[task.name] = TaskResult("error", f"unreadable output: {error}")
                    pending.pop(0)
                    continue
                timed_out = proc.proc.poll() is None and time.monotonic() - start >= limits.task_seconds
                proc.kill()
                if timed_out:
                    results[task.name] = TaskResult("timeout", f"no answer within {limits.task_seconds:g} s (infinite loop?)")
                else:
                    results[task.name] = TaskResult("crashed", proc.describe_death())
                events.append(f"{task.name}: {results[task.name].status} ({results[task.name].detail})")
                pending.pop(0)
                restarts += 1
                break  # a fresh process for the remaining tasks
            else:
                proc.send({"exit": True})
        finally:
            proc.kill()
            if cgroup is not None:
                cgroup.remove()  # whatever the student left running in the box goes with it
            isolation.reap()  # container mode: every process of the student user, before the next box
            stderr += proc.stderr_tail
            shutil.rmtree(box, ignore_errors=True)
            shutil.rmtree(student_home(box), ignore_errors=True)
    for task in pending:
        results.setdefault(task.name, TaskResult("not run", "sandbox gave up"))
