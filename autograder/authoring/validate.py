"""``python -m autograder validate``: the assignment's self-test.

0. The reference itself: the exercise table is consistent and matches the solution regions, each
   exercise's reference agrees with an independent computation (``reference_check``: float64 closed
   forms, diffusers where installed), and ``helpers/``, the self-checks' expected values and the
   notebooks' check-cell points are up to date.
1. The reference solutions score full marks on every exercise.
2. The untouched stubs (``helpers/`` as released) score zero on every exercise.
3. Every mutant of the table loses points on its exercise; prints the mutation score (all
   mutants, and the contract §5 pitfalls alone, which must be 100%).
4. A release built into a temporary folder passes the leak check.

Exit code 0 when all of these hold.
"""

import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.assignment import check_cells, exercises, mutants
from autograder.authoring import stubs
from autograder.grading.grading_run import GradingRun


def add_arguments(parser):
    parser.add_argument("--jobs", type=int, default=2, help="mutants graded in parallel (default 2)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden tests' inputs (default: fresh)")
    parser.add_argument("--only", nargs="*", default=None, help="only these mutant ids")
    parser.add_argument("--skip-release", action="store_true", help="skip the release + leak check step")


def _solution_files(tmp, name, mutant=None):
    folder = Path(tmp) / name
    folder.mkdir()
    files = {}
    for module in exercises.MODULES:
        text = (stubs.SOLUTIONS / f"{module}.py").read_text()
        if mutant is not None and mutant.module == module:
            text = mutants.apply(mutant, text)
        (folder / f"{module}.py").write_text(text)
        files[module] = folder / f"{module}.py"
    return files


def check_reference():
    """Step 0: the table, the regions, the reference against independent computations, generated files."""
    from autograder.authoring import reference_check

    problems = list(exercises.check_table())
    regions = stubs.exercises()
    for exercise, module in regions.items():
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
        if e not in regions
    ]
    found = reference_check.problems()
    problems += [f"reference: {problem}" for problem in found]
    unchecked = [e for e in exercises.EXERCISES if e not in reference_check.CHECKS]
    print(
        f"  reference: {len(exercises.EXERCISES) - len(unchecked)} exercise(s) checked against independent computations, "
        f"{len(found)} problem(s)" + (f"; no independent check for {', '.join(unchecked)}" if unchecked else "")
    )
    stale = stubs.stale_helpers()
    if stale:
        problems.append(f"helpers/ is stale ({', '.join(stale)}): run `python -m autograder helpers`")
    if not stubs.refresh_expected(check=True):
        problems.append("solutions/checks_expected.py is stale: run `python -m autograder helpers`")
    problems += [f"notebooks: {p}" for p in check_cells.drift()]
    return problems


def _summary(verdicts):
    return ", ".join(f"{e} {v.points:g}/{v.max:g}" for e, v in verdicts.items())


def run(args):
    start = time.monotonic()
    problems = []
    points = check_cells.exercise_points()
    problems += check_reference()
    tmp = Path(tempfile.mkdtemp(prefix="ddpm-validate-"))
    try:
        with GradingRun(seed=args.seed, self_checks=False) as run_:
            print(f"validate: seed {run_.seed}; {run_.isolation.describe()}")
            # 1-2: solutions and stubs
            graded = run_.grade(_solution_files(tmp, "solutions"), points)
            full, events = graded.verdicts, graded.events
            bad = {e: v for e, v in full.items() if v.points != v.max}
            print(f"  solutions: {_summary(full)}")
            if bad or events:
                problems.append(f"the reference solutions lose points: {bad} {events}")
            stub_files = {m: stubs.HELPERS / f"{m}.py" for m in exercises.MODULES}
            zero = run_.grade(stub_files, points).verdicts
            print(f"  stubs:     {_summary(zero)}")
            if any(v.points for v in zero.values()):
                problems.append(f"the stubs score points: {_summary(zero)}")
            # 3: mutants
            selected = [m for m in exercises.MUTANTS if args.only is None or m.id in args.only]

            def grade_mutant(mutant):
                try:
                    files = _solution_files(tmp, mutant.id, mutant)
                except ValueError as error:
                    return mutant, None, str(error)
                graded = run_.grade(files, points)
                return mutant, graded.verdicts, "; ".join(graded.events)

            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                outcomes = list(pool.map(grade_mutant, selected))
            killed = pitfalls = pitfalls_killed = 0
            for mutant, verdicts, note in outcomes:
                if verdicts is None:
                    problems.append(note)
                    print(f"  STALE    {mutant.id}: {note}")
                    continue
                own = verdicts[mutant.exercise]
                lost = own.max - own.points
                collateral = {e: v.points for e, v in verdicts.items() if e != mutant.exercise and v.points != v.max}
                is_killed = lost > 0
                killed += is_killed
                if mutant.pitfall:
                    pitfalls += 1
                    pitfalls_killed += is_killed
                status = "killed  " if is_killed else "SURVIVED"
                extra_note = f"; other exercises lost points: {collateral}" if collateral else ""
                tag = f" [§5: {mutant.pitfall}]" if mutant.pitfall else ""
                print(f"  {status} {mutant.id:30s} {mutant.exercise} -{lost:g}/{own.max:g}{tag}{extra_note}")
                if not is_killed:
                    problems.append(f"mutant {mutant.id} survived ({mutant.exercise} kept {own.points:g}/{own.max:g})")
                if collateral:
                    problems.append(f"mutant {mutant.id} of {mutant.exercise} also cost {collateral}: grading is not isolated")
            total = len([o for o in outcomes if o[1] is not None])
            print(
                f"mutation score: {killed}/{total} = {100 * killed / max(1, total):.0f}% "
                f"(§5 pitfalls: {pitfalls_killed}/{pitfalls} = {100 * pitfalls_killed / max(1, pitfalls):.0f}%)"
            )
        # 5: release + leak check
        if not args.skip_release:
            from autograder.authoring import release

            out = tmp / "release"
            bundle = release.build(out, repo_url="https://example.org/validate/ddpm-course")
            leaks = release.leak_check(bundle, zip_path=out.with_suffix(".zip") if out.with_suffix(".zip").exists() else None)
            print(f"  release: {bundle} ({'no leak' if not leaks else f'{len(leaks)} leak(s)'})")
            problems.extend(f"leak: {leak}" for leak in leaks)
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
