"""The Gradescope bundle installed for real: its ``setup.sh`` in a clean Debian root file system, then
``run_autograder`` for a correct, a wrong and a hostile submission, with user namespaces and without
(refused as Docker's default seccomp profile refuses them, as on Gradescope).

The fast test checks that every requirements file setup.sh installs reaches only files the bundle carries.
The image test is slow and needs root, ``debootstrap`` and ``bwrap``: ``.ci/debian-root`` builds the
Debian root once (cached under ``DDPM_IMAGE_CACHE``, default /var/cache/ddpm-gradescope-image); setup.sh
runs in a copy of it, with pip pointed at this machine's wheels through its own environment variables
(``DDPM_IMAGE_PIP_*``, else this machine's pip configuration). On failure it shows the tail of setup's
log, or what ``run_autograder`` printed and ``results.json``. ``DDPM_IMAGE_WORK=DIR`` keeps the image in DIR
and reuses its setup on the next run (the bundle is unpacked afresh), for debugging."""

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from autograder.assignment import exercises, mutants
from autograder.harnesses import gradescope

from .test_gradescope import SEED, solution_helpers, unpack
from .test_hygiene import ROOT

IMAGE_VERSION = "bookworm-minbase-v1"  # change it to rebuild the cached root file system
CACHE = Path(os.environ.get("DDPM_IMAGE_CACHE", "/var/cache/ddpm-gradescope-image")) / IMAGE_VERSION
# What the test binds read-only into the root so that pip finds this machine's wheels (absent ones skipped).
LOCAL_WHEELS = ("/opt/wheels", "/opt/pypi", "/opt/pypi-more", "/etc/xdg/pip")


def _pip_env():
    """pip's environment for setup.sh: this machine's local wheels where it has them (``DDPM_IMAGE_PIP_*``
    overrides each), else PyPI; torch from pip's indexes, not download.pytorch.org (unreachable from CI)."""
    here = {
        "PIP_FIND_LINKS": "/opt/wheels" if os.path.isdir("/opt/wheels") else "",
        "PIP_EXTRA_INDEX_URL": " ".join(f"file://{d}/simple" for d in ("/opt/pypi", "/opt/pypi-more") if os.path.isdir(d)),
        "PIP_CONSTRAINT": "/etc/xdg/pip/constraints.txt" if os.path.isfile("/etc/xdg/pip/constraints.txt") else "",
    }
    env = {k: os.environ.get(k.replace("PIP_", "DDPM_IMAGE_PIP_"), v) for k, v in here.items()}
    return {"DDPM_TORCH_INDEX": "", **{k: v for k, v in env.items() if v}}


HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
SETUP_TIMEOUT = 1500


# ----------------------------------------------------------------------------- fast: what setup.sh installs


def _installed_requirements(setup):
    """The requirements files setup.sh installs with ``-r`` (paths relative to the bundle)."""
    return re.findall(r'-r "\$SOURCE/([^"]+)"', setup)


def _references(text):
    """The files a requirements file reaches with ``-r``/``-c`` (and their long forms)."""
    found = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        match = re.match(r"(?:-r|-c|--requirement|--constraint)[ =]?\s*(\S+)", line)
        if match:
            found.append(match.group(1))
    return found


def test_setup_installs_only_requirements_the_bundle_carries(tmp_path):
    out, _ = gradescope.build(tmp_path / "autograder.zip", seed=SEED)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        setup = archive.read("setup.sh").decode()
        todo = _installed_requirements(setup)
        assert todo, "setup.sh installs no requirements file with -r"
        seen = set()
        while todo:
            name = todo.pop()
            assert name in names, f"setup.sh installs {name}, which the bundle does not carry"
            if name in seen:
                continue
            seen.add(name)
            for ref in _references(archive.read(name).decode()):
                target = (Path(name).parent / ref).as_posix()
                assert target in names, f"{name} includes {ref}, which the bundle does not carry"
                todo.append(target)
    # what grading needs, and none of the tests' tools
    assert "requirements.txt" in seen and gradescope.GRADER_REQUIREMENTS in seen
    tooling = {"pytest", "diffusers", "ruff", "denoising-diffusion-pytorch"}
    for name in seen:
        listed = {re.split(r"[<>=!~\[; ]", line.strip())[0].lower() for line in archive_text(out, name).splitlines()}
        assert not listed & tooling, (name, listed & tooling)


def archive_text(bundle, name):
    with zipfile.ZipFile(bundle) as archive:
        return archive.read(name).decode()


