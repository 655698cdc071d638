"""Container mode (issue 19, item 2): grading where user namespaces are refused, as in Gradescope's and PrairieLearn's
containers under Docker's default seccomp profile.

The root-only tests refuse user namespaces to the whole grading themselves: the harness runs in a child that first
installs a seccomp filter like Docker's default profile (``unshare``, ``setns`` and ``clone`` with a namespace flag
refused, ``clone3`` answering ENOSYS). There bubblewrap cannot start, and the Gradescope entry grades in container
mode: a correct hand-in gets full marks, a wrong one loses points, and a hostile one (it reads the course, writes
outside its folder, leaves processes behind, opens network sockets, forks until the limit) is contained, with
nothing of the student user left alive. CI runs this file in its root phase (``.ci/run``).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from autograder.assignment import exercises, mutants
from autograder.harnesses import gradescope, prairielearn
from autograder.paths import ROOT
from autograder.sandbox import bubblewrap, container, detection, launcher, syscall_filter
from autograder.sandbox.limits import Limits

from .test_gradescope import assert_full_marks, solution_helpers, unpack

SEED = 4242
MARK = 133  # EHWPOISON: no socket call returns it by itself
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="container mode switches to the student user: it needs root")

# Docker's default profile, for what matters here: no namespaces (CLONE_NEWUSER = 0x10000000 and the others).
NO_USERNS = """
import errno, os, sys
try:
    import seccomp
except ImportError:
    import pyseccomp as seccomp
rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
for name in ("unshare", "setns"):
    rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
