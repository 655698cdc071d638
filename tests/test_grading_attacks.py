"""Attacks on ``python -m autograder grade``, one test per kind of attack (contract §6).

One batch of hostile hand-ins (``tests/attacks.py``) and correct ones is graded once, through the
real CLI, with nbgrader; each test looks at its own rows and at what the run left on the machine.
Every attack must be contained: grading finishes with exit code 0, every hand-in has its row,
correct students keep full marks, nothing appears outside the sandbox (canary folder, /tmp,
/dev/shm, /var/tmp, the repository, the submissions, the output folder beyond its own files), no
process outlives grading, and no output quotes the reference solutions or the hidden tests.
"""

import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder import untrusted
from autograder.assignment import check_cells
from autograder.authoring import release
from autograder.grading.diagnosis import NO_MATCH
from autograder.paths import ROOT
from tests import attacks

pytestmark = pytest.mark.slow

SEED = "7"
OUT_FILES = {"grades.csv", "report.json", "feedback"}
USER = "ddpmci"
USER_PYTHON = "/opt/ddpm-venv/bin/python"


def _grade_cmd(python, submissions, out, course, *extra):
    return [
        python, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--course-dir", str(course),
        "--jobs", "2", "--seed", SEED, "--task-timeout", "10", "--import-timeout", "40", *extra,
    ]  # fmt: skip