# ----------------------------------------------------------------------------- slow: the image

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="builds a Debian root file system: needs root")
TOOLS = ("debootstrap", "bwrap")
needs_tools = pytest.mark.skipif(not all(map(shutil.which, TOOLS)), reason=f"needs {', '.join(TOOLS)}")

# Docker's default seccomp profile, as far as namespaces go: unshare, setns and clone with a namespace flag
# refused (EPERM), clone3 unavailable (ENOSYS). Loaded by the root's own Python (pyseccomp, which setup.sh
# installed), which then execs the command: the container Gradescope gives the autograder.
DOCKER_LIKE = r"""
import errno, os, sys
try:
    import seccomp
except ImportError:
    import pyseccomp as seccomp
f = seccomp.SyscallFilter(seccomp.ALLOW)
for name in ("unshare", "setns"):
    f.add_rule(seccomp.ERRNO(errno.EPERM), name)
for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080):
    f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
f.load()
os.execvp(sys.argv[1], sys.argv[1:])
"""


class Image:
    """A Debian root with the bundle in /autograder/source and setup.sh run in it."""

    def __init__(self, root: Path, log: Path):
        self.root, self.log = root, log

    def run(self, argv, docker_like=False, timeout=900, **kwargs):
        """``argv`` in the root as root, with the mounts a container has: bubblewrap (as root: no user namespace
        of its own) pivots into the root; not chroot, in which the kernel refuses new user namespaces. /proc is
        this machine's, bound whole (``--proc`` would cover parts of it, and the kernel would then refuse nested
        sandboxes their own); /dev/shm lives in the root (``/.devshm``) so that the test sees what is left there."""
        if docker_like:
            argv = [f"{gradescope.VENV}/bin/python", "-c", DOCKER_LIKE, *argv]
        shm = self.root / ".devshm"
        shm.mkdir(exist_ok=True)
        shm.chmod(0o1777)
        command = ["bwrap", "--bind", str(self.root), "/", "--bind", "/proc", "/proc", "--dev", "/dev"]
        command += ["--bind", str(shm), "/dev/shm", "--ro-bind", "/sys", "/sys", "--cap-add", "ALL", "--chdir", "/"]
        for folder in LOCAL_WHEELS:
            if os.path.isdir(folder):
                command += ["--ro-bind", folder, folder]
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "PIP_CERT": "/etc/ddpm-host-ca.crt",
            "PIP_DEFAULT_TIMEOUT": "180",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        return subprocess.run([*command, *argv], env=env, timeout=timeout, **kwargs)

    def tail(self, lines=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("builds a Debian root file system: needs root")
    if not all(map(shutil.which, TOOLS)):
        pytest.skip(f"needs {', '.join(TOOLS)}")
    made = subprocess.run(["bash", str(ROOT / ".ci" / "debian-root"), str(CACHE)], capture_output=True, text=True)
    assert made.returncode == 0, f"debootstrap failed:\n{made.stderr}"
    kept = os.environ.get("DDPM_IMAGE_WORK")  # for debugging: keep the image there, and reuse its setup
    work = Path(kept) if kept else tmp_path_factory.mktemp("gradescope-image")
    root, image = work / "root", Image(work / "root", work / "setup.log")
    done_marker = root / ".ddpm-setup-done"
    if not done_marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["cp", "-a", str(CACHE), str(root)], check=True)
    shutil.rmtree(root / "autograder", ignore_errors=True)
    bundle, _ = gradescope.build(work / "autograder.zip", seed=SEED, grade_timeout=600)
    source = unpack(bundle, root / "autograder")
    shutil.copy2(source / "run_autograder", root / "autograder" / "run_autograder")
    (source / "CANARY.txt").write_text(CANARY)  # what no submission may read
    shutil.copyfile(HOST_CA, root / "etc" / "ddpm-host-ca.crt")  # pip's CA bundle, as this machine has it
    shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")
    if not done_marker.exists():
        env = _pip_env()
        start = time.monotonic()
        with open(image.log, "w") as log:
            done = image.run(
                ["env", *(f"{k}={v}" for k, v in env.items()), "bash", "/autograder/source/setup.sh"],
                stdout=log, stderr=subprocess.STDOUT, timeout=SETUP_TIMEOUT,
            )  # fmt: skip
        took = time.monotonic() - start
        print(f"setup.sh took {took:.0f} s")
        assert done.returncode == 0, f"setup.sh failed after {took:.0f} s; its log ends:\n{image.tail()}"
        done_marker.touch()
    yield image
    if not kept:
        shutil.rmtree(work, ignore_errors=True)


CANARY = f"ddpm-canary-{secrets.token_hex(8)}"
MARKER = f"ddpm-hostile-{secrets.token_hex(6)}"

