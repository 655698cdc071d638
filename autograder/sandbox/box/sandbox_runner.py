"""Runs one student's code inside the bubblewrap sandbox. UNTRUSTED: this process imports student code.

Started by ``autograder.sandbox.bubblewrap`` as ``python -I /box/sandbox_runner.py`` with a read-only ``/box``
that holds only: ``helpers/`` (the student's files and the grader's provided modules),
``stubs/`` (public stubs, used when a student module cannot be imported), ``inputs/*.npz``,
``job.json``, ``standins.py``, ``calls.py`` (how each task calls the student: the grader sends a
call spec with each task) and this file. Reference code of a dependency arrives over
stdin only with the task that needs it, after the dependency's own task was answered.

Protocol on the original stdout (student prints go to stderr): ``IMPORT <module>`` ...
``READY <json>``; then for each ``{"run": task, "deps": {...}, "call": spec}`` line on stdin (``spec``:
the task's call spec, interpreted by ``calls.py``; none for a self-check ``check:<exercise>``),
``RESULT <task> <n>`` followed by ``n`` bytes of ``.npz``. ``{"exit": true}`` ends it.

Tampering evidence: a watched library function that a student module's import replaced is reported only
when a clean interpreter, started from this file with ``--clean-import`` (same sandbox, ``-I``, no ``/box``
on its path, no student code), importing the same library modules does not replace it the same way.
"""

import contextlib
import importlib
import importlib.util
import io
import json
import os
import re
import resource
import subprocess
import sys
import time
import types
from typing import Any

BOX = os.path.dirname(os.path.abspath(__file__))
STARTED = time.monotonic()
WATCHED = ("torch", "torch.testing", "torch.nn.functional", "numpy", "numpy.testing", "math", "builtins")
# what the runner itself imports before any student module: the clean child starts from the same state
BASELINE = ("numpy", "torch", "torch.nn", *WATCHED)
CLEAN_FLAG = "--clean-import"
CLEAN_SECONDS = 25.0  # at most this long for the clean child, and never past the import deadline
CLEAN_MAX_MODULES = 4000
WRAP_DEPTH = 4
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def library_values() -> dict[str, object]:
    """``{"torch.allclose": object, ...}``: every callable in the libraries that checks rely on."""
    found = {}
    for name in WATCHED:
        module = sys.modules.get(name) or importlib.import_module(name)
        for attr, value in list(vars(module).items()):
            if callable(value) and not attr.startswith("__"):
                found[f"{name}.{attr}"] = value
    return found


def _describe(obj: Any) -> list[str]:
    """One layer of a fingerprint: the object's type, ``__module__``, ``__qualname__`` and the file and line
    of its code, as text. Reading them may run code (a student's object); a failure is a value too."""
    parts = []
    for read in (
        lambda: f"{type(obj).__module__}.{type(obj).__qualname__}",
        lambda: obj.__module__,
        lambda: getattr(obj, "__qualname__", None) or obj.__name__,
        lambda: f"{obj.__code__.co_filename}:{obj.__code__.co_firstlineno}",
    ):
        try:
            parts.append(str(read())[:300])
        except BaseException:  # noqa: B036 - a missing attribute, or a hostile one
            parts.append("-")
    return parts


def fingerprint(value: object, before: object) -> list[list[str]]:
    """What replaced ``before``: ``value`` and what it wraps (``__wrapped__``), layer by layer, down to
    ``before`` itself (the marker ``<before>``). A library that wraps the original and a student who wraps
    their own function first, or replaces it outright, leave different layers."""
    layers = []
    for _ in range(WRAP_DEPTH):
        if value is before:
            layers.append(["<before>"])
            break
        layers.append(_describe(value))
        try:
            value = vars(value).get("__wrapped__") if hasattr(value, "__dict__") else None
        except BaseException:  # noqa: B036
            value = None
        if value is None:
            break
    return layers