def _tree(folder):
    """``{relative path: (type, size, mtime)}`` of everything under ``folder`` (links not followed)."""
    found = {}
    folder = Path(folder)
    if not folder.exists():
        return found
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache")]
        for name in [*dirs, *files]:
            path = Path(root) / name
            st = path.lstat()
            found[str(path.relative_to(folder))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return found


def _names(folder):
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def _token_processes(token):
    """PIDs of live processes whose command line carries ``token`` (only the attacks' daemons do)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline:
                pids.append(int(pid))
    return pids


def _read_outputs(out, course):
    """``{label: text}`` of every output an instructor or student reads."""
    texts = {}
    for path in [out / "grades.csv", out / "report.json", *sorted((out / "feedback").glob("*"))]:
        if path.is_file():
            texts[str(path.relative_to(out))] = path.read_text(errors="replace")
    for kind in ("autograded", "feedback"):
        for path in sorted((course / kind).rglob("*")):
            if path.is_file() and not path.is_symlink():
                texts[f"course/{path.relative_to(course)}"] = path.read_text(errors="replace")
    return texts


@dataclass
class Run:
    """One grading run and what it left behind."""

    done: subprocess.CompletedProcess
    out: Path
    course: Path
    rows: dict = field(default_factory=dict)
    csv_text: str = ""
    report: dict = field(default_factory=dict)

    @classmethod
    def read(cls, done, out, course):
        run = cls(done, Path(out), Path(course))
        if (run.out / "grades.csv").is_file():
            run.csv_text = (run.out / "grades.csv").read_text()
            run.rows = {row["student_id"]: row for row in csv.DictReader(run.csv_text.splitlines())}
        if (run.out / "report.json").is_file():
            run.report = json.loads((run.out / "report.json").read_text())
        return run

    def student(self, sid):
        return next(s for s in self.report["students"] if s["student_id"] == sid)

    def student_texts(self, sid):
        """Everything written about one student: CSV row, report entry, feedback, nbgrader folders."""
        texts = {"csv": json.dumps(self.rows.get(sid, {})), "report": json.dumps(self.student(sid))}
        feedback = self.out / "feedback" / f"{sid}.html"
        if feedback.is_file():
            texts["feedback"] = feedback.read_text(errors="replace")
        for kind in ("autograded", "feedback"):
            for path in sorted((self.course / kind / sid).rglob("*")):
                if path.is_file() and not path.is_symlink():
                    texts[f"course/{kind}/{path.name}"] = path.read_text(errors="replace")
        return texts


@dataclass
class Batch:
    run: Run
    token: str
    cases: dict
    subs: Path
    canary: Path
    rootfile_before: tuple
    checkouts: list
    grader_tmp: Path
    user_work: Path
    ctx: dict
    elapsed: float
    problems: list = field(default_factory=list)  # containment failures found by the fixture


def _rootfile_state(path):
    st = path.lstat()
    return (path.read_bytes(), st.st_mode, st.st_uid, st.st_gid, st.st_nlink)


def _make_checkouts(token, parents=("/var/tmp", "/opt", "/tmp")):
    """Copies of solutions/ and the hidden tests outside the repository, where a second checkout could be."""
    made = []
    for parent in parents:
        try:
            base = Path(tempfile.mkdtemp(prefix=f"ddpm-checkout-{token}-", dir=parent))
        except OSError:
            continue
        course = base / "ddpm-course"
        shutil.copytree(ROOT / "solutions", course / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(
            ROOT / "autograder" / "assignment" / "hidden_tests",
            course / "autograder" / "assignment" / "hidden_tests",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        made.append(course)
    return made


def _grade_and_watch(base, subs, out, course, grader_tmp, canary, rootfile, token, env=None):
    """Grade ``subs`` through the CLI and look for what the run left outside its outputs; ``(Run, seconds, problems)``."""
    before = {
        "canary": _tree(canary),
        "subs": _tree(subs),
        "repo": _tree(ROOT),
        "tmp": _names("/tmp"),
        "shm": _names("/dev/shm"),
        "vartmp": _names("/var/tmp"),
    }
    rootfile_before = _rootfile_state(rootfile)
    env = dict(os.environ, TMPDIR=str(grader_tmp), **(env or {}))
    start = time.monotonic()
    done = subprocess.run(
        _grade_cmd(sys.executable, subs, out, course), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    elapsed = time.monotonic() - start
    time.sleep(2)  # a process that outlived its sandbox has had time to act
    problems = []
    left = _token_processes(token)
    if left:
        problems.append(f"processes outlived grading: {left}")
    for name, snapshot in (("canary", _tree(canary)), ("subs", _tree(subs))):
        if snapshot != before[name]:
            changed = sorted(set(snapshot.items()) ^ set(before[name].items()))
            problems.append(f"{name} folder changed: {changed[:10]}")
    if _rootfile_state(rootfile) != rootfile_before:
        problems.append("the root-owned canary file changed")
    new_repo = sorted(set(_tree(ROOT)) - set(before["repo"]))
    for path in new_repo:
        if token in path or path.startswith(("grading/", "autograder/course/")) or path in ("grading", "autograder/course"):
            problems.append(f"new file in the repository: {path}")
    for label, folder in (("tmp", "/tmp"), ("shm", "/dev/shm"), ("vartmp", "/var/tmp")):
        for name in sorted(_names(folder) - before[label]):
            if token in name and not name.startswith(("ddpm-checkout-", "ddpm-canary-")):
                problems.append(f"new file {folder}/{name}")
    if any(grader_tmp.iterdir()):
        problems.append(f"the grader's temporary folder is not empty: {sorted(os.listdir(grader_tmp))}")
    if out.is_dir() and _names(out) != OUT_FILES:
        problems.append(f"unexpected entries in the output folder: {sorted(_names(out) - OUT_FILES)}")
    for root, dirs, files in os.walk(base):
        for name in [*dirs, *files]:
            path = Path(root) / name
            if token in name:
                problems.append(f"a file named with the token: {path}")
            if path.is_symlink() and not str(path).startswith(str(subs)):
                problems.append(f"a symbolic link in the grader's folders: {path} -> {os.readlink(path)}")
            elif stat.S_ISFIFO(path.lstat().st_mode) and not str(path).startswith(str(subs)):
                problems.append(f"a FIFO in the grader's folders: {path}")
    return Run.read(done, out, course), elapsed, problems


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    token = f"atk{secrets.token_hex(6)}"
    base = tmp_path_factory.mktemp("attacks")
    bundle = release.build(base / "release" / "ddpm-course", repo_url="https://github.com/example-org/ddpm-student")
    subs, out, course, grader_tmp = base / "submissions", base / "out", base / "course", base / "grader-tmp"
    grader_tmp.mkdir()
    canary = Path(tempfile.mkdtemp(prefix=f"ddpm-canary-{token}-", dir="/var/tmp"))
    rootfile = canary / "rootfile"
    rootfile.write_text(f"a root-owned file outside the sandbox {token}\n")
    rootfile.chmod(0o600)
    checkouts = _make_checkouts(token)
    user_work = Path(f"/tmp/ddpm-attack-user-{token}")
    ctx = {
        "token": token,
        "canary": str(canary),
        "rootfile": str(rootfile),
        "repo": str(ROOT),
        "checkouts": [str(c) for c in checkouts] + [str(user_work / "repo")],
        "grader_paths": [
            str(p)
            for p in (out, out / "feedback", course, course / "autograded", course / "feedback", subs, grader_tmp, ROOT, canary)
        ],
        "daemon_targets": [
            str(p)
            for p in (
                out / "grades.csv",
                out / "feedback" / "good_a.html",
                course / "gradebook.db",
                user_work / "out" / "grades.csv",
            )
        ],
    }
    try:
        cases = attacks.build(subs, bundle, ctx)
        rootfile_before = _rootfile_state(rootfile)
        run, elapsed, problems = _grade_and_watch(base, subs, out, course, grader_tmp, canary, rootfile, token)
        yield Batch(
            run, token, cases, subs, canary, rootfile_before, checkouts, grader_tmp, user_work, ctx, elapsed,
            problems,
        )  # fmt: skip
    finally:
        for pid in _token_processes(token):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(canary, ignore_errors=True)
        for path in ctx["checkouts"]:
            if f"ddpm-checkout-{token}-" in path:
                shutil.rmtree(Path(path).parent, ignore_errors=True)


# ----------------------------------------------------------------------------- shared assertions


def _exercise_points(row):
    return {e: float(row[e]) for e in check_cells.exercise_points()}


def assert_contained(batch, *sids, leak_check=True):
    """The run as a whole and the rows of ``sids``: scores, flags, messages, no leak, nothing outside the sandbox."""
    run = batch.run
    assert run.done.returncode == 0, run.done.stderr[-3000:]
    entries = [p for p in batch.subs.iterdir() if p.name not in (".DS_Store",)]
    assert len(run.rows) == len(entries), (sorted(run.rows), sorted(p.name for p in entries))
    assert sorted(p.name for p in (run.out / "feedback").iterdir()) == sorted(f"{sid}.html" for sid in run.rows)
    assert all(p.is_file() and not p.is_symlink() for p in (run.out / "feedback").iterdir())
    assert batch.problems == []
    for sid in ("good_a", "good_b", "1+1"):
        row = run.rows[sid]
        assert _exercise_points(row) == check_cells.exercise_points(), (sid, row)
        assert "tampering" not in row["flags"]
    for sid in sids:
        attack = batch.cases[sid]
        row = run.rows[sid]
        assert _exercise_points(row) == attacks.expected_points(attack), (sid, row["flags"])
        for flag in attack.flags:
            assert flag in row["flags"], (sid, flag, row["flags"])
        messages = {e: " | ".join(p["message"] for p in v["parts"]) for e, v in run.student(sid)["verdicts"].items()}
        for exercise, text in attack.messages.items():
            assert text in messages[exercise], (sid, exercise, messages[exercise])
        for label, text in run.student_texts(sid).items() if leak_check else ():
            assert attacks.leaks(text) == [], (sid, label, attacks.leaks(text))


# ----------------------------------------------------------------------------- one test per attack


def test_correct_students_keep_full_marks_and_no_output_quotes_the_grader(batch):
    """Every row: CSV row, report entry, feedback HTML and nbgrader folders hold no reference or hidden-test code."""
    assert_contained(batch, "good_a", "good_b", "1+1")
    assert re.search(r"bubblewrap [0-9.]+ allow-list sandbox", batch.run.report["isolation"])
    if os.getuid() != 0:  # an ordinary user (CI) gets every limit enforced: no row says otherwise
        assert "grader is root" not in batch.run.report["isolation"]
        assert not [r["flags"] for r in batch.run.rows.values() if "sandbox:" in r["flags"]]
    for sid in batch.run.rows:
        for label, text in batch.run.student_texts(sid).items():
            assert attacks.leaks(text) == [], (sid, label, attacks.leaks(text))
    for label, text in _read_outputs(batch.run.out, batch.run.course).items():
        fingerprints, _ = release.hidden_test_fingerprints()
        assert not [f for f in (*fingerprints, "BEGIN HIDDEN", "BEGIN SOLUTION") if f in text], label
    print(f"graded {len(batch.run.rows)} hand-ins in {batch.elapsed:.0f} s")


def test_symlink_planted_where_the_grader_writes(batch):
    """Row 1: links at every path the grader writes (its output and course folders recreated in the sandbox's own
    view, /tmp, /dev/shm, the box) pointing at the canary folder; the grader never follows them."""
    assert_contained(batch, "atk_symlink")
    message = next(p["message"] for p in batch.run.student("atk_symlink")["verdicts"]["ddim_step"]["parts"])
    planted = re.search(r"planted (\d+)\+(\d+) links; box writable: (\w+)", message)
    assert planted and int(planted.group(1)) > 0 and int(planted.group(2)) > 0, message
    assert planted.group(3) == "False"
    assert sorted(os.listdir(batch.canary)) == ["rootfile"]


def test_symlinks_everywhere_then_forced_restart(batch):
    """Row 2: links to a root-owned file in every writable place, then the process dies: the restarted sandbox
    starts clean (schedules.py would fail cosine_beta_schedule if the links were still there) and the file is intact."""
    assert_contained(batch, "atk_symlink")
    assert batch.run.rows["atk_symlink"]["cosine_beta_schedule"] == "2"
    assert _rootfile_state(Path(batch.ctx["rootfile"])) == batch.rootfile_before


def test_fifos_in_the_hand_in_and_in_the_sandbox(batch):
    """Row 3: helpers/forward.py, helpers/checks.py, a notebook, an extra module as FIFOs (and a socket); FIFOs at
    every grader name inside the sandbox; stdin swapped for a FIFO. Grading finishes: q_sample is lost, and the one
    task that was waiting on the swapped stdin (p_losses_cfg's first part) times out; the sandbox restarts for the rest."""
    assert_contained(batch, "atk_fifo")
    assert "skipped: FIFOs, sockets or devices" in batch.run.rows["atk_fifo"]["flags"]


def test_symlinks_inside_the_hand_in(batch):
    """Row 4: exercise modules, a notebook and folders as relative and absolute links to the reference (and to
    another checkout); relative links left in the sandbox's working folder. Nothing is followed or copied."""
    assert_contained(batch, "atk_links_inside")
    submitted = batch.run.course / "submitted" / "atk_links_inside"
    for path in submitted.rglob("*"):
        assert not path.is_symlink(), path
        if path.is_file():
            assert attacks.leaks(path.read_text(errors="replace")) == [], path
    assert "ATK-LINKS stole" not in batch.run.rows["atk_links_inside"]["flags"]
    for path in batch.run.course.rglob("*"):
        assert not path.is_symlink(), path


def test_helpers_folder_is_a_link_to_the_solutions(batch):
    """Row 5: a hand-in whose helpers/ is a link to solutions/, and a hand-in that is itself a link to another's."""
    assert_contained(batch, "atk_helpers_link", "atk_toplink")
    assert float(batch.run.rows["atk_helpers_link"]["total"]) == 0
    assert float(batch.run.rows["atk_toplink"]["total"]) == 0


def test_other_checkouts_on_the_machine(batch):
    """Row 6: copies of solutions/ and the hidden tests under /var/tmp, /opt and /tmp, plus the other worktrees
    of /work: extract searches the machine for them and imports what it finds (and says where it looked)."""
    assert batch.checkouts, "no place to put a canary checkout"
    assert_contained(batch, "atk_checkouts")


def test_checkout_under_usr_is_not_visible(batch, tmp_path):
    """Row 6, a checkout under /usr/local/src (where sources are often cloned): the same attack, graded alone."""
    made = _make_checkouts(batch.token, ("/usr/local/src",))
    if not made:
        pytest.skip("/usr/local/src is not writable here")
    try:
        subs = tmp_path / "subs"
        shutil.copytree(batch.subs / "atk_checkouts", subs / "atk_checkouts")
        cmd = _grade_cmd(sys.executable, subs, tmp_path / "out", tmp_path / "course", "--no-nbgrader")
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        run = Run.read(done, tmp_path / "out", tmp_path / "course")
        assert done.returncode == 0, done.stderr[-3000:]
        row = run.rows["atk_checkouts"]
        assert float(row["extract"]) == 0, f"extract imported the reference from {made[0]}"
    finally:
        shutil.rmtree(made[0].parent, ignore_errors=True)


def _deps_leak(batch, part_name, line):
    """What of ``line`` (a reference line the sandbox received) the p_losses part ``part_name`` and the outputs quote."""
    assert_contained(batch, "atk_deps", leak_check=False)
    part = next(p for p in batch.run.student("atk_deps")["verdicts"]["p_losses"]["parts"] if p["part"] == part_name)
    # the attack found the source; its message is withheld (what follows is the grader's own diagnosis)
    assert part["message"] == f"{untrusted.WITHHELD} {NO_MATCH}", part["message"]
    key = re.sub(r"\s+", "", line)
    quoted = [label for label, text in batch.run.student_texts("atk_deps").items() if key in attacks.normalized(text)]
    return attacks.leaks(part["message"]), quoted


def test_reference_dependency_quoted_plainly(batch):
    """Row 7: p_losses finds the reference q_sample source that its sandbox received (in the runner's frames)
    and raises its key line as the exception message of the l2 cases."""
    line = "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise"
    assert line in attacks.secret_lines()
    assert _deps_leak(batch, "l2 loss on the predicted noise", line) == ([], [])


def test_reference_dependency_spelt_with_zero_width_characters(batch):
    """Row 7: the same, for extract's line `out = a[t.to(a.device)]` (fingerprinted), with U+200B between its
    characters, raised by the l1/huber cases."""
    line = "out = a[t.to(a.device)]"
    assert line in attacks.secret_lines()
    assert _deps_leak(batch, "l1 and huber losses", line) == ([], [])


def test_fake_protocol_lines_after_a_forced_restart(batch):
    """Row 7: fake READY/IMPORT/DONE lines and RESULT frames for other tasks written to every fd, before a crash
    and, after the restart, from a task that holds a reference dependency: all ignored."""
    assert_contained(batch, "atk_protocol")
    flags = batch.run.rows["atk_protocol"]["flags"]
    assert "FORGED" not in flags and "does not import" not in flags and "tampering" not in flags
    assert "FORGED" not in json.dumps(batch.run.student("atk_protocol"))
    assert batch.run.rows["atk_protocol"]["p_sample_loop"] == "2"


def test_html_in_messages_and_file_names(batch):
    """Row 8: <script>, onerror= and javascript: links in exception messages, printed output, an import error,
    and the names of a module, a notebook and a zip member: escaped in the feedback and the Formgrader notebook."""
    assert_contained(batch, "atk_html")
    texts = batch.run.student_texts("atk_html")
    feedback = texts["feedback"]
    found, scripts = attacks.dangerous_html(feedback)
    assert found == []
    _, good_scripts = attacks.dangerous_html(batch.run.student_texts("good_a")["feedback"])
    assert scripts == good_scripts  # no script tag beyond nbgrader's own
    assert attacks.HTML_MARK in feedback  # the payload reached the page, as text
    notebook = json.loads((batch.run.course / "autograded" / "atk_html" / "ddpm" / "grading.ipynb").read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            assert not re.search(r"<\s*(script|img|a)\b", source, re.I), source
            assert "](javascript" not in source.replace(" ", "")
        for output in cell.get("outputs", []):
            assert output["output_type"] == "stream", output
    row = batch.run.rows["atk_html"]
    assert "<script>" in row["flags"] or "<img" in row["flags"]  # file names reach the CSV as text
    for text in (json.dumps(batch.run.student("atk_html")), row["flags"]):
        assert attacks.leaks(text) == []


def test_formula_student_ids(batch):
    """Row 9: hand-ins named +1+1, =HYPERLINK(...) and @SUM(1): rows under cleaned ids, no cell a spreadsheet
    would read as a formula, feedback files inside feedback/."""
    ids = ["1+1", attacks.graded_id(attacks.HYPERLINK_ID), attacks.graded_id("@SUM(1)")]
    assert_contained(batch, *ids)
    for line in batch.run.csv_text.splitlines():
        assert line[:1] not in ("=", "+", "-", "@", "\t", "\r"), line
    with open(batch.run.out / "grades.csv", newline="") as f:
        for row in csv.reader(f):
            for cell in row:
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (row[0], cell)
    for sid in ids:
        assert sid[:1].isalnum()
        assert (batch.run.out / "feedback" / f"{sid}.html").resolve().parent == (batch.run.out / "feedback").resolve()


def test_leftover_and_large_files(batch):
    """Row 10: files named with the token in /tmp, /dev/shm, /var/tmp, the box and its working folder, and 300+ MB
    written there: none of it outlives grading (the fixture checks /tmp, /dev/shm, /var/tmp and the grader's
    temporary folder); scores are untouched."""
    assert_contained(batch, "atk_leftovers")
    for folder in ("/tmp", "/dev/shm", "/var/tmp"):
        assert not [n for n in _names(folder) if n.startswith(("left-", "big-")) and batch.token in n]


def test_daemon_outliving_the_sandbox(batch):
    """Row 11: a double-forked, setsid, SIGTERM/SIGHUP-ignoring process that keeps writing to the canary folder and
    the grader's outputs: gone when grading ends (the fixture waited and looked for its command line)."""
    assert_contained(batch, "atk_daemon")
    assert _token_processes(batch.token) == []
    assert "PWNED" not in batch.run.csv_text
    assert not any(name.startswith("daemon-") for name in os.listdir(batch.canary))


def test_killer_in_the_batch(batch):
    """Row 12: p_losses SIGKILLs every process it can see and scribbles on every file under /tmp/ddpm-* and the
    grader's folders: only its own p_losses is lost."""
    assert_contained(batch, "atk_killer")
    assert "garbage" not in batch.run.csv_text


def test_reading_the_reference_through_proc(batch):
    """Row 13: /proc/self/mountinfo, /proc/1/root, /proc/<ppid>/cwd, /proc/*/cwd|root, /proc/*/environ."""
    assert_contained(batch, "atk_proc")


# ----------------------------------------------------------------------------- an old bubblewrap (issue 25)


OLD_BWRAP = os.environ.get("DDPM_OLD_BWRAP", "")


@pytest.mark.skipif(
    not os.access(OLD_BWRAP, os.X_OK), reason="set DDPM_OLD_BWRAP to Debian 11's bwrap 0.4.1 (.ci/old-bubblewrap)"
)
def test_bubblewrap_0_4_contains_the_batch_exactly_as_the_current_one(batch, tmp_path):
    """Issue 25: the whole batch graded again with bubblewrap 0.4.1 (no --disable-userns, --clearenv or --size): the
    same row for every hand-in, points and flags alike but for the isolation notes, nothing left behind, and every
    student's entry names the bubblewrap and the layers that ran."""
    base = tmp_path
    grader_tmp = base / "grader-tmp"
    grader_tmp.mkdir()
    rootfile = batch.canary / "rootfile"
    run, _elapsed, problems = _grade_and_watch(
        base, batch.subs, base / "out", base / "course", grader_tmp, batch.canary, rootfile, batch.token,
        env={"DDPM_BWRAP": OLD_BWRAP},
    )  # fmt: skip
    assert run.done.returncode == 0, run.done.stderr[-3000:]
    assert problems == []
    assert "bubblewrap 0.4.1" in run.report["isolation"] and "refused by the seccomp filter" in run.report["isolation"]
    assert sorted(run.rows) == sorted(batch.run.rows)

    def without_isolation(row):
        flags = [f for f in row["flags"].split("; ") if not f.startswith("sandbox:")]
        return {**row, "flags": flags}

    for sid, row in run.rows.items():
        assert without_isolation(row) == without_isolation(batch.run.rows[sid]), sid
        assert run.student(sid)["isolation"].startswith("bubblewrap 0.4.1, seccomp, userns refused (seccomp)")
    assert all("0.4.1" not in s["isolation"] for s in batch.run.report["students"])


# ----------------------------------------------------------------------------- the grader without root


def _user_available():
    if os.getuid() != 0 or not Path(USER_PYTHON).exists() or not shutil.which("setpriv"):
        return False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return False
    done = subprocess.run([USER_PYTHON, "-c", "import torch, nbgrader, numpy"], capture_output=True)
    return done.returncode == 0


def test_grading_without_root(batch):
    """Row 13 as an ordinary user: a copy of the course readable by that user, graded with its own Python; the
    /proc reader and the daemon get nothing, the correct student keeps full marks."""
    if not _user_available():
        pytest.skip(f"needs root, user {USER!r}, setpriv and {USER_PYTHON} with torch and nbgrader")
    work = batch.user_work
    entry = pwd.getpwnam(USER)
    try:
        work.mkdir(mode=0o755)
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
        ).stdout.split(b"\0")
        for name in filter(None, files):
            source = ROOT / name.decode()
            if source.is_file() and not source.is_symlink():
                target = work / "repo" / name.decode()
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        for name in ("good_a", "atk_proc", "atk_daemon"):
            shutil.copytree(batch.subs / name, work / "subs" / name)
        for path in [work, *work.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        for path in (work, work / "subs"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        (work / "tmp").mkdir()
        os.chown(work / "tmp", entry.pw_uid, entry.pw_gid)
        group = grp.getgrgid(entry.pw_gid).gr_name
        cmd = ["setpriv", "--reuid", USER, "--regid", group, "--init-groups", "env", "HOME=/tmp", f"TMPDIR={work / 'tmp'}"]
        cmd += _grade_cmd(USER_PYTHON, work / "subs", work / "out", work / "course")
        done = subprocess.run(cmd, cwd=work / "repo", capture_output=True, text=True, timeout=600)
        time.sleep(2)
        run = Run.read(done, work / "out", work / "course")
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"the grader's uid {entry.pw_uid} in a user namespace" in run.report["isolation"], run.report["isolation"]
        assert "grader is root" not in run.report["isolation"]
        assert sorted(run.rows) == ["atk_daemon", "atk_proc", "good_a"]
        for sid in ("good_a", "atk_proc", "atk_daemon"):
            expected = attacks.expected_points(batch.cases[sid])
            assert _exercise_points(run.rows[sid]) == expected, (sid, run.rows[sid]["flags"])
            for label, text in run.student_texts(sid).items():
                assert attacks.leaks(text) == [], (sid, label)
        message = " | ".join(p["message"] for p in run.student("atk_proc")["verdicts"]["extract"]["parts"])
        assert "ATK-PROC found nothing through /proc" in message
        assert _token_processes(batch.token) == []
        assert "PWNED" not in run.csv_text
        assert _names(work / "out") == OUT_FILES
        assert list((work / "tmp").iterdir()) == []
        assert sorted(os.listdir(batch.canary)) == ["rootfile"]
    finally:
        for pid in _token_processes(batch.token):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- two runs at once


@pytest.mark.parametrize("shared_course", [False, True], ids=["own-course-dirs", "same-course-dir"])
def test_concurrent_runs_match_serial(batch, tmp_path, shared_course):
    """Row 12: two `grade` runs started together on overlapping batches (correct students and the killer), with
    their own or the same --course-dir, write the rows that the serial run (the batch, same seed) wrote."""
    batches = {"one": ("good_a", "good_b.zip", "atk_killer"), "two": ("good_b.zip", "+1+1", "atk_killer")}
    procs = {}
    for name, members in batches.items():
        subs = tmp_path / name / "subs"
        subs.mkdir(parents=True)
        for member in members:
            source = batch.subs / member
            if source.is_dir():
                shutil.copytree(source, subs / member)
            else:
                shutil.copyfile(source, subs / member)
        course = tmp_path / ("course" if shared_course else f"{name}-course")
        cmd = _grade_cmd(sys.executable, subs, tmp_path / name / "out", course)
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), course)
    for name, (proc, course) in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        run = Run.read(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), tmp_path / name / "out", course)
        assert run.done.returncode == 0, stderr[-3000:]
        serial = batch.run.rows
        assert set(run.rows) == {attacks.graded_id(m[:-4] if m.endswith(".zip") else m) for m in batches[name]}
        for sid, row in run.rows.items():
            assert row == serial[sid], (name, sid)
        for sid in run.rows:
            assert (course / "feedback" / sid / "ddpm" / "grading.html").is_file()
    assert _token_processes(batch.token) == []
