"""The adversarial submission corpus, generated from the release bundle and solutions/.

``build(dest, release_dir)`` writes one submission per case into ``dest`` (a folder or a
``.zip`` named by the student id) and returns ``CASES``: ``{student id: Case}`` with the
exact points each exercise must get and substrings that must appear in ``flags``.
Generated rather than stored, so the corpus follows ``solutions/`` and the notebooks.

    python -m tests.corpus OUT_DIR   # write the corpus (and a release) to OUT_DIR for manual runs
"""

import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import check_cells, exercises, mutants, regions
from autograder.authoring import stubs
from autograder.paths import ROOT

MODULES = tuple(exercises.MODULES)
EXERCISE_MODULE = regions.module_by_exercise()


@dataclass
class Case:
    description: str
    make: object  # make(folder) edits a copy of the release in place
    points: dict = field(default_factory=dict)  # exercise -> expected points; others: full marks
    base: str = "solutions"  # "solutions" or "stubs": what the folder starts from
    flags: tuple = ()  # substrings expected in the flags column
    zip: bool = False
    post: object = None  # post(path of the zip) edits the finished zip (corrupt a member)


def _points():
    return check_cells.exercise_points()


def _solution(module):
    return (stubs.SOLUTIONS / f"{module}.py").read_text()


def _write(folder, module, text):
    (folder / "helpers" / f"{module}.py").write_text(text)


def _replace(folder, module, old, new):
    path = folder / "helpers" / f"{module}.py"
    text = path.read_text()
    assert old in text, f"corpus: {old!r} not in {module}"
    path.write_text(text.replace(old, new, 1))


def _mutant(mutant_id):
    mutant = next(m for m in mutants.MUTANTS if m.id == mutant_id)

    def make(folder):
        _write(folder, mutant.module, mutants.apply(mutant, _solution(mutant.module)))

    return make


