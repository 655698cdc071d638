"""Grading the hand-ins of a class, one :class:`StudentRow` each: the trusted verdicts and what the run saw.

Scores are the *trusted verdicts*: the hidden tests (``autograder.grading.grading_run``) compare, in this
process, outputs that the student's code produced in a sandbox. The same sandbox re-runs the notebooks'
self-checks. Every piece of student text (a part's message, a self-check's output, a flag) is cleaned here,
once (``autograder.grading.withheld``). The class folder (``autograder.grading.class_folder``) merges the rows
with earlier ones and writes them.
"""

import argparse
import time
import traceback
from pathlib import Path

from autograder.assignment import check_cells, exercises
from autograder.grading import scoring, withheld
from autograder.grading.grading_run import GradingRun
from autograder.grading.student_row import SelfCheck, StudentRow
from autograder.intake import submission
from autograder.intake.lms_entries import Entry
from autograder.records import ExerciseVerdict, SandboxRun, TaskResult
from autograder.sandbox import container
from autograder.sandbox.limits import Limits

PASSED = "all checks passed"
NO_HELPERS_PART = "not graded: your hand-in has no helpers/ folder (see the notes)"
CHECK_CHARS = 1000  # a self-check's message: the known mistake's sentence and the numbers fit


def sandbox_and_verdicts(
    run: GradingRun, helpers: dict[str, bytes] | None, points: dict[str, float]
) -> tuple[SandboxRun, dict[str, ExerciseVerdict]]:
    """What the sandbox gave back for ``helpers`` (None: nothing run, every exercise scores 0) and the verdicts."""
    sandbox = run.run(helpers) if helpers is not None else SandboxRun()
    return sandbox, scoring.score(points, run.inputs, run.references, sandbox.results, diagnosis=run.diagnosis)


class ClassGrader:
    """One grading run over a class's hand-ins: its sandbox, seed, inputs and references, shared by every student."""

    def __init__(self, args: argparse.Namespace, seed: int | None, hidden: list[Path]) -> None:
        """``args``: the ``grade`` command's options; ``hidden``: folders the sandbox must never see."""
        self.cells = check_cells.course_cells()
        self.points = dict(exercises.POINTS)
        limits = Limits(task_seconds=args.task_timeout, import_seconds=args.import_timeout)
        self.run = GradingRun(
            seed=seed,
            limits=limits,
            hidden=hidden,
            user=args.sandbox_user,
            unsafe=args.unsafe_no_sandbox,
            mode=getattr(args, "isolation", container.BUBBLEWRAP),
        )

    def self_checks(self, sandbox: SandboxRun, no_helpers: bool) -> dict[str, SelfCheck]:
        """Each exercise's self-check as re-run in the sandbox; its words are the student's code's, so cleaned here."""
        checks = {}
        for exercise in exercises.EXERCISES:
            result = sandbox.results.get(f"check:{exercise}", TaskResult("not run"))
            if "ok" in result.outputs:
                check = (bool(result.outputs["ok"]), withheld.clean(str(result.outputs.get("message", "")), CHECK_CHARS, lines=6))
            else:
                check = (False, withheld.clean(f"{result.status}: {result.detail}", CHECK_CHARS, lines=6))
            # a hand-in without helpers/ ran the stubs: what failed is the missing folder, not "COMPLETE THIS"
            checks[exercise] = (False, NO_HELPERS_PART) if no_helpers and not check[0] else check
        return checks

    def grade_one(self, entry: Entry) -> StudentRow:
        """The row of one hand-in."""
        start = time.monotonic()
        sub = submission.read(str(entry.path), entry.student_id)
        course_cells = {g: (nb, src) for g, (nb, src, _) in self.cells.items()}
        student_cells = submission.compare_check_cells(sub, course_cells)
        sandbox, verdicts = sandbox_and_verdicts(self.run, sub.helpers, self.points)
        for verdict in verdicts.values():
            verdict.parts = [  # the message may quote the student's output: cleaned; the diagnosis is the grader's
                part.shown(withheld.clean(NO_HELPERS_PART if sub.no_helpers and not part.ok else part.message))
                for part in verdict.parts
            ]
        checks = self.self_checks(sandbox, bool(sub.no_helpers))
        flags = [*entry.notes, *sub.flags, *self.run.isolation.row_flags()]
        for module, message in sandbox.imports.errors.items():
            flags.append(f"helpers/{module}.py does not import ({message}): graded as the stub")
        for module, names in sandbox.imports.replaced.items():
            flags.append(f"tampering: importing helpers/{module}.py replaced {', '.join(names[:5])} (seen in the sandbox)")
        flags.extend(f"self-check {e[len('check:') :]}" if e.startswith("check:") else e for e in sandbox.events)
        for grade_id, cell in student_cells.items():
            exercise = grade_id[len("check_") :]
            if cell is not None and PASSED in cell[1] and not checks.get(exercise, (True,))[0]:
                flags.append(
                    f"{grade_id}: the notebook's saved output says it passed, but re-running it on the submitted "
                    "helpers/ fails (code changed after the run, or the output was edited)"
                )
        row = self.row(entry, verdicts, checks, flags)
        row.seconds = round(time.monotonic() - start, 2)
        row.student_cells, row.helpers = student_cells, sub.helpers
        return row

    def row(
        self, entry: Entry, verdicts: dict[str, ExerciseVerdict], checks: dict[str, SelfCheck], flags: list[str]
    ) -> StudentRow:
        return StudentRow(
            student_id=entry.student_id,
            verdicts=verdicts,
            checks=checks,
            flags=[withheld.clean(flag, 400) for flag in flags],
            submitted_at=entry.submitted_at.isoformat() if entry.submitted_at else None,
            time_source=entry.time_source,
            source=withheld.clean(entry.original_name, 200),
            isolation=self.run.isolation.summary(),  # which bubblewrap and layers graded this row
        )

    def safe_grade_one(self, entry: Entry) -> StudentRow:
        """A row for every hand-in: a failure grading it scores it 0 (flagged), and never stops the class."""
        try:
            return self.grade_one(entry)
        except Exception as error:
            traceback.print_exc()
            flag = f"grading error ({type(error).__name__}: {error}): scored 0, grade again"
        try:
            _nothing, verdicts = sandbox_and_verdicts(self.run, None, self.points)
            return self.row(entry, verdicts, {}, [flag])
        except Exception as error:  # nothing of the hand-in's text in this row: only its id, which the grader chose
            traceback.print_exc()
            flags = [f"grading error ({type(error).__name__}): scored 0, grade again"]
            return StudentRow(student_id=entry.student_id, flags=flags, seconds=0)