def clean_import_main() -> int:
    """The clean child (``python -I sandbox_runner.py --clean-import``, no ``/box`` on its path, no student
    code): import what the runner imports, then ``pre`` (library modules earlier student modules brought
    in), then ``modules``; print the fingerprint of each of ``names`` that the imports of ``modules`` changed."""
    sys.path[:] = [p for p in sys.path if p and not (os.path.abspath(p) + os.sep).startswith(BOX + os.sep)]
    request = json.loads(sys.stdin.read())
    for name in BASELINE:
        importlib.import_module(name)

    def quietly_import(names):
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: B036 - a module that cannot be imported by name explains nothing
                pass

    quietly_import(request["pre"])
    before = library_values()
    quietly_import(request["modules"])
    after = library_values()
    changed = {}
    for name in request["names"]:
        if name in before and after.get(name) is not before[name]:
            changed[name] = fingerprint(after.get(name), before[name])
    (sys.__stdout__ or sys.stdout).write("CLEAN " + json.dumps(changed) + "\n")
    return 0


if sys.argv[1:2] == [CLEAN_FLAG]:  # the clean child stops here: none of the set-up below is for it
    sys.exit(clean_import_main())

PROTO = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)  # student prints go to stderr, never into the protocol
sys.path.insert(0, BOX)
sys.dont_write_bytecode = True

with open(os.path.join(BOX, "job.json")) as _f:
    JOB = json.load(_f)
for _name, _limit in (("CPU", "cpu"), ("AS", "memory"), ("FSIZE", "file")):
    _value = int(JOB["limits"][_limit])
    resource.setrlimit(getattr(resource, f"RLIMIT_{_name}"), (_value, _value))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_NPROC, (int(JOB["processes"]),) * 2)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
import calls  # noqa: E402
import standins  # noqa: E402

MODS: dict = {}
IMPORT_SECONDS = float(JOB["limits"].get("import_seconds", 40.0))  # the grader's deadline for READY


def say(line: str, data: bytes = b"") -> None:
    PROTO.write(line.encode() + b"\n" + data)


def load_stub(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"helpers.{name}", os.path.join(BOX, "stubs", f"{name}.py"))
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "helpers"
    sys.modules[f"helpers.{name}"] = module
    spec.loader.exec_module(module)
    setattr(sys.modules["helpers"], name, module)
    return module


def library_modules(names: list[str]) -> list[str]:
    """Of the modules ``names`` (keys of ``sys.modules``), those a clean interpreter could import: not the
    runner, not ``helpers``, not a file in ``/box``; capped."""
    found = []
    for name in names:
        module = sys.modules.get(name)
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or getattr(module, "__file__", None)
        if name == "__main__" or name == "helpers" or name.startswith("helpers.") or not MODULE_NAME.match(name):
            continue
        if isinstance(origin, str) and os.path.abspath(origin).startswith(BOX + os.sep):
            continue
        found.append(name)
    return found[:CLEAN_MAX_MODULES]


def clean_import(pre: list[str], modules: list[str], names: list[str]) -> dict | str:
    """``{name: fingerprint}`` of the watched ``names`` that importing ``modules`` (after ``pre``) changes
    in a clean interpreter in this same sandbox, or a string that says why there is no answer."""
    seconds = min(CLEAN_SECONDS, IMPORT_SECONDS - (time.monotonic() - STARTED) - 5.0)
    if seconds < 2.0:
        return "no time left before the import deadline"
    request = json.dumps({"pre": pre, "modules": modules, "names": names})
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-B", os.path.join(BOX, "sandbox_runner.py"), CLEAN_FLAG],
            input=request.encode(), capture_output=True, timeout=seconds, cwd="/", env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"it took longer than {seconds:.0f} s"
    except BaseException as error:  # noqa: B036 - no child (process limit, seccomp): flag, never crash
        return f"it could not start ({type(error).__name__})"
    lines = [line for line in done.stdout.decode("utf-8", "replace").splitlines() if line.startswith("CLEAN ")]
    try:
        return dict(json.loads(lines[-1][len("CLEAN ") :]))
    except (IndexError, ValueError, TypeError):
        return f"it failed (exit status {done.returncode})"


def unexplained(
    changed: list[str], before: dict[str, object], after: dict[str, object], pre: list[str], modules: list[str]
) -> list[str]:
    """The names of ``changed`` that the library imports of this student module (``modules``) do not explain:
    a name is explained when a clean import of the same modules replaces it with an object of the same
    fingerprint. Without such an import the name stays, with a note when the comparison could not run."""
    if not changed or not modules:
        return changed
    clean = clean_import(pre, modules, changed)
    if isinstance(clean, str):
        return [f"{name} (not compared with a clean import of the same libraries: {clean})" for name in changed]
    seen = {name: json.loads(json.dumps(fingerprint(after.get(name), before[name]))) for name in changed}
    return [name for name in changed if clean.get(name) != seen[name]]


