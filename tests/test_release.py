"""The student release speaks to students: no word of ``solutions/``, headers that say what to do,
a README that lists every exercise file, and a loud warning when the repository URL is left out."""

import re
import shlex
import subprocess
import sys
import zipfile

import pytest

from autograder.assignment import check_cells, hidden_tests, regions
from autograder.authoring import release, stubs
from autograder.commands import release as release_command

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
    exercise_modules = set(regions.module_by_exercise().values())
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
    from autograder.intake import submission

    path, flag = submission.find_module("forward", "sub/", files)
    assert path == "sub/helpers/my_forward_v2.py" and "not found" in flag


def test_readme_lists_every_exercise_file_with_the_bonus_marked(built):
    bundle, _ = built
    readme = (bundle / "README.md").read_text()
    modules = regions.module_by_exercise()
    for exercise in hidden_tests.EXERCISES:
        line = next((x for x in readme.splitlines() if x.startswith(f"- `helpers/{modules[exercise]}.py`")), None)
        assert line is not None and f"`{exercise}`" in line, exercise
        if exercise in check_cells.bonus_exercises():
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
    assert release_command.run(args) == 0
    assert "WARNING" not in capsys.readouterr().err
    args.repo_url = None
    release_command.run(args)
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


def readme_laptop_commands(readme):
    """The commands of the README's "Your machine" block, one per line, as the student types them."""
    after = readme.split("**Your machine**", 1)
    assert len(after) == 2, "the release's README has no **Your machine** instructions"
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", after[1], re.S)
    assert block, "the README's **Your machine** instructions have no command block"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


def test_the_laptop_commands_agree_everywhere(built):
    """The release's README, the repository's README and environment.yml start the same front end, and
    requirements.txt installs it (tests/test_laptop_journey.py runs these commands)."""
    bundle, _ = built
    commands = readme_laptop_commands((bundle / "README.md").read_text())
    assert [argv[:2] for argv in commands] == [["python3", "-m"], [".venv/bin/pip", "install"], [".venv/bin/jupyter", "notebook"]]
    start = "jupyter notebook notebooks/"
    assert shlex.join(["jupyter", *commands[2][1:]]) == start
    assert start in (ROOT / "README.md").read_text() and start in (bundle / "environment.yml").read_text()
    assert "jupyter lab" not in (bundle / "README.md").read_text()


# A file name as the release's texts write one: a path or bare name ending in a course file's extension.
NAMED_FILE = re.compile(r"(?<![\w./<>*-])([\w.-]+(?:/[\w.-]+)*\.(?:txt|yml|yaml|ipynb|py|md|zip|toml|sh))\b")


def named_files(bundle):
    """Every file that the release's README, requirements.txt and environment.yml name, with the text naming it."""
    named = []
    for text_file in ("README.md", "requirements.txt", "environment.yml"):
        for name in NAMED_FILE.findall((bundle / text_file).read_text()):
            named.append((text_file, name))
    return named


def test_every_file_the_release_names_is_in_the_release(built):
    """A student has the release only: a file its texts point to (say `requirements-dev.txt`) must be there.
    Bare notebook and helper names count when `notebooks/` or `helpers/` holds them."""
    bundle, _ = built
    named = named_files(bundle)
    assert ("README.md", "requirements.txt") in named and ("README.md", "00_setup.ipynb") in named  # the scan sees names
    missing = [
        f"{text_file} names {name}"
        for text_file, name in named
        if not any((folder / name).is_file() for folder in (bundle, bundle / "notebooks", bundle / "helpers"))
    ]
    assert not missing, missing


def test_named_files_sees_a_missing_file(tmp_path):
    for name in ("README.md", "environment.yml"):
        (tmp_path / name).write_text("")
    (tmp_path / "requirements.txt").write_text("# the tooling is in requirements-dev.txt\ntorch>=2.2\n")
    assert named_files(tmp_path) == [("requirements.txt", "requirements-dev.txt")]


def test_environment_yml_installs_the_student_requirements(built):
    """`conda env create -f environment.yml` in the release: a Python the requirements support, pip, and pip's part is
    requirements.txt itself, so the conda and the pip student get the same set (Jupyter Notebook included)."""
    import yaml

    from .test_hygiene import read_requirements

    bundle, _ = built
    env = yaml.safe_load((bundle / "environment.yml").read_text())
    assert env["name"] == "ddpm-course" and "conda-forge" in env["channels"]
    python = next(dep for dep in env["dependencies"] if isinstance(dep, str) and dep.startswith("python"))
    assert tuple(int(x) for x in python.split("=")[-1].split(".")) >= (3, 10), python
    assert "pip" in env["dependencies"]
    [pip] = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    # conda hands the pip part to pip as a requirements file beside environment.yml: `-r` is relative to the bundle
    conda_set = set()
    for entry in pip:
        if entry.startswith("-r "):
            conda_set |= {str(r) for r in read_requirements(bundle / entry.split(maxsplit=1)[1])}
        else:
            conda_set.add(entry)
    student = read_requirements(bundle / "requirements.txt")
    assert conda_set == {str(r) for r in student}
    assert {"notebook", "ipywidgets"} <= {r.name for r in student}
