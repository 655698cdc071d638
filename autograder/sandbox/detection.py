"""Which sandbox this machine allows (:func:`detect`), proven by running a probe in it; ``run_script``. Trusted side.

``detect`` builds an :class:`~autograder.sandbox.isolation.Isolation` for the mode asked for and runs a probe in
one sandbox before any student code: the interpreter and torch must start, and no hidden folder (the course,
the submissions) may be visible. Bubblewrap (what a local ``grade`` uses, and nothing else): the bwrap binary,
the seccomp filter, the cgroup plan and, as root, the unprivileged ``--sandbox-user`` (default ``nobody``)
that the launcher drops to; if that user cannot run the interpreter, grading is refused with a message.
Container mode (the harnesses, where user namespaces are refused; ``autograder.sandbox.container``): the
dedicated student user, a filter that also refuses sockets but ``AF_UNIX``, and a probe as that user that
the course cannot be read. ``"auto"``: bubblewrap where it starts here, else the container, and the report
says why. Without a sandbox it raises ``SandboxUnavailable`` (unless ``unsafe``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from autograder.paths import ROOT
from autograder.sandbox import cgroups, container, syscall_filter
from autograder.sandbox.allow_list import python_paths, sandbox_env
from autograder.sandbox.bubblewrap import ENABLE_HINT, SandboxUnavailable, find_bubblewrap
from autograder.sandbox.container import AUTO, BUBBLEWRAP, CONTAINER, MODES
from autograder.sandbox.isolation import Isolation, new_cgroup, student_home, work_base
from autograder.sandbox.limits import Limits


def detect(
    hidden: Iterable[str | os.PathLike[str]] = (),
    user_name: str = "nobody",
    unsafe: bool = False,
    limits: Limits | None = None,
    mode: str = BUBBLEWRAP,
) -> Isolation:
    """The sandbox this machine allows; ``SandboxUnavailable`` when it allows none (and not ``unsafe``).

    ``hidden``: folders masked even if an allowed bind contains them (the course, the submissions).
    ``mode``: ``"bubblewrap"`` (what a local ``grade`` uses, and nothing else), ``"container"`` (the harnesses:
    the container is the sandbox, see ``autograder.sandbox.container``), ``"auto"`` (bubblewrap where it starts
    here, else the container; the reason is in the report)."""
    limits = limits or Limits()
    masked = tuple(str(p) for p in (ROOT, *hidden))
    if unsafe:
        return Isolation(None, None, [], masked)
    if mode not in MODES:
        raise ValueError(f"isolation mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == CONTAINER:
        return _detect_container(masked, limits)
    if mode == AUTO:
        try:
            return _detect_bubblewrap(masked, user_name, limits)
        except SandboxUnavailable as error:
            return _detect_container(masked, limits, f"{error}"[:300])
    return _detect_bubblewrap(masked, user_name, limits)


def _detect_container(hidden: tuple[str, ...], limits: Limits, why_not_bubblewrap: str = "") -> Isolation:
    """Container mode, after a probe as the student user: the interpreter and torch start, the course cannot be read."""
    try:
        student = container.student_user()
    except container.ContainerUnavailable as error:
        also = f" (and bubblewrap: {why_not_bubblewrap})" if why_not_bubblewrap else ""
        raise SandboxUnavailable(f"{error}{also}") from None
    try:
        rules = syscall_filter.build(refuse_network=True)
    except syscall_filter.FilterUnavailable as error:
        raise SandboxUnavailable(f"{error}; without a seccomp filter student code does not run") from None
    plan = cgroups.detect(limits.box_memory_bytes, limits.processes, limits.cpu_weight)
    isolation = Isolation(None, student.as_tuple(), [], hidden, rules, plan, student, why_not_bubblewrap)
    problem = _run_probe(isolation, limits, container.probe_code(list(hidden)))
    if problem:
        isolation.close()
        raise SandboxUnavailable(
            f"container mode: the student user {student.name!r} (uid {student.uid}) could not run the grader's Python "
            f"{sys.executable} with nothing of the course readable ({problem}). The interpreter and its packages must be "
            f"readable by every user, outside the course; the course readable by root only "
            f"(as root: `{container.setup_lines(str(ROOT)).strip().splitlines()[-1]}`)"
        )
    return isolation


def _detect_bubblewrap(hidden: tuple[str, ...], user_name: str, limits: Limits) -> Isolation:
    """Bubblewrap, after a probe in one sandbox: torch starts, and a hidden folder shows at most the way to a bind."""
    bw = find_bubblewrap()
    user = _sandbox_user(user_name) if os.getuid() == 0 else None
    try:
        rules = syscall_filter.build()
    except syscall_filter.FilterUnavailable as error:
        raise SandboxUnavailable(f"{error}; without a seccomp filter student code does not run") from None
    plan = cgroups.detect(limits.box_memory_bytes, limits.processes, limits.cpu_weight)
    isolation = Isolation(bw, user, [], hidden, rules, plan)
    # without cgroups the report's isolation line says so (plan.describe()); rows are not flagged for the machine
    # a hidden folder may appear only as the way to an allowed bind (the venv inside the course)
    binds = python_paths()
    allowed = {
        p: sorted({b[len(p) :].strip("/").split("/")[0] for b in binds if b.startswith(p.rstrip("/") + "/")}) for p in hidden
    }
    probe = (
        "import os, numpy, torch\n"
        f"for p, allowed in {allowed!r}.items():\n"
        "    seen = set(os.listdir(p)) if os.path.isdir(p) else set()\n"
        "    assert seen <= set(allowed), f'{p} is visible: {sorted(seen)}'\n"
    )
    problem = _run_probe(isolation, limits, probe)
    if problem:
        isolation.close()
        if user is not None:
            raise SandboxUnavailable(_root_hint(user, problem))
        raise SandboxUnavailable(f"bubblewrap {bw.version} cannot start a sandbox here ({problem}): {ENABLE_HINT}")
    return isolation


def run_script(isolation: Isolation, limits: Limits, code: str, timeout: float = 180) -> subprocess.CompletedProcess[bytes]:
    """Run the Python ``code`` as the runner of one sandbox (a probe, or a test's attack); the finished process
    (``returncode``, ``stdout``, ``stderr`` as bytes). Raises ``OSError``/``SubprocessError`` if it cannot start."""
    box = Path(tempfile.mkdtemp(prefix="ddpm-probe-", dir=work_base(isolation)))
    fds: tuple[int, ...] = ()
    cgroup = None
    try:
        box.chmod(0o755)
        (box / "sandbox_runner.py").write_text(code)
        (box / "sandbox_runner.py").chmod(0o644)
        cgroup = new_cgroup(isolation.box_plan(), f"probe-{box.name[-8:]}", [])
        with isolation.exclusive():
            argv, fds = isolation.launch(box, limits, cgroup=cgroup)
            try:
                return subprocess.run(argv, capture_output=True, timeout=timeout, cwd="/", env=sandbox_env(), pass_fds=fds)
            finally:
                isolation.reap()  # container mode: nothing of the student user outlives the script
    finally:
        for fd in fds:
            os.close(fd)
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(box, ignore_errors=True)
        shutil.rmtree(student_home(box), ignore_errors=True)


def _run_probe(isolation: Isolation, limits: Limits, code: str) -> str:
    """``""`` when ``code`` ran in a sandbox and exited 0, else the last line it printed."""
    try:
        done = run_script(isolation, limits, code)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{type(error).__name__}: {error}"
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return next((line for line in reversed(lines) if not line.startswith("{")), f"exit code {done.returncode}")
    return ""


def _sandbox_user(user_name: str) -> tuple[int, int, str]:
    """As root: ``(uid, gid, name)`` of the unprivileged user the sandbox runs as; ``SandboxUnavailable`` if none."""
    try:
        entry = pwd.getpwnam(user_name) if user_name else None
    except KeyError:
        entry = None
    if entry is None or entry.pw_uid == 0 or entry.pw_gid == 0:
        raise SandboxUnavailable(
            f"grading as root, the sandbox needs an unprivileged --sandbox-user, and {user_name!r} is "
            f"{'root' if entry else 'not a user here'}: name one (default: nobody), or grade as an ordinary user"
        )
    return (entry.pw_uid, entry.pw_gid, entry.pw_name)


def _root_hint(user: tuple[int, int, str], problem: str) -> str:
    return (
        f"grading as root, the sandbox runs as user {user[2]!r} (uid {user[0]}), and it could not start {sys.executable} "
        f"there ({problem}); the grader never runs student code as root, mapped or not. If that user cannot read the "
        "interpreter (a venv or pyenv under /root or a 0700 home), grade as an ordinary user with a Python that user "
        "owns (e.g. `python3 -m venv ~/ddpm && ~/ddpm/bin/pip install -r requirements-dev.txt`, then "
        "`~/ddpm/bin/python -m autograder grade …` without sudo), or install the course's Python where every user can "
        f"read it, or give --sandbox-user a user that can run it. Otherwise: {ENABLE_HINT}"
    )
