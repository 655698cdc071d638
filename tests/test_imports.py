"""Imports point one way: the course tooling (``autograder/``) uses ``solutions/``, never the reverse.

``helpers/`` is generated from ``solutions/`` and released without ``autograder/``, so a module of
``solutions/`` that imports ``autograder`` (even lazily, inside a function) would break in students' hands.
"""

import shutil
import subprocess
import sys
import textwrap

from autograder.paths import ROOT

MODULES = sorted(path.stem for path in (ROOT / "solutions").glob("*.py") if path.stem != "__init__")

# Runs under `python -I` (no cwd, no PYTHONPATH) with a temp copy of solutions/ first on sys.path;
# a meta-path finder refuses `autograder` and `tests` in case the checkout is installed in site-packages.
PROBE = textwrap.dedent(
    """
    import importlib, importlib.abc, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("autograder", "tests", "helpers"):
                raise ImportError(f"solutions/ must not import {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    sys.path.insert(0, sys.argv[1])
    import solutions
    assert solutions.__file__.startswith(sys.argv[1]), solutions.__file__
    for name in sys.argv[2:]:
        module = importlib.import_module("solutions." + name)
        for attr in ("build_expected", "render_expected"):
            assert not hasattr(module, attr), f"solutions.{name}.{attr}: expected-value generation belongs to autograder/"
    from solutions import checks_expected
    checks_expected.REGIONS, checks_expected.SCALES  # the checks' data is plain literals
    print("imported", len(sys.argv) - 2)
    """
)


def test_solutions_import_nothing_from_autograder(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(tmp_path), *MODULES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"imported {len(MODULES)}" in result.stdout


def test_no_source_mentions_autograder_imports():
    """The static half: no ``import autograder`` / ``from autograder`` line anywhere in solutions/ or helpers/."""
    offenders = []
    for folder in ("solutions", "helpers"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                stripped = line.strip()
                if stripped.startswith(("import autograder", "from autograder")):
                    offenders.append(f"{folder}/{path.name}:{number}: {stripped}")
    assert not offenders, offenders