for flag in (0x10000000, 0x20000000, 0x40000000, 0x08000000, 0x04000000, 0x00020000, 0x02000000):
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
rules.load()
os.execvp(sys.argv[1], sys.argv[1:])
"""


def without_userns(tmp_path, argv):
    """``argv`` as a command that runs with user namespaces refused, as in a default Docker container."""
    script = tmp_path / "no_userns.py"
    script.write_text(NO_USERNS)
    return [sys.executable, str(script), *argv]


def student_processes(user):
    return launcher.alive(user.uid)


# ----------------------------------------------------------------------------- without root


def test_a_local_grade_never_chooses_container_mode(tmp_path):
    """Without --isolation, grade uses bubblewrap or refuses, even as root where container mode could run."""
    from autograder.commands import grade

    parser = __import__("argparse").ArgumentParser()
    grade.add_arguments(parser)
    assert parser.parse_args(["subs"]).isolation == container.BUBBLEWRAP
    subs = tmp_path / "subs"
    solution_helpers(subs / "alice" / "helpers")
    env = {**os.environ, bubblewrap.BWRAP_ENV: str(tmp_path / "no-bwrap")}
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(tmp_path / "out"), "--no-nbgrader"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "refusing to run student code without a sandbox" in done.stderr and "container mode" not in done.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_container_mode_needs_root_and_says_so(monkeypatch):
    monkeypatch.setattr(container.os, "geteuid", lambda: 1000)
    with pytest.raises(bubblewrap.SandboxUnavailable, match="needs root"):
        detection.detect(mode=container.CONTAINER)


def test_the_container_filter_refuses_network_sockets_and_keeps_unix_ones(tmp_path):
    """The launcher loads the filter itself (no bwrap): inet, inet6, packet and netlink sockets are refused."""
    rules = syscall_filter.build(refusal=MARK, refuse_network=True)  # an errno only the filter gives
    code = textwrap.dedent(
        """
        import json, os, socket, sys
        sys.path.insert(0, sys.argv[2])
        from autograder.sandbox import launcher
        launcher.load_seccomp(int(sys.argv[1]))
        seen = {}
        for name in ("AF_INET", "AF_INET6", "AF_PACKET", "AF_NETLINK", "AF_UNIX"):
            try:
                socket.socket(getattr(socket, name), socket.SOCK_DGRAM if name != "AF_PACKET" else socket.SOCK_RAW).close()
                seen[name] = "open"
            except OSError as error:
                seen[name] = error.errno
        a, b = socket.socketpair()
        seen["socketpair"] = "open"
        print(json.dumps(seen))
        """
    )
    fd = rules.open_fd()
    os.set_inheritable(fd, True)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(fd), str(ROOT)], pass_fds=(fd,), capture_output=True, text=True, timeout=60
        )
    finally:
        os.close(fd)
        rules.remove()
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    refused = dict.fromkeys(("AF_INET", "AF_INET6", "AF_PACKET", "AF_NETLINK"), MARK)
    assert seen == {**refused, "AF_UNIX": "open", "socketpair": "open"}


# ----------------------------------------------------------------------------- as root


@ROOT_ONLY
def test_every_process_of_the_student_user_is_killed():
    user = container.student_user()
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n"
    spec = json.dumps({"argv": [sys.executable, "-c", daemon], "procs": [], "user": [user.uid, user.gid]})
    subprocess.run([sys.executable, "-I", "-S", str(container.LAUNCHER), spec], check=True, timeout=60)
    assert student_processes(user), "the daemon did not start"
    container.reap(user)
    assert student_processes(user) == []


@ROOT_ONLY
def test_container_mode_refuses_where_the_student_user_can_read_the_course():
    course = Path(tempfile.mkdtemp(prefix="ddpm-readable-course-", dir="/tmp"))  # world-readable, as checkouts usually are
    try:
        course.chmod(0o755)
        with pytest.raises(bubblewrap.SandboxUnavailable, match="is readable by the student user"):
            detection.detect(hidden=[course], mode=container.CONTAINER)
    finally:
        course.rmdir()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    gradescope.build(out, seed=SEED, visibility="after_due_date")
    return out


def grade_without_userns(bundle, tmp_path, fill):
    """Gradescope's entry for the hand-in ``fill(submission folder, course folder)`` makes, with user namespaces
    refused to everything it starts; its results.json."""
    root = tmp_path / "autograder"
    source = unpack(bundle, root)
    fill(root / "submission", source)
    # bubblewrap cannot start there (the image test's other half: with namespaces it is bubblewrap)
    bwrap = shutil.which("bwrap")
    if bwrap:
        done = subprocess.run(without_userns(tmp_path, [bwrap, "--unshare-user", "--ro-bind", "/", "/", "true"]))
        assert done.returncode != 0
    script = str(root / "source" / "run_autograder")
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "GRADESCOPE_ROOT": str(root),
        "GRADESCOPE_PYTHON": sys.executable,
        "GRADESCOPE_SEED": str(SEED),
    }
    env.pop("DDPM_HARNESS_ISOLATION", None)
    done = subprocess.run(without_userns(tmp_path, [script]), cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["extra_data"]["isolation_mode"] == "container", results["output"] + done.stdout[-3000:]
    assert (
        "container mode" in results["extra_data"]["isolation"]
        and "bubblewrap cannot run here" in results["extra_data"]["isolation"]
    )
    assert "Your code ran isolated by: container mode" in results["output"]
    assert (root / "source").stat().st_mode & 0o077 == 0  # the course: root only
    return results, done.stdout


@ROOT_ONLY
@pytest.mark.slow
def test_without_user_namespaces_a_correct_hand_in_gets_full_marks(bundle, tmp_path):
    results, _ = grade_without_userns(bundle, tmp_path, lambda sub, _source: solution_helpers(sub / "helpers"))
    assert_full_marks(results)


@ROOT_ONLY
@pytest.mark.slow
def test_without_user_namespaces_a_wrong_hand_in_loses_points(bundle, tmp_path):
    mutant = mutants.MUTANTS[0]

    def fill(sub, _source):
        solution_helpers(sub / "helpers")
        path = sub / "helpers" / f"{mutant.module}.py"
        path.write_text(mutants.apply(mutant, path.read_text()))

    results, _ = grade_without_userns(bundle, tmp_path, fill)
    lost = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert lost and all(t["tags"][0] == mutant.exercise for t in lost), lost


HOSTILE = """
import json, os, socket, subprocess, time
seen = {}
def attempt(name, action):
    try:
        action()
        seen[name] = "done"
    except BaseException:
        seen[name] = "refused"
