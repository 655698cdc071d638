"""The notebook series: structure, nbgrader metadata, and headless execution (``python -m autograder execute``)."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.paths import ROOT
from tests.student_styles import VARIANTS

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CORE = [p for p in NOTEBOOKS if p.name[:2] <= "06"]
NBGRADER_KEYS = {"grade", "grade_id", "locked", "points", "schema_version", "solution", "task"}


def load(path):
    return nbformat.read(path, as_version=4)


def check_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def test_the_series_is_there():
    names = [p.stem for p in CORE]
    assert names == [
        "00_setup",
        "01_noise_schedules",
        "02_forward_diffusion",
        "03_training_objective",
        "04_unet",
        "05_sampling",
        "06_training",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_valid_and_committed_without_outputs(path):
    nb = load(path)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    for cell in nb.cells:
        assert cell.get("id"), "every cell needs a stable id"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.id} has outputs"
            assert cell.execution_count is None, f"{path.name}: cell {cell.id} has an execution count"
        # a LaTeX "\beta" written in a non-raw Python string becomes a backspace and "eta"
        stray = sorted({hex(ord(ch)) for ch in cell.source if ord(ch) < 32 and ch not in "\n\t"})
        assert not stray, f"{path.name}: cell {cell.id} holds control characters {stray}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_teaching_frame(path):
    """What you will learn at the top, a recap and paper links at the end, the set-up cell first."""
    nb = load(path)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert "What you will learn" in markdown[0]
    assert "## Recap" in markdown[-1] and "arxiv.org" in markdown[-1]
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in first_code and "%autoreload 2" in first_code and "sys.path.insert" in first_code


def test_one_check_cell_per_exercise_with_valid_metadata():
    from nbgrader.nbgraderformat import MetadataValidator

    from autograder.assignment.regions import module_by_exercise

    seen = {}
    validator = MetadataValidator()
    for path in NOTEBOOKS:
        nb = load(path)
        validator.validate_nb(nb)
        for cell in check_cells(nb):
            meta = cell.metadata["nbgrader"]
            assert set(meta) == NBGRADER_KEYS, meta
            assert meta["grade"] and meta["locked"] and not meta["solution"] and not meta["task"]
            assert meta["schema_version"] == 3 and isinstance(meta["points"], int) and meta["points"] > 0
            exercise = meta["grade_id"].removeprefix("check_")
            assert cell.cell_type == "code" and f"checks.check_{exercise}()" in cell.source
            assert cell.id == f"check-{exercise}"
            assert exercise not in seen, f"check_{exercise} appears in {seen.get(exercise)} and {path.name}"
            seen[exercise] = path.name
    assert set(module_by_exercise()) <= set(seen), f"exercises without a check cell: {set(module_by_exercise()) - set(seen)}"


def test_checks_follow_their_explanation():
    """Each check cell comes right after a markdown cell that names its exercise."""
    for path in NOTEBOOKS:
        nb = load(path)
        for index, cell in enumerate(nb.cells):
            if cell in check_cells(nb):
                exercise = cell.metadata["nbgrader"]["grade_id"].removeprefix("check_")
                previous = nb.cells[index - 1]
                assert previous.cell_type == "markdown" and exercise in previous.source, (path.name, exercise)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_long_cells_have_a_smoke_mode(path):
    """Notebooks that train or sample read runtime.fast_mode()."""
    text = path.read_text()
    if re.search(r"training\.train|p_sample_loop|\.generate\(", text):
        assert "fast_mode()" in text and "FAST" in text


def _execute(*args, env_extra=None):
    env = {**os.environ, "DDPM_FAST": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "autograder", "execute", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )


def _checkout_state():
    """Every file execute could touch, with its size and time (no git: CI's copy of the checkout has none)."""
    return {
        str(path.relative_to(ROOT)): (path.stat().st_size, path.stat().st_mtime_ns)
        for part in ("notebooks", "helpers", "solutions", "autograder")
        for path in sorted((ROOT / part).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def executed(tmp_path_factory, ci_outputs):
    """The smoke series run once with the solutions: (output folder, CompletedProcess, checkout before, after).
    In CI (``DDPM_CI_OUTPUTS``, set by .ci/run) the folder is the one CI keeps, ``executed/``, with the log beside it."""
    keep = ci_outputs
    out = keep / "executed" if keep else tmp_path_factory.mktemp("executed")
    if keep:
        shutil.rmtree(out, ignore_errors=True)
    before = _checkout_state()
    result = _execute("--out", str(out))
    if keep:
        (keep / "execute.log").write_text(result.stdout + result.stderr)
    return out, result, before, _checkout_state()


@pytest.mark.slow
def test_execute_with_solutions(executed):
    out, result, before, after = executed
    assert result.returncode == 0, result.stdout + result.stderr
    for path in NOTEBOOKS:
        assert re.search(rf"{path.stem}\s+[\d.]+ s\s+ok", result.stdout), result.stdout
        assert (out / f"{path.stem}.ipynb").exists() and (out / f"{path.stem}.html").exists()
        executed_nb = load(out / f"{path.stem}.ipynb")
        code = [c for c in executed_nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{path.name}: not every cell ran"
        assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert (out / "06_samples.png").exists() and (out / "06_reverse_process.gif").exists()
    assert (out / "05_reverse_process.gif").exists()
    assert before == after, "execute must not touch the working tree"


PROBE = """
import importlib, json, os, sys
import matplotlib, numpy, torch
from tqdm.auto import tqdm
for name in {preload}:  # what a warm kernel has imported already, and the environment those imports set
    importlib.import_module(name)
print(json.dumps({{
    "cwd": os.getcwd(), "path": sys.path, "backend": matplotlib.get_backend(), "tqdm": [c.__module__ for c in tqdm.__mro__],
    "threads": torch.get_num_threads(),
    "env": {{k: v for k, v in os.environ.items() if k not in ("JPY_PARENT_PID", "JUPYTER_PATH")}},
    "seed": int(numpy.random.randint(2**31)),
}}))
"""


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_warm_kernels_are_fresh_kernels(tmp_path):
    """A kernel forked by execute's warm-kernel server sees what one started from scratch sees (folder, sys.path,
    environment, inline figures, notebook progress bars, threads) except a numpy seed of its own; a kernel that dies
    or hangs is reported as with a cold one, and no process outlives the run."""
    import asyncio
    import tempfile

    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from autograder.authoring import run_notebooks

    probe = PROBE.format(preload=run_notebooks.PRELOAD)
    paths = [
        _notebook(tmp_path / "probe1.ipynb", probe, "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"),
        _notebook(tmp_path / "probe2.ipynb", probe),
        _notebook(tmp_path / "dies.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        _notebook(tmp_path / "hangs.ipynb", "import time\ntime.sleep(600)"),
    ]

    async def run_all():
        done = [result async for result in run_notebooks.execute_series(paths[:3], tmp_path, timeout=300, jobs=2)]
        return done + [result async for result in run_notebooks.execute_series(paths[3:], tmp_path, timeout=2)]

    seen = {}
    for warm in (True, False):
        folder = tempfile.mkdtemp(prefix="ddpm-warm-")  # short: a socket's path holds at most 107 bytes
        try:
            with run_notebooks.kernels(folder, threads=1, warm=warm) as got:
                assert got == warm
                results = asyncio.run(run_all())
                assert _processes_of(folder) or not warm  # the server: the search below sees what it must
            assert not _processes_of(folder), f"processes outlived the run: {_processes_of(folder)}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        probe1, probe2, dies, hangs = results
        assert probe1[3] is None and probe2[3] is None, (probe1[3], probe2[3])
        assert isinstance(dies[3], DeadKernelError) and isinstance(hangs[3], CellTimeoutError), (dies[3], hangs[3])
        figure = probe1[1].cells[1].outputs
        assert [o.output_type for o in figure] == ["display_data"] and "image/png" in figure[0].data
        seen[warm] = [json.loads(nb.cells[0].outputs[0].text) for _, nb, _, _ in (probe1, probe2)]
    for probes in seen.values():
        assert probes[0].pop("seed") != probes[1].pop("seed")  # each kernel draws its own
    assert seen[True] == seen[False]
    assert "tqdm.notebook" in seen[True][0]["tqdm"] and seen[True][0]["threads"] == 1


def _processes_of(folder):
    """Processes whose command line or environment names ``folder``: a kernel's JUPYTER_PATH, a warm one's socket."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if folder.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.slow
def test_execute_with_stubs_fails_at_the_first_exercise():
    result = _execute("--with", "stubs", "--fail-fast")
    assert result.returncode != 0
    assert re.search(r"00_setup\s+[\d.]+ s\s+ok", result.stdout), result.stdout
    assert re.search(r"01_noise_schedules\s+[\d.]+ s\s+FAILED", result.stdout), result.stdout
    assert "grade_id check_cosine_beta_schedule" in result.stdout
    assert "not implemented yet: cosine_beta_schedule (COMPLETE THIS in helpers/schedules.py)" in result.stdout
    assert "02_forward_diffusion" not in result.stdout  # --fail-fast stops there


@pytest.mark.slow
def test_every_notebook_stops_at_its_first_exercise_with_stubs():
    result = _execute("--with", "stubs", "--notebooks", "01", "02", "03", "04", "05", "10")
    assert result.returncode != 0
    for exercise in (
        "cosine_beta_schedule",
        "q_sample",
        "q_posterior",
        "SinusoidalPositionEmbeddings",
        "p_sample",
        "p_losses_cfg",
    ):
        assert f"grade_id check_{exercise}" in result.stdout and f"not implemented yet: {exercise}" in result.stdout


@pytest.mark.slow
def test_nbgrader_validate_accepts_the_solved_notebooks(executed):
    """nbgrader's validator (its metadata check and its verdict per graded cell) passes each notebook that execute ran
    with the solutions: every cell executed, every check cell free of errors and of stderr output. The notebooks
    are not executed again: nbgrader's own step would only repeat execute's."""
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.utils import determine_grade
    from nbgrader.validator import Validator

    out, result, _, _ = executed
    validator = Validator()
    validator.preprocessors = [CheckCellMetadata]
    graded = [p for p in CORE if check_cells(load(p))]
    assert len(graded) >= 5
    for path in graded:
        ran = out / path.name
        assert ran.exists(), result.stdout + result.stderr
        nb = load(ran)
        assert all(c.execution_count for c in nb.cells if c.cell_type == "code"), f"{path.name}: not every cell ran"
        assert validator.validate(str(ran)) == {}, path.name
        checks = check_cells(nb)
        assert len(checks) == len(check_cells(load(path)))
        assert all(determine_grade(cell)[0] == determine_grade(cell)[1] > 0 for cell in checks), path.name


def _course_maps():
    """Every place that tells a student what the course holds, by name: its text."""
    from autograder.authoring import release

    recap = next(c.source for c in load(ROOT / "notebooks" / "06_training.ipynb").cells if "## Recap" in c.source)
    readme = (ROOT / "README.md").read_text()
    students = readme[readme.index("## For students") :]
    return {
        "00_setup, first cell": load(NOTEBOOKS[0]).cells[0].source,
        "06_training, recap": recap,
        "README.md, For students": students[: students.index("\n## ", 1)],
        "the release's README": release.student_readme(),
    }


@pytest.mark.parametrize("where", list(_course_maps()))
def test_every_course_map_names_every_exercise_and_notebook(where):
    """The course maps list all exercises of the exercise table and every other numbered notebook (by its number)."""
    from autograder.assignment.exercises import TABLE

    text = _course_maps()[where]
    missing = [f"`{e.id}`" for e in TABLE if f"`{e.id}`" not in text]
    missing += [
        p.name
        for p in NOTEBOOKS
        if p.name[:2] != "00" and not where.startswith(p.stem) and not re.search(rf"(?<!\d){p.name[:2]}(?!\d)", text)
    ]
    assert not missing, f"{where} leaves out {missing}"


def test_train_seconds_caps_training_cells(monkeypatch):
    """DDPM_TRAIN_SECONDS (the real configuration with training cut to seconds) caps each training cell's minutes."""
    from solutions import runtime

    monkeypatch.delenv("DDPM_TRAIN_SECONDS", raising=False)
    assert runtime.train_seconds() is None and runtime.training_minutes(12) == 12
    monkeypatch.setenv("DDPM_TRAIN_SECONDS", "30")
    assert runtime.train_seconds() == 30 and runtime.training_minutes(12) == 0.5 and runtime.training_minutes(0.25) == 0.25
    started = time.monotonic()
    monkeypatch.setenv("DDPM_TRAIN_SECONDS", "0.2")
    assert 0 < len(list(runtime.capped(_slow_steps()))) < 100 and time.monotonic() - started < 5
    monkeypatch.delenv("DDPM_TRAIN_SECONDS")
    assert len(list(runtime.capped(range(100)))) == 100
    for bad in ("soon", "0", "-5"):
        monkeypatch.setenv("DDPM_TRAIN_SECONDS", bad)
        with pytest.raises(ValueError, match="DDPM_TRAIN_SECONDS"):
            runtime.train_seconds()


def _slow_steps():
    for step in range(100):
        time.sleep(0.05)
        yield step


def test_every_training_cell_honours_the_cap():
    """Each notebook cell that trains for minutes takes them from runtime.training_minutes, so that CI's real-configuration
    run (DDPM_TRAIN_SECONDS) ends in seconds; a claim about a trained model is not checked under the cap."""
    for path in NOTEBOOKS:
        for cell in load(path).cells:
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                if re.search(r"\bMINUTES = \d|minutes = None if FAST else \(|minutes=None if FAST else \d", line):
                    pytest.fail(f"{path.name}, cell {cell.id}: a training budget without runtime.training_minutes: {line}")
            if ".backward()" in cell.source:  # a training loop written out in the notebook
                assert "runtime.capped(" in cell.source, f"{path.name}, cell {cell.id}: a training loop without runtime.capped"
            if "if not FAST" in cell.source and "assert" in cell.source:
                assert "train_seconds() is None" in cell.source, (
                    f"{path.name}, cell {cell.id}: trained-model claims under the cap"
                )


# The notebooks whose cells run the exercises on their own inputs and assert on the results: every correct style runs
# these; the full series runs for two styles (the literal float32 one and the all-float64 one), CPU time being scarce.
STUDENT_NUMBERS = ("01", "02", "03", "04", "05")
FULL_SERIES_STYLES = ("literal_float32", "float64")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_correct_style_runs_the_series(variant, tmp_path):
    """Each independently written correct solution (tests/student_styles) in place of the stubs: no notebook fails."""
    from tests.student_styles import build

    helpers = build(variant, tmp_path)
    chosen = [] if variant in FULL_SERIES_STYLES else ["--notebooks", *STUDENT_NUMBERS]
    result = _execute("--with-helpers", str(helpers), *chosen)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = NOTEBOOKS if not chosen else [p for p in NOTEBOOKS if p.name[:2] in STUDENT_NUMBERS]
    for path in expected:
        assert re.search(rf"{path.stem}\s+[\d.]+ s\s+ok", result.stdout), result.stdout


# The real configuration (DDPM_FAST off: the CPU config's T = 500, the real image counts, sample counts and chains) with
# each training cell capped to seconds: what a student's CPU run computes, in CI time.
REAL_CONFIG_NOTEBOOKS = ("01", "02", "03", "04", "05")
REAL_SHORT = {"DDPM_FAST": "0", "DDPM_TRAIN_SECONDS": "10"}


@pytest.mark.slow
def test_real_configuration_with_training_capped(tmp_path):
    """Notebooks 01-05 as a student's CPU runs them (T = 500, real counts), training capped to 10 s, with the reference and
    with the literal float32 style (whose notebook 05 stopped at an assert before): the two runs at once, one core each."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.student_styles import build

    runs = {"solutions": ["--with", "solutions"], "literal_float32": ["--with-helpers", str(build("literal_float32", tmp_path))]}
    options = ["--notebooks", *REAL_CONFIG_NOTEBOOKS, "--jobs", "1", "--threads", "1"]
    with ThreadPoolExecutor(len(runs)) as pool:
        results = dict(zip(runs, pool.map(lambda how: _execute(*how, *options, env_extra=REAL_SHORT), runs.values())))
    for code, result in results.items():
        assert "full mode" in result.stdout and "training capped to 10 s" in result.stdout, (code, result.stdout)
        assert result.returncode == 0, (code, result.stdout + result.stderr)
        for name in REAL_CONFIG_NOTEBOOKS:
            assert re.search(rf"{name}_\w+\s+[\d.]+ s\s+ok", result.stdout), (code, result.stdout)
