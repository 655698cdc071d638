"""``python -m autograder validate``: the assignment's self-test.

0. The reference itself: the exercise table is consistent and matches the solution regions, each
   exercise's reference agrees with an independent computation (``reference_check``: float64 closed
   forms, diffusers where installed), and ``helpers/``, the self-checks' expected values and the
   notebooks' check-cell points are up to date.
1. The reference solutions score full marks on every exercise.
2. The untouched stubs (``helpers/`` as released) score zero on every exercise.
3. Every mutant of the catalogue loses points on its exercise, only there, and the grader's diagnosis
   names it (or an entry with the same outputs); prints the mutation score (all mutants, and the
   contract §5 pitfalls alone, which must be 100%).
4. A release built into a temporary folder passes the leak check.

``validate(...)`` returns the exit code: 0 when all of these hold.
"""

import shutil
import sys
import tempfile
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.assignment import check_cells, exercises, mutants, regions
from autograder.assignment.mutants import Mistake
from autograder.authoring import reference_check, release, self_check_values, stubs
from autograder.grading.grading_run import GradingRun
from autograder.paths import HELPERS, SOLUTIONS

# ----------------------------------------------------------------------------- 0: the reference


def table_problems() -> list[str]:
    """The exercise table against itself and against the solution regions."""
    problems = list(exercises.check_table())
    modules = regions.module_by_exercise()
    for exercise, module in modules.items():
        if exercise not in exercises.BY_ID:
            problems.append(
                f"solutions/{module}.py: exercise {exercise} has no entry in autograder/assignment/exercises.py "
                f"(run `python -m autograder new-exercise {exercise} --module {module} --notebook NN`)"
            )
        elif exercises.BY_ID[exercise].module != module:
            problems.append(f"{exercise}: the table says module {exercises.BY_ID[exercise].module}, its region is in {module}")
    problems += [
        f"{e}: in autograder/assignment/exercises.py but no solution region in solutions/"
        for e in exercises.EXERCISES
        if e not in modules
    ]
    return problems


def independent_check_problems() -> list[str]:
    """The reference against the papers' closed forms (``reference_check``), with a one-line summary printed."""
    found = reference_check.problems()
    unchecked = [e for e in exercises.EXERCISES if e not in reference_check.CHECKS]
    print(
        f"  reference: {len(exercises.EXERCISES) - len(unchecked)} exercise(s) checked against independent computations, "
        f"{len(found)} problem(s)" + (f"; no independent check for {', '.join(unchecked)}" if unchecked else "")
    )
    return [f"reference: {problem}" for problem in found]


def generated_file_problems() -> list[str]:
    """What ``python -m autograder helpers`` writes, if it is stale: the stubs, the expected values, the points."""
    problems = []
    stale = stubs.stale_helpers()
    if stale:
        problems.append(f"helpers/ is stale ({', '.join(stale)}): run `python -m autograder helpers`")
    if not self_check_values.refresh_expected(check=True):
        problems.append("solutions/checks_expected.py is stale: run `python -m autograder helpers`")
    problems += [f"notebooks: {p}" for p in check_cells.drift()]
    return problems


def check_reference() -> list[str]:
    """Step 0: the table, the regions, the reference against independent computations, generated files."""
    return table_problems() + independent_check_problems() + generated_file_problems()


# ----------------------------------------------------------------------------- 1-3: grading


def solution_files(tmp: Path, name: str, mutant: Mistake | None = None) -> dict[str, Path]:
    """``{module: path}`` of a copy of the reference's exercise modules in ``tmp/name``, ``mutant`` applied."""
    folder = Path(tmp) / name
    folder.mkdir()
    files = {}
    for module in exercises.MODULES:
        text = (SOLUTIONS / f"{module}.py").read_text()
        if mutant is not None and mutant.module == module:
            text = mutants.apply(mutant, text)
        (folder / f"{module}.py").write_text(text)
        files[module] = folder / f"{module}.py"
    return files


def _summary(verdicts: Mapping[str, Any]) -> str:
    return ", ".join(f"{e} {v.points:g}/{v.max:g}" for e, v in verdicts.items())


def grade_reference_and_stubs(grading: GradingRun, tmp: Path, points: Mapping[str, float]) -> list[str]:
    """Steps 1-2: the reference solutions score full marks, the untouched stubs zero."""
    problems = []
    graded = grading.grade(solution_files(tmp, "solutions"), points)
    bad = {e: v for e, v in graded.verdicts.items() if v.points != v.max}
    print(f"  solutions: {_summary(graded.verdicts)}")
    if bad or graded.events:
        problems.append(f"the reference solutions lose points: {_summary(bad)} {graded.events}")
    stub_files = {m: HELPERS / f"{m}.py" for m in exercises.MODULES}
    zero = grading.grade(stub_files, points).verdicts
    print(f"  stubs:     {_summary(zero)}")
    if any(v.points for v in zero.values()):
        problems.append(f"the stubs score points: {_summary(zero)}")
    return problems