attempt("read_course", lambda: open(COURSE + "/solutions/schedules.py").read())
attempt("list_course", lambda: os.listdir(COURSE))
attempt("write_course", lambda: open(COURSE + "/autograder/hidden_tests/owned.py", "w").write("x"))
attempt("write_results", lambda: open(RESULTS + "/results.json", "w").write("{}"))
attempt("write_tmp", lambda: open("/tmp/ddpm-hostile-marker", "w").write("x"))
attempt("inet_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt("inet6_socket", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
attempt("unshare", lambda: os.unshare(0x10000000) if hasattr(os, "unshare") else subprocess.check_call(["unshare", "-U", "true"]))
attempt("daemon", lambda: subprocess.Popen(["sleep", "600"], start_new_session=True).pid)
children = 0
for _ in range(500):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
seen["forks"] = children
raise RuntimeError("HOSTILE" + json.dumps(seen, separators=(",", ":")).replace("refused", "r").replace("done", "d"))
"""


@ROOT_ONLY
@pytest.mark.slow
def test_without_user_namespaces_a_hostile_hand_in_is_contained(bundle, tmp_path):
    user = container.student_user()
    marker = Path("/tmp/ddpm-hostile-marker")
    marker.unlink(missing_ok=True)

    def fill(sub, source):
        solution_helpers(sub / "helpers")
        attack = HOSTILE.replace("COURSE", repr(str(source))).replace("RESULTS", repr(str(sub.parent / "results")))
        # in a module of its own exercise: the other exercises are graded as usual
        (sub / "helpers" / "sampling.py").write_text(attack)

    results, stdout = grade_without_userns(bundle, tmp_path, fill)
    flags = results["output"]
    assert "HOSTILE" in flags, flags
    text = flags[flags.index("HOSTILE") + len("HOSTILE") :].split("}", 1)[0] + "}"
    seen = {k: {"r": "refused", "d": "done"}.get(v, v) for k, v in json.loads(text).items()}
    for attack in ("read_course", "list_course", "write_course", "write_results", "inet_socket", "inet6_socket", "unshare"):
        assert seen[attack] == "refused", (attack, seen)
    assert 0 < seen["forks"] < Limits().processes, seen  # the process limit stopped the fork bomb
    assert seen["write_tmp"] == "done" and not marker.exists()  # shared /tmp: what it left there is removed
    assert student_processes(user) == []  # the daemon and the forks: nothing of the student user survives
    sampling = {t["tags"][0] for t in results["tests"] if t["score"] < t["max_score"]}
    assert sampling and all(e in ("p_sample", "p_sample_loop") for e in sampling), sampling
    assert not (ROOT / "autograder" / "assignment" / "hidden_tests" / "owned.py").exists()


@ROOT_ONLY
@pytest.mark.slow
def test_without_user_namespaces_prairielearn_grades_in_container_mode(tmp_path):
    question = tmp_path / "question"
    prairielearn.build(question, seed=SEED)
    root = tmp_path / "grade"
    shutil.copytree(question / "tests", root / "tests")
    (root / "student").mkdir()
    for module in exercises.MODULES:  # flat, as pl-file-upload stores them
        shutil.copyfile(ROOT / "solutions" / f"{module}.py", root / "student" / f"{module}.py")
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "PRAIRIELEARN_ROOT": str(root),
    }
    env.pop("DDPM_HARNESS_ISOLATION", None)
    run_sh = str(root / "tests" / "run.sh")
    done = subprocess.run(without_userns(tmp_path, [run_sh]), env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["gradable"] and results["isolation_mode"] == "container", results["message"]
    assert results["score"] == 1.0 and "container mode" in results["message"]
    assert (root / "tests" / "course").stat().st_mode & 0o077 == 0
