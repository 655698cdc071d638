"""The trusted grading engine: inputs and reference outputs once per run, then one sandbox per student.

This process imports ``solutions/`` and the hidden tests but never student code.
"""

import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import hidden_tests, sandbox, stubs

EXERCISE_MODULES = sandbox.MODULES
ROOT = Path(__file__).resolve().parent.parent
# Hidden from the sandbox (when the machine allows a mount namespace): the reference, the
# hidden tests, the course directory with every submission, the test corpus, git history.
DEFAULT_MASK = tuple(p for p in (ROOT / "solutions", ROOT / "autograder", ROOT / "tests", ROOT / ".git") if p.is_dir())


class GradingRun:
    """Everything shared by the students of one run: seed, inputs, references, stubs."""

    def __init__(self, seed=None, limits=None, user="nobody", mask=()):
        self.seed = int(seed) if seed is not None else secrets.randbits(31)
        self.limits = limits or sandbox.Limits()
        stage = Path(tempfile.mkdtemp(prefix="ddpm-stage-"))
        try:
            self.isolation = sandbox.choose_isolation(user, [*DEFAULT_MASK, *mask], self.limits, stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        self.inputs = hidden_tests.make_inputs(self.seed)
        self.references = hidden_tests.make_references(self.inputs)
        self.dep_sources = hidden_tests.dep_sources()
        generated = stubs.generate()
        self.stub_texts = {name[:-3]: text for name, text in generated.items() if name[:-3] in EXERCISE_MODULES}
        # Everything in helpers/ that is not an exercise module is provided code: the grader's copy wins.
        self.provided = {name: text for name, text in generated.items() if name[:-3] not in EXERCISE_MODULES}
        self.tmp = Path(tempfile.mkdtemp(prefix="ddpm-run-"))
        self.tmp.chmod(0o700)
        self.inputs_dir = self.tmp / "inputs"
        self.inputs_dir.mkdir()
        for task, arrays in self.inputs.items():
            np.savez(self.inputs_dir / f"{task}.npz", **arrays)
        self.provided_dir = self.tmp / "provided"
        self.provided_dir.mkdir()
        for name, text in self.provided.items():
            (self.provided_dir / name).write_text(text)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def helpers_files(self, exercise_files):
        """The sandbox's ``helpers/``: ``{module: path}`` of the student's exercise modules
        (missing ones get the stub) plus the provided modules."""
        files = {f"{name}.py": self.provided_dir / f"{name}.py" for name in (p[:-3] for p in self.provided)}
        for module in EXERCISE_MODULES:
            if module in exercise_files:
                files[f"{module}.py"] = Path(exercise_files[module])
            else:
                stub = self.tmp / "stubs" / f"{module}.py"
                stub.parent.mkdir(exist_ok=True)
                stub.write_text(self.stub_texts[module])
                files[f"{module}.py"] = stub
        return files

    def grade(self, exercise_files, exercise_points=None, log=None, isolation=None):
        """Trusted verdicts for one student. ``exercise_files``: ``{module: path to the student's file}``.

        Returns ``(verdicts, import_errors, events)`` (see ``hidden_tests.score``)."""
        results, import_errors, events = sandbox.run_student(
            self.helpers_files(exercise_files),
            self.stub_texts,
            self.inputs_dir,
            hidden_tests.TASKS,
            self.dep_sources,
            self.limits,
            isolation or self.isolation,
            log=log,
        )
        verdicts = hidden_tests.score(exercise_points or {}, self.inputs, self.references, results)
        return verdicts, import_errors, events
