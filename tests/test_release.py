"""The student release speaks to students: no word of ``solutions/``, headers that say what to do,
a README that lists every exercise file, and a loud warning when the repository URL is left out."""

import re
import subprocess
import sys
import zipfile

import pytest

from autograder import coursefiles, hidden_tests, release, stubs

from .test_hygiene import ROOT


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The release as the CLI builds it without ``--repo-url``: (bundle, stderr)."""
    out = tmp_path_factory.mktemp("release") / "ddpm-course"
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stderr


def test_release_never_mentions_solutions(built):
    bundle, _ = built
    mentions = [
        str(p.relative_to(bundle)) for p in sorted(bundle.rglob("*")) if p.is_file() and b"solutions" in p.read_bytes().lower()
    ]
    with zipfile.ZipFile(bundle.with_suffix(".zip")) as archive:
        mentions += [f"zip:{i.filename}" for i in archive.infolist() if b"solutions" in archive.read(i).lower()]
    assert not mentions, mentions


def test_leak_check_catches_a_mention_of_solutions(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "helpers").mkdir(parents=True)
    for name, text in stubs.generate(release=True).items():
        (bundle / "helpers" / name).write_text(text)
    assert release.leak_check(bundle) == []
    (bundle / "notes.md").write_text("see solutions/forward.py\n")
    assert any("mentions 'solutions'" in leak for leak in release.leak_check(bundle))


def test_released_headers_say_what_to_edit_and_how_to_check(built):
    bundle, _ = built
    exercise_modules = set(stubs.exercises().values())
    for path in sorted((bundle / "helpers").glob("*.py")):
        first = path.read_text().splitlines()[0]
        assert "Do not edit" not in first and "regenerate" not in first, first
        if path.stem in exercise_modules:
            assert "COMPLETE THIS" in first and "check" in first, first
        else:
            assert "provided" in first and "nothing to complete" in first, first
    assert "Reference implementation" not in (bundle / "helpers" / "__init__.py").read_text()
    assert "python -m helpers.training" in (bundle / "helpers" / "training.py").read_text()


def test_renamed_released_helper_is_still_found():
    files = {"sub/helpers/my_forward_v2.py": stubs.generate(release=True)["forward.py"].encode()}
    from autograder import submission

    path, flag = submission._find_module("forward", "sub/", files)
    assert path == "sub/helpers/my_forward_v2.py" and "not found" in flag


def test_readme_lists_every_exercise_file_with_the_bonus_marked(built):
    bundle, _ = built
    readme = (bundle / "README.md").read_text()
    modules = stubs.exercises()
    for exercise in hidden_tests.EXERCISES:
        line = next((x for x in readme.splitlines() if x.startswith(f"- `helpers/{modules[exercise]}.py`")), None)
        assert line is not None and f"`{exercise}`" in line, exercise
        if exercise in coursefiles.bonus_exercises():
            assert "bonus" in line, line
    assert "- `helpers/ddim.py` (bonus" in readme


def test_release_without_repo_url_warns_once_naming_the_notebooks(built):
    _, stderr = built
    assert stderr.count("WARNING") == 1, stderr
    assert "--repo-url" in stderr
    for name in release.placeholder_notebooks():
        assert name in stderr
    assert "00_setup.ipynb" in release.placeholder_notebooks()


def test_release_with_repo_url_does_not_warn(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(release, "build", lambda out, repo_url: tmp_path)
    args = type("Args", (), {"out": str(tmp_path), "repo_url": "https://github.com/o/n"})()
    assert release.run(args) == 0
    assert "WARNING" not in capsys.readouterr().err
    args.repo_url = None
    release.run(args)
    assert re.search(r"WARNING: release without --repo-url", capsys.readouterr().err)


def test_a_stub_left_as_it_is_gets_the_one_line_not_implemented_message():
    """Feedback for an exercise not written yet: one line saying where to write it, no case list, no paths."""
    from solutions.checks_expected import REGIONS

    what, (exercise, module) = next(iter(REGIONS.items()))
    error = f"NotImplementedError: COMPLETE THIS: {what}"
    assert hidden_tests._raised(error) == f"not implemented yet (COMPLETE THIS in helpers/{module}.py)"
    assert hidden_tests._raised("ValueError: bad").startswith("raised ValueError")
    inputs = {"c0/label": "first case", "c1/label": "second case"}
    check = hidden_tests.all_cases_check()
    ok, message = check(inputs, {}, {"c0/error": error, "c1/error": error})
    assert not ok and message == f"not implemented yet (COMPLETE THIS in helpers/{module}.py)"
    assert "\n" not in message and "/tmp" not in message and "Traceback" not in message