HOSTILE = f"""
import os as _os, subprocess as _sp, sys as _sys
_loot = []
for _path in ("/autograder/source/CANARY.txt", "/autograder/source/solutions/schedules.py"):
    try:
        _loot.append(open(_path).read()[:200])
    except OSError:
        pass
for _path in ("/tmp/{MARKER}", "/var/tmp/{MARKER}", "/dev/shm/{MARKER}", "/root/{MARKER}",
              "/autograder/{MARKER}", "/autograder/results/{MARKER}", "/autograder/source/{MARKER}",
              "/opt/ddpm-grader-venv/{MARKER}", "/home/{MARKER}", "/{MARKER}"):
    try:
        with open(_path, "w") as _f:
            _f.write(repr(_loot))
    except OSError:
        pass
try:
    _sp.Popen([_sys.executable, "-c", "import time; time.sleep(900)", "{MARKER}"], start_new_session=True,
              stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
except OSError:
    pass
print(repr(_loot))
"""


def _submission(image, make):
    folder = image.root / "autograder" / "submission"
    shutil.rmtree(folder, ignore_errors=True)
    make(folder / "helpers")
    results = image.root / "autograder" / "results" / "results.json"
    results.unlink(missing_ok=True)
    return folder


def _wrong(helpers):
    """The reference with one known pitfall (the first of the course's mutants)."""
    solution_helpers(helpers)
    mutant = mutants.MUTANTS[0]
    path = helpers / f"{mutant.module}.py"
    path.write_text(mutants.apply(mutant, path.read_text()))


def _hostile(helpers):
    solution_helpers(helpers)
    for module in exercises.MODULES:
        path = helpers / f"{module}.py"
        path.write_text(HOSTILE + path.read_text())
    # and a sign that the file ran at all: without it, a hostile hand-in that silently did nothing would pass
    with (helpers / "schedules.py").open("a") as f:
        f.write("\n\ndef extract(a, t, x_shape):\n    raise RuntimeError('the hostile hand-in ran')\n")


def _grade(image, docker_like):
    done = image.run(["/autograder/run_autograder"], docker_like=docker_like, cwd="/", capture_output=True, text=True)
    results_path = image.root / "autograder" / "results" / "results.json"
    shown = results_path.read_text()[-3000:] if results_path.exists() else "(no results.json)"
    assert done.returncode == 0 and results_path.exists(), f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{shown}"
    return json.loads(results_path.read_text()), f"run_autograder said:\n{done.stdout[-4000:]}\nresults.json:\n{shown}"


def _isolation(results):
    """Which isolation graded it, as results.json says (the mode where it names one, else the description)."""
    extra = results.get("extra_data") or {}
    return str(extra.get("isolation_mode") or extra.get("isolation")).lower()


def _lingering():
    """Processes anywhere on this machine that carry the hostile submission's marker."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.slow
@needs_root
@needs_tools
@pytest.mark.parametrize("docker_like", [False, True], ids=["userns", "no-userns"])
def test_image_grades_correct_wrong_and_hostile_submissions(image, docker_like):
    expect = "container" if docker_like else "bubblewrap"
    config = json.loads((image.root / "autograder" / "source" / gradescope.CONFIG).read_text())
    full = config["max_points"] + sum(config["extra_credit"].values())  # every part, extra credit included

    _submission(image, solution_helpers)
    results, shown = _grade(image, docker_like)
    assert expect in _isolation(results), shown
    assert results["score"] == pytest.approx(full), shown
    assert all(t["status"] == "passed" for t in results["tests"]), shown

    mutant = mutants.MUTANTS[0]
    _submission(image, _wrong)
    results, shown = _grade(image, docker_like)
    assert expect in _isolation(results), shown
    assert results["score"] < full, shown
    assert any(t["status"] == "failed" and mutant.exercise in t["tags"] for t in results["tests"]), shown

    _submission(image, _hostile)
    results, shown = _grade(image, docker_like)
    assert expect in _isolation(results), shown
    assert any(t["status"] == "failed" and "extract" in t["tags"] for t in results["tests"]), f"did it run?\n{shown}"
    text = json.dumps(results)
    assert CANARY not in text and CANARY not in shown, f"the course was read:\n{shown}"
    lingering = _lingering()
    for pid in lingering:
        os.kill(pid, 9)  # the test's own clean-up: they are the hostile submission's, found by its marker
    assert not lingering, f"the hostile submission's process outlived its grading:\n{shown}"
    written = [str(path) for path in image.root.rglob(f"*{MARKER}*") if not str(path).startswith(str(image.root / "proc"))]
    assert not written, f"the hostile submission wrote outside its box: {written}\n{shown}"