@dataclass(frozen=True)
class MutantOutcome:
    """One mutant graded: its verdicts, or (``verdicts`` None) why it could not be applied."""

    mutant: Mistake
    verdicts: Mapping[str, Any] | None
    note: str


@dataclass
class MutationScore:
    """Mutants killed (lost points on their exercise) out of those graded; the §5 pitfalls among them."""

    killed: int = 0
    total: int = 0
    pitfalls_killed: int = 0
    pitfalls: int = 0

    def line(self) -> str:
        return (
            f"mutation score: {self.killed}/{self.total} = {100 * self.killed / max(1, self.total):.0f}% "
            f"(§5 pitfalls: {self.pitfalls_killed}/{self.pitfalls} = {100 * self.pitfalls_killed / max(1, self.pitfalls):.0f}%)"
        )


def grade_mutant(grading: GradingRun, tmp: Path, points: Mapping[str, float], mutant: Mistake) -> MutantOutcome:
    """One mutant of the reference, graded like a hand-in."""
    try:
        files = solution_files(tmp, mutant.id, mutant)
    except ValueError as error:
        return MutantOutcome(mutant, None, str(error))
    graded = grading.grade(files, points)
    return MutantOutcome(mutant, graded.verdicts, "; ".join(graded.events))


def judge_mutant(outcome: MutantOutcome, score: MutationScore) -> list[str]:
    """Print one mutant's line, count it in ``score``; the problems it shows (survived, stale, not isolated)."""
    mutant, verdicts = outcome.mutant, outcome.verdicts
    if verdicts is None:
        print(f"  STALE    {mutant.id}: {outcome.note}")
        return [outcome.note]
    own = verdicts[mutant.exercise]
    lost = own.max - own.points
    collateral = {e: v.points for e, v in verdicts.items() if e != mutant.exercise and v.points != v.max}
    is_killed = lost > 0
    score.total += 1
    score.killed += is_killed
    if mutant.pitfall:
        score.pitfalls += 1
        score.pitfalls_killed += is_killed
    status = "killed  " if is_killed else "SURVIVED"
    extra_note = f"; other exercises lost points: {collateral}" if collateral else ""
    tag = f" [§5: {mutant.pitfall}]" if mutant.pitfall else ""
    print(f"  {status} {mutant.id:30s} {mutant.exercise} -{lost:g}/{own.max:g}{tag}{extra_note}")
    problems = []
    if not is_killed:
        problems.append(f"mutant {mutant.id} survived ({mutant.exercise} kept {own.points:g}/{own.max:g})")
    names = [part.mistake.id for part in own.parts if not part.ok and part.mistake is not None]
    if is_killed and not names:
        problems.append(f"mutant {mutant.id} is not named: no failed part of {mutant.exercise} matches a catalogue entry")
    elif names and mutant.id not in names:
        print(f"           {mutant.id} is named as {', '.join(dict.fromkeys(names))} (the same outputs on these inputs)")
    if collateral:
        problems.append(f"mutant {mutant.id} of {mutant.exercise} also cost {collateral}: grading is not isolated")
    return problems


def grade_mutants(
    grading: GradingRun, tmp: Path, points: Mapping[str, float], only: Collection[str] | None, jobs: int
) -> list[str]:
    """Step 3: every mutant of the table (or those in ``only``) loses points on its exercise, and only there."""
    selected = [m for m in exercises.MUTANTS if only is None or m.id in only]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(lambda mutant: grade_mutant(grading, tmp, points, mutant), selected))
    score = MutationScore()
    problems = [problem for outcome in outcomes for problem in judge_mutant(outcome, score)]
    print(score.line())
    return problems


# ----------------------------------------------------------------------------- 4: the release


def release_problems(tmp: Path) -> list[str]:
    """Step 4: a release built into ``tmp/release`` passes the leak check."""
    out = tmp / "release"
    bundle = release.build(out, repo_url="https://example.org/validate/ddpm-course")
    leaks = release.leak_check(bundle, zip_path=out.with_suffix(".zip") if out.with_suffix(".zip").exists() else None)
    print(f"  release: {bundle} ({'no leak' if not leaks else f'{len(leaks)} leak(s)'})")
    return [f"leak: {leak}" for leak in leaks]


def validate(jobs: int = 2, seed: int | None = None, only: Collection[str] | None = None, skip_release: bool = False) -> int:
    """Every step above; prints what it finds and returns the exit code (0: all hold)."""
    start = time.monotonic()
    points = check_cells.exercise_points()
    problems = check_reference()
    tmp = Path(tempfile.mkdtemp(prefix="ddpm-validate-"))
    try:
        with GradingRun(seed=seed, self_checks=False) as grading:
            print(f"validate: seed {grading.seed}; {grading.isolation.describe()}")
            problems += grade_reference_and_stubs(grading, tmp, points)
            problems += grade_mutants(grading, tmp, points, only, jobs)
        if not skip_release:
            problems += release_problems(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"validate: {time.monotonic() - start:.1f} s")
    if problems:
        print("validate FAILED:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("validate passed")
    return 0