def import_all(modules: list[str], stubbed: set[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Import the student's modules; ``(errors, replaced)``: import failures, and library functions
    or ``helpers.checks`` that a module replaced while it was imported (observed, not guessed), less
    what the library modules that import brought in also do when a clean interpreter imports them."""
    errors, replaced = {}, {}
    importlib.import_module("helpers")
    earlier: list[str] = []  # library modules that earlier student modules brought in: the clean child imports them first
    for name in modules:
        say(f"IMPORT {name}")
        if name in stubbed:
            MODS[name] = load_stub(name)
            continue
        before, loaded = library_values(), set(sys.modules)
        try:
            MODS[name] = importlib.import_module(f"helpers.{name}")
        except BaseException as error:  # noqa: B036 - SystemExit from student code too
            errors[name] = f"{type(error).__name__}: {error}"[:300]
            sys.modules.pop(f"helpers.{name}", None)
            MODS[name] = load_stub(name)
        after = library_values()
        new = library_modules([m for m in list(sys.modules) if m not in loaded])
        changed = sorted(n for n, value in before.items() if after.get(n) is not value)
        changed = unexplained(changed, before, after, earlier, new)
        earlier = (earlier + new)[:CLEAN_MAX_MODULES]
        checks = sys.modules.get("helpers.checks")
        if checks is not None and getattr(checks, "__file__", None) != os.path.join(BOX, "helpers", "checks.py"):
            changed.append("helpers.checks (in sys.modules)")
        if changed:
            replaced[name] = changed
    return errors, replaced


def install(dep: str, source: str) -> None:
    namespace: dict[str, Any] = {"__name__": f"dep_{dep}"}
    exec(compile(source, f"<dependency {dep}>", "exec"), namespace)
    for module, dotted, obj in namespace["__targets__"]:
        target = MODS[module]
        *path, attr = dotted.split(".")
        for part in path:
            target = getattr(target, part)
        setattr(target, attr, namespace[obj])


def run_check(exercise: str) -> dict[str, np.ndarray]:
    """The notebook's self-check ``checks.check_<exercise>()`` on the student's own modules."""
    checks = importlib.import_module("helpers.checks")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            getattr(checks, f"check_{exercise}")()
        return {"ok": np.array(True), "message": np.array(printed.getvalue().strip()[-300:])}
    except BaseException as error:  # noqa: B036
        return {"ok": np.array(False), "message": np.array(f"{type(error).__name__}: {error}"[:1000])}  # the grader cleans it


def run_task(task: str, call: dict | None) -> dict[str, np.ndarray]:
    """``{case/key: array}`` of one task: the notebook self-check (``check:<exercise>``), or the task's call
    spec (sent by the grader) run on every case of ``inputs/<task>.npz`` by the box's ``calls.py``."""
    if task.startswith("check:"):
        return run_check(task.split(":", 1)[1])
    if not isinstance(call, dict):
        raise ValueError(f"no call spec for task {task}")
    with np.load(os.path.join(BOX, "inputs", f"{task}.npz"), allow_pickle=False) as data:
        inputs = {k: data[k] for k in data.files}
    return calls.run_cases(call, inputs, MODS, standins)


def main() -> None:
    errors, replaced = import_all(JOB["modules"], set(JOB.get("stubbed", ())))
    say("READY " + json.dumps({"errors": errors, "replaced": replaced}))
    for line in sys.stdin:
        message = json.loads(line)
        if "run" not in message:
            break
        task = message["run"]
        for dep, source in message.get("deps", {}).items():
            try:
                install(dep, source)
            except BaseException as error:  # noqa: B036
                print(f"dependency {dep} not installed: {error}", file=sys.stderr)
        buffer = io.BytesIO()
        try:
            np.savez(buffer, **run_task(task, message.get("call")))  # type: ignore[arg-type]
        except BaseException as error:  # noqa: B036
            buffer = io.BytesIO()
            np.savez(buffer, error=np.array(f"{type(error).__name__}: {error}"[:300]))
        data = buffer.getvalue()
        say(f"RESULT {task} {len(data)}", data)


if __name__ == "__main__":
    main()
