"""Scoring: the trusted verdicts, part by part, from the sandbox's outputs and the run's references.

Each part of the exercise table (``autograder.assignment.exercises.PARTS``) checks the outputs of one task
against its float64 references and earns its share of the exercise's points, all or nothing. A task the
sandbox did not answer (time-out, crash, not run) fails its parts with the sandbox's reason; an output
that breaks a check (wrong type, missing key) fails the part, never grading. A result that is not float32
where every input is float32 fails the parts of its task (it breaks the training code that uses it). A
failed part names the known mistake its outputs match (``diagnosis``), or says that none does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from autograder.assignment import exercises
from autograder.assignment.catalogue import Mistake
from autograder.assignment.hidden_tests.common import Arrays, Part
from autograder.grading.diagnosis import NO_MATCH, Diagnosis, named
from autograder.records import ExerciseVerdict, PartVerdict, TaskResult

NOT_RUN = TaskResult("not run")


def score(
    exercise_points: Mapping[str, float],
    inputs: Mapping[str, Arrays],
    references: Mapping[str, Arrays],
    results: Mapping[str, TaskResult],
    parts: Sequence[Part] = exercises.PARTS,
    points: Mapping[str, float] = exercises.POINTS,
    diagnosis: Diagnosis | None = None,
) -> dict[str, ExerciseVerdict]:
    """``{exercise: verdict}`` for every exercise of ``points`` (the table's, by default): ``exercise_points``
    overrides an exercise's points; ``results``: ``{task name: TaskResult}`` from the sandbox; ``diagnosis``:
    names the known mistake of each failed part (None: nothing is named)."""
    verdicts = {}
    for exercise in points:
        own = [p for p in parts if p.exercise == exercise]
        max_points = float(exercise_points.get(exercise, points[exercise]))
        total_weight = sum(p.weight for p in own)
        got, details = 0.0, []
        judged = [(part, results.get(part.task, NOT_RUN)) for part in own]
        judged_parts = [(part, result, *part_verdict(part, inputs, references, result)) for part, result in judged]
        names = name_mistakes(judged_parts, diagnosis)
        for part, _result, ok, message in judged_parts:
            share = max_points * part.weight / total_weight
            entry = names.get(part.name)
            said = (entry.message() if entry is not None else NO_MATCH) if part.name in names else ""
            got += share if ok else 0.0
            points_here = round(share if ok else 0.0, 4)
            verdict = PartVerdict(part.name, points_here, round(share, 4), ok, message, named(entry), said)
            details.append(verdict)
        verdicts[exercise] = ExerciseVerdict(round(got, 4), max_points, details)
    return verdicts


def name_mistakes(judged: Sequence[tuple[Part, TaskResult, bool, str]], diagnosis: Diagnosis | None) -> dict[str, Mistake | None]:
    """``{part name: the known mistake it is named by, or None}`` for the failed parts that the diagnosis can
    judge (answered, not a stub). One mistake usually fails several parts: an entry that matches more of the
    exercise's failed parts is preferred over one that matches fewer, then the closest (two entries can agree
    on one part, e.g. at w = 0, and differ on another)."""
    if diagnosis is None:
        return {}
    candidates = {
        part.name: diagnosis.matches(part, result)
        for part, result, ok, message in judged
        if not ok and result.status == "ok" and not message.startswith("not implemented")
    }
    parts_matched = Counter(entry.id for found in candidates.values() for entry in {m[2] for m in found})
    return {
        name: min(found, key=lambda m: (-parts_matched[m[2].id], m[0], m[1]))[2] if found else None
        for name, found in candidates.items()
    }


def part_verdict(
    part: Part, inputs: Mapping[str, Arrays], references: Mapping[str, Arrays], result: TaskResult
) -> tuple[bool, str]:
    """``(ok, message)`` of one part on its task's result."""
    if result.status != "ok":
        return False, f"{result.status}: {result.detail}".strip(": ")
    widened = dtype_problem(result.outputs)
    if widened:
        return False, widened
    try:
        return part.check(inputs[part.task], references[part.task], result.outputs)
    except Exception as error:  # a malformed output is a failure, never a crash of grading
        return False, f"unusable output ({type(error).__name__}: {error})"


def dtype_problem(outputs: Mapping[str, object]) -> str:
    """What is wrong when a result is not float32 (the sandbox records ``key.dtype`` for such a tensor), or ""."""
    for key in sorted(outputs):
        if key.endswith(".dtype"):
            what = key[: -len(".dtype")].split("/", 1)[-1]
            return (
                f"the result {what!r} is {outputs[key]} where every input is float32: keep the inputs' dtype "
                "(look for a float64 constant, torch.tensor(..., dtype=torch.float64) or a numpy array), or the "
                "training code that feeds it to the network fails with 'Input type (double) and bias type (float)'"
            )
    return ""
