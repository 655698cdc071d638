"""The trusted grading engine: inputs and reference outputs once per run, then one sandbox per student.

This process imports ``solutions/`` and the hidden tests but never student code.
"""

import io
import secrets
from dataclasses import dataclass

import numpy as np

from autograder.assignment import hidden_tests
from autograder.assignment.exercises import MODULES as EXERCISE_MODULES
from autograder.sandbox import detection, student_run
from autograder.sandbox.limits import Limits
from autograder.authoring import stubs


@dataclass
class Check:
    """A notebook self-check, re-run in the sandbox on the student's own modules."""

    name: str
    exercise: str
    deps: tuple = ()


def check_tasks():
    return [Check(f"check:{exercise}", exercise) for exercise in hidden_tests.EXERCISES]


class GradingRun:
    """Everything shared by the students of one run: seed, inputs, references, stubs, isolation."""

    def __init__(
        self, seed=None, limits=None, isolation=None, hidden=(), user="nobody", unsafe=False, self_checks=True, mode="bubblewrap"
    ):
        self.seed = int(seed) if seed is not None else secrets.randbits(31)
        self.limits = limits or Limits()
        self.owns_isolation = isolation is None  # then its seccomp program and cgroups are this run's to release
        self.isolation = isolation or detection.detect(hidden, user, unsafe, self.limits, mode)
        self.inputs = hidden_tests.make_inputs(self.seed)
        self.references = hidden_tests.make_references(self.inputs)
        self.dep_sources = hidden_tests.dep_sources()
        self.input_bytes = {}
        for task, arrays in self.inputs.items():
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            self.input_bytes[task] = buffer.getvalue()
        generated = stubs.generate()
        self.stub_texts = {name[:-3]: text for name, text in generated.items() if name[:-3] in EXERCISE_MODULES}
        # Everything in helpers/ that is not an exercise module is provided code: the grader's copy wins.
        self.provided = {name: text.encode() for name, text in generated.items() if name[:-3] not in EXERCISE_MODULES}
        self.tasks = [*(check_tasks() if self_checks else []), *hidden_tests.TASKS]

    def close(self):
        if self.owns_isolation:
            self.isolation.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def helpers_files(self, student_files):
        """The sandbox's ``helpers/``: ``{file name: bytes}``. The student's exercise modules and own
        extra modules, the stub for a missing exercise module, the grader's copy of provided modules."""
        files = {name: data for name, data in student_files.items() if name not in self.provided}
        for module in EXERCISE_MODULES:
            files.setdefault(f"{module}.py", self.stub_texts[module].encode())
        files.update(self.provided)
        return files

    def run(self, student_files, exercises=None):
        """Sandbox results for one student (``exercises``: only these): ``(results, import_info, events, stderr)``."""
        sandbox = student_run.run_student(
            self.helpers_files(student_files),
            self.stub_texts,
            self.input_bytes,
            [task for task in self.tasks if exercises is None or task.exercise in exercises],
            self.dep_sources,
            self.limits,
            self.isolation,
            modules=EXERCISE_MODULES,
        )
        # the 4-tuple of dicts its callers read until they take the SandboxRun itself
        results = {name: {"status": r.status, "detail": r.detail, "outputs": r.outputs} for name, r in sandbox.results.items()}
        return results, {"errors": sandbox.imports.errors, "replaced": sandbox.imports.replaced}, sandbox.events, sandbox.stderr

    def grade(self, student_files, exercise_points=None, exercises=None):
        """Trusted verdicts for one student. ``student_files``: ``{file name: bytes}`` of their ``helpers/``
        (or ``{module: path}``, read here); ``exercises``: grade only these (the others score 0).
        Returns ``(verdicts, import_errors, events)``."""
        student_files = {
            (name if name.endswith(".py") else f"{name}.py"): (data if isinstance(data, bytes) else open(data, "rb").read())
            for name, data in student_files.items()
        }
        results, import_info, events, _ = self.run(student_files, exercises)
        verdicts = hidden_tests.score(exercise_points or {}, self.inputs, self.references, results)
        return verdicts, import_info["errors"], events