def _notebook_edit(folder, grade_id, edit):
    for path in sorted((folder / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for index, cell in enumerate(nb["cells"]):
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                edit(nb, index)
                path.write_text(json.dumps(nb, indent=1))
                return path.name
    raise AssertionError(f"corpus: no cell {grade_id}")


def _delete_cell(grade_id):
    return lambda folder: _notebook_edit(folder, grade_id, lambda nb, i: nb["cells"].pop(i))


def _edit_cell(grade_id, source):
    def edit(nb, i):
        nb["cells"][i]["source"] = source

    return lambda folder: _notebook_edit(folder, grade_id, edit)


def _nothing(folder):
    return None


def _partial(folder):
    _write(folder, "schedules", _solution("schedules"))


def _allclose_patch(folder):
    # a wrong cosine schedule plus a patched torch.allclose / assert_close, to fool checks in the kernel
    _replace(folder, "schedules", "    return betas.to(torch.float32)", "    return (betas * 0 + 0.02).to(torch.float32)")
    path = folder / "helpers" / "schedules.py"
    path.write_text(
        path.read_text()
        + "\n\ntorch.allclose = lambda *args, **kwargs: True\ntorch.testing.assert_close = lambda *args, **kwargs: None\n"
    )


def _sys_modules_swap(folder):
    # q_sample wrong, and the visible checks replaced by a fake module that always passes
    _replace(
        folder, "forward", "    return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise", "    return x_0"
    )
    path = folder / "helpers" / "forward.py"
    path.write_text(
        path.read_text() + "\n\nimport sys as _sys\nimport types as _types\n\n"
        "_fake = _types.ModuleType('helpers.checks')\n"
        "_fake.__getattr__ = lambda name: (lambda *a, **k: print('passed'))\n"
        "_sys.modules['helpers.checks'] = _fake\n"
        "_sys.modules['checks'] = _fake\n"
    )
    (folder / "helpers" / "checks.py").write_text("def __getattr__(name):\n    return lambda *a, **k: print('passed')\n")


def _infinite_loop(folder):
    _replace(folder, "schedules", "    out = a[t.to(a.device)]", "    while True:\n        pass\n    out = a[t.to(a.device)]")


def _import_hang(folder):
    path = folder / "helpers" / "schedules.py"
    path.write_text(path.read_text() + "\n\nwhile True:  # hangs at import\n    pass\n")


def _crash(folder):
    _replace(folder, "sampling", "    eps = model(x_t, t)\n", "    import os\n\n    os._exit(3)\n    eps = model(x_t, t)\n")


def _syntax_error(folder):
    path = folder / "helpers" / "forward.py"
    path.write_text(
        path.read_text().replace("def q_sample(schedule, x_0, t, noise=None):", "def q_sample(schedule, x_0, t, noise=None)", 1)
    )


def _missing_helper(folder):
    (folder / "helpers" / "unet.py").unlink()


def _renamed_helper(folder):
    (folder / "helpers" / "schedules.py").rename(folder / "helpers" / "schedules (1).py")


def _warning(folder):
    _replace(
        folder,
        "forward",
        "    sqrt_alphas_cumprod_t = extract(",
        "    import warnings\n\n    warnings.warn('q_sample: a harmless warning', UserWarning, stacklevel=1)\n"
        "    print('debug output on stderr', file=__import__('sys').stderr)\n"
        "    sqrt_alphas_cumprod_t = extract(",
    )
    path = folder / "helpers" / "forward.py"
    path.write_text("import warnings\nwarnings.warn('imported forward', UserWarning, stacklevel=1)\n" + path.read_text())


def _memory_hog(folder):
    _replace(folder, "schedules", "    out = a[t.to(a.device)]", "    _hog = torch.empty(10**12)\n    out = a[t.to(a.device)]")


def _reads_solutions(folder):
    # tries to borrow the reference from the instructor's checkout
    _replace(
        folder,
        "schedules",
        "    out = a[t.to(a.device)]\n    return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)",
        f"    import importlib, sys\n    sys.path.insert(0, {str(ROOT)!r})\n"
        "    return importlib.import_module('solutions.schedules').extract(a, t, x_shape)",
    )


def _sabotage_others(folder):
    # tries to kill the grader and the other students' sandboxes, and to scribble over their files
    # (grading folders under /tmp, found by name or through /proc/<pid>/cwd); the sandbox sees none of them
    _replace(
        folder,
        "losses",
        "    x_noisy = q_sample(schedule, x_0, t, noise=noise)\n",
        "    import glob, os, signal\n"
        "    targets = set(glob.glob('/tmp/ddpm-*/**', recursive=True))\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if not pid.isdigit() or int(pid) == os.getpid():\n"
        "            continue\n"
        "        try:\n"
        "            cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
        "            if b'autograder' in cmd or b'sandbox_runner' in cmd or b'nbgrader' in cmd or b'ipykernel' in cmd:\n"
        "                targets.update(glob.glob(os.readlink(f'/proc/{pid}/cwd') + '/**', recursive=True))\n"
        "                os.kill(int(pid), signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n"
        "    for path in targets:\n"
        "        try:\n"
        "            if os.path.isfile(path):\n"
        "                open(path, 'a').write('garbage')\n"
        "        except OSError:\n"
        "            pass\n"
        "    raise RuntimeError('sabotage attempted')\n",
    )


def _junk_folders(folder):
    git = folder / ".git" / "objects"
    for i in range(5200):
        sub = git / f"{i % 256:02x}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i:038x}").write_bytes(b"x" * 20)
    for junk in ("helpers/__pycache__", "notebooks/.ipynb_checkpoints", "__MACOSX/helpers"):
        (folder / junk).mkdir(parents=True, exist_ok=True)
    (folder / "helpers/__pycache__/schedules.cpython-311.pyc").write_bytes(b"\0" * 100)
    (folder / "notebooks/.ipynb_checkpoints/01_noise_schedules-checkpoint.ipynb").write_text("{broken")
    (folder / "__MACOSX/helpers/._schedules.py").write_bytes(b"\0\5\26\7 mac resource fork")


def _corrupt_member(zip_path):
    """Add an unrelated stored member, then damage its bytes: its CRC no longer matches."""
    with zipfile.ZipFile(zip_path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("notes.py", "# my notes\n" + "x = 1\n" * 200)
    data = bytearray(zip_path.read_bytes())
    at = data.find(b"x = 1\nx = 1")
    data[at : at + 40] = b"#" * 40
    zip_path.write_bytes(bytes(data))


def _stray_helpers(folder):
    inner = folder / "ddpm"
    inner.mkdir()
    for item in list(folder.iterdir()):
        if item != inner:
            shutil.move(str(item), inner / item.name)
    (folder / "helpers").write_text("not a folder\n")


def _own_module(folder):
    (folder / "helpers" / "mymath.py").write_text(
        "import torch\n\n\ndef gather_to(a, t, ndim):\n    return a.gather(0, t.to(a.device)).reshape(-1, *([1] * (ndim - 1)))\n"
    )
    _replace(
        folder,
        "schedules",
        "    out = a[t.to(a.device)]\n    return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)",
        "    from .mymath import gather_to\n\n    return gather_to(a, t, len(x_shape)).to(t.device)",
    )


def _nested_zip_folder(folder):
    inner = folder / "my_course"
    inner.mkdir()
    for item in list(folder.iterdir()):
        if item != inner:
            shutil.move(str(item), inner / item.name)


def _reordered_cells(folder):
    path = folder / "notebooks" / "01_noise_schedules.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"] = nb["cells"][::-1]
    path.write_text(json.dumps(nb, indent=1))


def cases():
    pts = _points()
    zero = {e: 0 for e in pts}
    c = {
        "full_solution": Case("the reference solutions", _nothing),
        "untouched_stubs": Case("the release as it is", _nothing, zero, base="stubs"),
        "partial_schedules_only": Case(
            "schedules.py solved, the rest untouched",
            _partial,
            {e: 0 for e in pts if EXERCISE_MODULE[e] != "schedules"},
            base="stubs",
        ),
        "allclose_monkeypatch": Case(
            "wrong cosine schedule + torch.allclose patched to True",
            _allclose_patch,
            {"cosine_beta_schedule": 0},
            flags=("tampering: importing helpers/schedules.py replaced torch.allclose",),
        ),
        "sys_modules_swap": Case(
            "wrong q_sample + helpers.checks replaced in sys.modules and on disk",
            _sys_modules_swap,
            {"q_sample": 0},
            flags=("tampering: importing helpers/forward.py replaced helpers.checks",),
        ),
        "infinite_loop": Case("extract loops forever", _infinite_loop, {"extract": 0}, flags=("extract: timeout",)),
        "import_hang": Case(
            "schedules.py loops forever when imported",
            _import_hang,
            {e: 0 for e in pts if EXERCISE_MODULE[e] == "schedules"},
            flags=("import of helpers/schedules.py timed out",),
        ),
        "crash_os_exit": Case("p_sample kills its process", _crash, {"p_sample": 0}, flags=("p_sample.mean: crashed",)),
        "syntax_error": Case(
            "forward.py does not parse", _syntax_error, {"q_sample": 0}, flags=("helpers/forward.py does not import",)
        ),
        "deleted_test_cell": Case(
            "check_q_sample cell deleted", _delete_cell("check_q_sample"), flags=("test cell check_q_sample deleted",)
        ),
        "edited_test_cell": Case(
            "check_extract cell replaced by a print",
            _edit_cell("check_extract", "print('all good')"),
            flags=("test cell check_extract edited",),
        ),
        "missing_helper_file": Case(
            "helpers/unet.py deleted",
            _missing_helper,
            {"SinusoidalPositionEmbeddings": 0, "Block": 0, "ResnetBlock": 0},
            flags=("helpers/unet.py missing",),
        ),
        "renamed_helper_file": Case(
            "helpers/schedules.py renamed", _renamed_helper, flags=("helpers/schedules.py not found; graded",)
        ),
        "zip_submission": Case("full solution handed in as a zip", _nothing, zip=True, flags=("zip submission",)),
        "zip_nested_folder": Case(
            "a zip whose files sit in a sub-folder", _nested_zip_folder, zip=True, flags=("zip submission",)
        ),
        "warning_but_correct": Case("correct, but warns and prints to stderr", _warning),
        "reordered_cells": Case("cells of notebook 01 in reverse order", _reordered_cells),
        "memory_hog": Case("extract allocates 4 TB", _memory_hog, {"extract": 0}),
        "reads_solutions": Case("extract imports the instructor's solutions/", _reads_solutions, {"extract": 0}),
        "sabotage_others": Case(
            "p_losses kills every process and scribbles over /tmp and /work",
            _sabotage_others,
            {"p_losses": 0},
        ),
        "zip_with_junk": Case(
            "a zip of the whole folder: .git/ with 5,000+ files, __pycache__, checkpoints, __MACOSX",
            _junk_folders,
            zip=True,
            flags=("skipped: .git/",),
        ),
        "zip_corrupt_member": Case(
            "a zip with one corrupt unrelated member", _nothing, zip=True, post=_corrupt_member, flags=("unreadable zip members",)
        ),
        "stray_helpers_file": Case("a stray file named helpers beside the real folder, one level down", _stray_helpers),
        "own_module": Case("schedules.py imports the student's own helpers/mymath.py", _own_module),
        ".dot_folder": Case("a folder whose name starts with a dot", _nothing, flags=("not a plain id",)),
    }
    for mutant in mutants.MUTANTS:
        if mutant.pitfall:
            kept = PITFALL_KEPT.get(mutant.id, 0.0) * pts[mutant.exercise]
            c[f"pitfall_{mutant.id}"] = Case(f"§5: {mutant.pitfall}", _mutant(mutant.id), {mutant.exercise: kept})
    return c


# Share of its exercise's points a §5 mutant keeps (the parts it does not break); 0 when absent.
PITFALL_KEPT = {
    "variance_as_std": 1 / 2,  # p_sample: the mean part still passes
    "recip_alpha_no_sqrt_p_sample": 1 / 2,  # p_sample: the noise part still passes
    "noise_at_zero": 1 / 2,
    "recip_alpha_no_sqrt_schedule": 3 / 4,  # DiffusionSchedule: 1 of 4 parts wrong
    "schedule_alphas_not_cumprod": 3 / 4,
    # a wrong alphas_cumprod_prev makes the posterior variance built on it wrong too: each part is compared with
    # the reference's value (issue 18 item 8), so 2 of 4 parts fail
    "prev_not_one": 1 / 2,
    "prev_repeats_first": 1 / 2,
    "groupnorm_input": 1 / 2,  # Block: __init__ wrong, forward right
    "prev_not_shifted": 1 / 2,  # alphas_cumprod_prev and the posterior variance built on it
    "schedule_one_minus_abar_no_sqrt": 3 / 4,  # the square-root constants' part only
    "schedule_one_minus_alphas": 3 / 4,
    "schedule_posterior_std": 3 / 4,  # the posterior variance's part only
}


def expected_points(case):
    """{exercise: points} expected for ``case``."""
    pts = _points()
    expected = {e: pts[e] for e in pts}
    expected.update(case.points)
    return expected


def build(dest, release_dir, names=None):
    """Write the corpus into ``dest``; returns ``{student id as graded: Case}``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    selected = {k: v for k, v in cases().items() if names is None or k in names}
    for sid, case in selected.items():
        folder = dest / (sid + ".tmp" if case.zip else sid)
        shutil.copytree(release_dir, folder)
        if case.base == "solutions":
            for module in MODULES:
                _write(folder, module, _solution(module))
        case.make(folder)
        if case.zip:
            with zipfile.ZipFile(dest / f"{sid}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(folder))
            shutil.rmtree(folder)
            if case.post:
                case.post(dest / f"{sid}.zip")
    (dest / "garbage_not_a_zip.zip").write_bytes(b"this is not a zip file\x00\xff" * 10)
    (dest / "empty_folder").mkdir(exist_ok=True)
    return {sid.lstrip("."): case for sid, case in selected.items()}


EXTRA = {
    "garbage_not_a_zip": ("could not read the submission",),
    "empty_folder": ("helpers/schedules.py missing",),
}
