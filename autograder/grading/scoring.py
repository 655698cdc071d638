"""Scoring: the trusted verdicts, part by part, from the sandbox's outputs and the run's references.

Each part of the exercise table (``autograder.assignment.exercises.PARTS``) checks the outputs of one task
against its float64 references and earns its share of the exercise's points, all or nothing. A task the
sandbox did not answer (time-out, crash, not run) fails its parts with the sandbox's reason; an output
that breaks a check (wrong type, missing key) fails the part, never grading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autograder.assignment import exercises
from autograder.assignment.hidden_tests.common import Arrays, Part
from autograder.records import ExerciseVerdict, PartVerdict, TaskResult

NOT_RUN = TaskResult("not run")


def score(
    exercise_points: Mapping[str, float],
    inputs: Mapping[str, Arrays],
    references: Mapping[str, Arrays],
    results: Mapping[str, TaskResult],
    parts: Sequence[Part] = exercises.PARTS,
    points: Mapping[str, float] = exercises.POINTS,
) -> dict[str, ExerciseVerdict]:
    """``{exercise: verdict}`` for every exercise of ``points`` (the table's, by default): ``exercise_points``
    overrides an exercise's points; ``results``: ``{task name: TaskResult}`` from the sandbox."""
    verdicts = {}
    for exercise in points:
        own = [p for p in parts if p.exercise == exercise]
        max_points = float(exercise_points.get(exercise, points[exercise]))
        total_weight = sum(p.weight for p in own)
        got, details = 0.0, []
        for part in own:
            share = max_points * part.weight / total_weight
            ok, message = part_verdict(part, inputs, references, results.get(part.task, NOT_RUN))
            got += share if ok else 0.0
            details.append(PartVerdict(part.name, round(share if ok else 0.0, 4), round(share, 4), ok, message))
        verdicts[exercise] = ExerciseVerdict(round(got, 4), max_points, details)
    return verdicts


def part_verdict(
    part: Part, inputs: Mapping[str, Arrays], references: Mapping[str, Arrays], result: TaskResult
) -> tuple[bool, str]:
    """``(ok, message)`` of one part on its task's result."""
    if result.status != "ok":
        return False, f"{result.status}: {result.detail}".strip(": ")
    try:
        return part.check(inputs[part.task], references[part.task], result.outputs)
    except Exception as error:  # a malformed output is a failure, never a crash of grading
        return False, f"unusable output ({type(error).__name__}: {error})"
