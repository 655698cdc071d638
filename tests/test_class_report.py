"""The class report (``python -m autograder report DIR``, issue 21 item 4): the tables on a synthetic report.json,
the similarity table on the independently written ``tests/student_styles/``, and, slow, a generated class with
known mutants graded end to end."""

import ast
import csv
import io
import itertools
import json
import math
import re
import shutil
import subprocess
import sys

import pytest

from autograder.__main__ import main
from autograder.assignment import exercises, mutants
from autograder.authoring import stubs
from autograder.paths import ROOT
from autograder.reporting import similarity, solution_code
from tests import student_styles


def _part(name, ok, mistake=None, points=1.0):
    part = {"part": name, "points": points if ok else 0.0, "max": points, "ok": ok, "message": "" if ok else "<b>wrong</b>"}
    if mistake is not None:
        part["mistake"] = mistake
    return part


def _student(sid, total, parts, late=0.0, penalty=0.0, adjustments=(), **extra_final):
    verdicts = {e: {"points": sum(p["points"] for p in ps), "max": len(ps), "parts": ps} for e, ps in parts.items()}
    final = {"exercises": {}, "points": total, "late_minutes": late, "late_penalty": penalty,
             "late_note": f"{late:g} minutes late" if late else "", "total": total, "max_total": 10.0,
             "adjustments": list(adjustments), **extra_final}  # fmt: skip
    return {"student_id": sid, "verdicts": verdicts, "checks": {}, "flags": [], "submitted_at": None, "final": final}


MIX = {"id": "std_for_var", "kind": "mistake", "text": "variance used as <std>"}
SWAP = {"id": "sin_cos", "kind": "alternative", "text": "sin and cos swapped"}


def _synthetic(folder):
    """Four students: two with q_sample's std_for_var (bo on both parts), one with sin_cos, one with failures no
    mistake names (null, or no key at all as in an older report.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    ok2 = [_part("a", True), _part("b", True)]
    students = [
        _student("ann", 10.0, {"q_sample": ok2, "emb": [_part("x", True)]}),
        _student("bo<b>", 4.0, {"q_sample": [_part("a", False, MIX), _part("b", False, MIX)], "emb": [_part("x", False, SWAP)]},
                 late=1500.0, penalty=0.2, adjustments=[{"exercise": "emb", "points": 1, "was": 0, "source": "overrides.csv",
                                                         "reason": "<i>regrade</i>", "text": "emb: 0 -> 1 (<i>regrade</i>)"}]),
        _student("cy", 7.5, {"q_sample": [_part("a", True), _part("b", False, MIX)], "emb": [_part("x", True)]},
                 extension={"days": 2, "reason": "ill"}),
        _student("dee", 9.0, {"q_sample": [_part("a", False, None), _part("b", True)], "emb": [_part("x", False)]}),
    ]  # fmt: skip
    (folder / "report.json").write_text(json.dumps({"seed": 3, "exercises": ["q_sample", "emb"], "students": students}))
    (folder / "grades.csv").write_text("student_id,total\nann,10\nbo<b>,4\ncy,7.5\ndee,8\n")  # dee's edited by hand
    return folder


def _csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_tables_of_a_synthetic_report(tmp_path, capsys):
    folder = _synthetic(tmp_path)
    assert main(["report", str(folder), "--no-similarity"]) == 0
    mistakes = _csv(folder / "report_mistakes.csv")
    assert [(m["exercise"], m["mistake"], m["kind"], m["students"]) for m in mistakes] == [
        ("q_sample", "std_for_var", "mistake", "2"),  # bo on two parts counts once
        ("emb", "sin_cos", "alternative", "1"),
    ]
    assert mistakes[0]["student_ids"] == "bo<b> cy"
    parts = {(p["exercise"], p["part"]): (int(p["failed"]), int(p["graded"])) for p in _csv(folder / "report_parts.csv")}
    assert parts == {("q_sample", "(any part)"): (3, 4), ("q_sample", "a"): (2, 4), ("q_sample", "b"): (2, 4),
                     ("emb", "(any part)"): (2, 4), ("emb", "x"): (2, 4)}  # fmt: skip
    bins = {(float(b["low"]), float(b["high"])): int(b["students"]) for b in _csv(folder / "report_scores.csv")}
    assert len(bins) == 10 and bins[(4.0, 5.0)] == 1 and bins[(7.0, 8.0)] == 1 and bins[(9.0, 10.0)] == 2  # 10 in the last
    assert sum(bins.values()) == 4
    adjusted = {a["student_id"]: a for a in _csv(folder / "report_adjustments.csv")}
    assert sorted(adjusted) == ["bo<b>", "cy"]  # ann and dee: nothing late, nothing adjusted
    assert adjusted["bo<b>"]["late_penalty"] == "0.2" and "regrade" in adjusted["bo<b>"]["adjustments"]
    assert "ill" in adjusted["cy"]["extension"]  # a field this module does not know is shown as it is
    page = (folder / "report.html").read_text()
    for raw in ("bo<b>", "<i>regrade</i>", "<std>"):
        assert raw not in page
    assert "bo&lt;b&gt;" in page and "&lt;i&gt;regrade&lt;/i&gt;" in page and "variance used as &lt;std&gt;" in page
    assert page.count("data:image/png;base64,") == 3 and "<script" not in page and 'src="http' not in page
    assert "grades.csv says 8" in page and "grades.csv says 8" in capsys.readouterr().err  # dee's hand edit is said
    assert "Not compared (--no-similarity)" in page


def test_a_report_without_mistake_keys_still_works(tmp_path):
    folder = _synthetic(tmp_path)
    report = json.loads((folder / "report.json").read_text())
    for student in report["students"]:
        for verdict in student["verdicts"].values():
            for part in verdict["parts"]:
                part.pop("mistake", None)
    (folder / "report.json").write_text(json.dumps(report))
    assert main(["report", str(folder), "--no-similarity"]) == 0
    assert _csv(folder / "report_mistakes.csv") == []
    assert "No failed part names a known mistake" in (folder / "report.html").read_text()


def test_a_folder_without_report_json_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "report.json not found" in capsys.readouterr().err


def test_without_copydetect_the_report_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "copydetect", None)  # what `import copydetect` does when it is not installed
    folder = _synthetic(tmp_path)
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text()
    assert "copydetect is not installed" in page and "pip install copydetect==0.5.0" in page and "Named mistakes" in page
    assert not (folder / "report_similarity.csv").exists()


# -- the similarity table ---------------------------------------------------------------------------------------


def _helpers(variant, tmp_path):
    folder = student_styles.build(variant, tmp_path / variant)
    return {p.name: p.read_text() for p in sorted(folder.glob("*.py"))}


def rename_locals(text):
    """The module with every local variable of every function renamed (``zz0``, ``zz1``, ...): the parameters,
    attributes and every line outside function bodies untouched, as a student disguising a copy would."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.body:
            continue
        params = {a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
        params |= {a.arg for a in (node.args.vararg, node.args.kwarg) if a is not None}
        local = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - params
        for index, name in enumerate(sorted(local)):
            for i in range(node.body[0].lineno - 1, node.end_lineno):
                lines[i] = re.sub(rf"(?<![.\w\\]){re.escape(name)}\b", f"zz{index}_{node.name}", lines[i])
    return "".join(lines)


def test_solution_code_leaves_the_provided_code_out(tmp_path):
    assert solution_code.student_code({p.name: p.read_text() for p in stubs.HELPERS.glob("*.py")}) == {}
    code = solution_code.student_code({"forward.py": (stubs.SOLUTIONS / "forward.py").read_text()})
    assert list(code) == ["q_sample"]
    assert "extract(schedule.sqrt_alphas_cumprod" in code["q_sample"]
    assert "noise is None" not in code["q_sample"] and "Sample x_t" not in code["q_sample"]  # provided, docstring
    own = solution_code.student_code(_helpers("own_module", tmp_path))
    assert "mymath.py (the student's own module)" in own


def test_similarity_flags_a_renamed_copy_and_not_independent_styles(tmp_path, capsys):
    originals = {v: _helpers(v, tmp_path) for v in student_styles.VARIANTS}
    copied = {name: rename_locals(text) if name[:-3] in exercises.MODULES else text for name, text in originals["gather"].items()}
    assert copied != originals["gather"] and "zz0_" in copied["forward.py"]
    generated = stubs.generate()
    documents = {v: similarity.document(solution_code.student_code(h, generated)) for v, h in originals.items()}
    documents["copy_of_gather"] = similarity.document(solution_code.student_code(copied, generated))
    reference = similarity.document(
        solution_code.student_code({p.name: p.read_text() for p in stubs.SOLUTIONS.glob("*.py")}, generated)
    )
    pairs = similarity.compare(documents, reference)
    assert len(pairs) == len(list(itertools.combinations(documents, 2)))
    with capsys.disabled():  # the measurements the threshold was chosen from (similarity.py's docstring)
        print("\nsimilarity of the most similar pairs:", [(p.a, p.b, round(p.similarity, 3)) for p in pairs[:5]])
    flagged = [(p.a, p.b) for p in pairs if p.flagged()]
    assert flagged == [("copy_of_gather", "gather")], pairs[:3]
    independent = [p.similarity for p in pairs if "copy_of_gather" not in (p.a, p.b)]
    assert max(independent) < similarity.THRESHOLD - 0.1 and pairs[0].similarity > similarity.THRESHOLD + 0.3


def test_flagged_pairs_side_by_side_escaped_in_the_page(tmp_path):
    """A class folder as grade leaves it (hand-ins kept in nbgrader's submitted/): two students share code that holds
    HTML; the page shows the pair side by side, escaped, and grades.csv is not touched."""
    folder = _synthetic(tmp_path / "grading")
    evil = _helpers("where", tmp_path)
    evil["forward.py"] = evil["forward.py"].replace("    return ", "    note = '</pre><script>alert(1)</script>'\n    return ", 1)
    for sid, files in (
        ("ann", evil),
        ("cy", {n: rename_locals(t) for n, t in evil.items()}),
        ("dee", _helpers("einops", tmp_path)),
    ):
        kept = folder / "nbgrader" / "submitted" / sid / "ddpm" / "helpers"
        kept.mkdir(parents=True)
        for name, text in files.items():
            (kept / f"{name}.txt").write_text(text)
    before = (folder / "grades.csv").read_text()
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;" in page
    assert page.count('<table class="side">') == 1 and "ann and cy" in page
    assert "Evidence for a person to judge" in page and "Not found there, so not compared: bo&lt;b&gt;" in page
    table = _csv(folder / "report_similarity.csv")
    assert [(r["student_a"], r["student_b"], r["shown"]) for r in table][0] == ("ann", "cy", "yes")
    assert [r["shown"] for r in table[1:]] == ["", ""]
    assert (folder / "grades.csv").read_text() == before  # never a column or a flag of grades.csv

    # after `grade --no-nbgrader` nothing is kept: the report says how to read the download instead, and does
    shutil.move(folder / "nbgrader" / "submitted", tmp_path / "download")
    (folder / "report_similarity.csv").unlink()
    assert main(["report", str(folder)]) == 0
    assert "give --submissions DIR" in (folder / "report.html").read_text()
    assert not (folder / "report_similarity.csv").exists()
    for sid in ("ann", "cy", "dee"):  # a plain download: <student id>/helpers/*.py
        kept = tmp_path / "download" / sid / "ddpm" / "helpers"
        for path in kept.glob("*.txt"):
            path.rename(path.with_suffix(""))
        shutil.move(kept, tmp_path / "download" / sid / "helpers")
    assert main(["report", str(folder), "--submissions", str(tmp_path / "download")]) == 0
    table = _csv(folder / "report_similarity.csv")
    assert [(r["student_a"], r["student_b"], r["shown"]) for r in table][0] == ("ann", "cy", "yes") and len(table) == 3
    assert [r["shown"] for r in table[1:]] == ["", ""]


# -- a generated class, graded end to end ------------------------------------------------------------------------

CLASS_MUTANTS = ("q_sample", "extract", "p_losses")  # exercises whose first mutant two students each make


def _hand_in(folder, mutant=None, stub_modules=()):
    (folder / "helpers").mkdir(parents=True)
    for path in sorted(stubs.SOLUTIONS.glob("*.py")):
        text = path.read_text()
        if mutant is not None and mutant.module == path.stem:
            text = mutants.apply(mutant, text)
        if path.stem in stub_modules:
            text = (stubs.HELPERS / path.name).read_text()
        (folder / "helpers" / path.name).write_text(text)


@pytest.mark.slow
def test_report_of_a_graded_class_with_known_mutants(tmp_path):
    chosen = [next(m for m in mutants.MUTANTS if m.exercise == e) for e in CLASS_MUTANTS]
    subs = tmp_path / "subs"
    _hand_in(subs / "s00")  # the reference: full marks
    _hand_in(subs / "s01", stub_modules=("forward",))  # q_sample left as the stub: not a named mistake
    for i, mutant in enumerate(chosen):
        for j in range(2):
            _hand_in(subs / f"s{2 + 2 * i + j}", mutant)
    out = tmp_path / "grading"
    # the hand-ins are the course's own code (reference and mutants): trusted, so graded without the sandbox and the
    # test runs as root too; what it checks is the report on the class folder grade wrote (nbgrader's copies included)
    command = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--seed", "4", "--unsafe-no-sandbox"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([sys.executable, "-m", "autograder", "report", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    grades = {r["student_id"]: float(r["total"]) for r in _csv(out / "grades.csv")}
    assert len(grades) == 2 + 2 * len(chosen)
    bins = [int(b["students"]) for b in _csv(out / "report_scores.csv")]
    expected = [0] * len(bins)  # one-point bins from 0; the last holds its upper edge too
    for total in grades.values():
        expected[min(len(bins) - 1, math.floor(total))] += 1
    assert bins == expected and len(bins) == math.ceil(max(exercises.MAX_TOTAL, *grades.values()))
    assert grades["s00"] == sum(exercises.POINTS.values())  # the reference: full marks, bonus included
    parts = {(p["exercise"], p["part"]): p for p in _csv(out / "report_parts.csv")}
    for exercise in exercises.EXERCISES:
        failed = int(parts[(exercise, "(any part)")]["failed"])
        expected = 2 * (exercise in CLASS_MUTANTS) + (exercise == "q_sample")  # s01's stub fails q_sample
        assert failed == expected, (exercise, failed)
        assert int(parts[(exercise, "(any part)")]["graded"]) == len(grades)
    page = (out / "report.html").read_text()
    assert "Named mistakes" in page and "Code similarity" in page
    similar = _csv(out / "report_similarity.csv")
    assert len(similar) == len(grades) * (len(grades) - 1) // 2  # hand-ins read back from nbgrader's submitted/
    # EXPECTED TO FAIL until the lead's diagnosis (issue 21 items 1-2: each failed part's "mistake") is merged:
    # the mistakes table then names exactly the mutants the class made, two students each.
    named = {(m["exercise"], m["mistake"]): int(m["students"]) for m in _csv(out / "report_mistakes.csv")}
    if not named:
        pytest.xfail("report.json names no mistake yet (the diagnosis of issue 21 items 1-2 is not merged)")
    assert named == {(m.exercise, m.id): 2 for m in chosen}


def test_requirements_pin_copydetect():
    text = (ROOT / "requirements-dev.txt").read_text()  # the instructor's tooling: not in the Gradescope image
    assert re.search(r"^copydetect==0\.5\.0\b.*#", text, re.M), "requirements-dev.txt: copydetect==0.5.0 with a comment"
    assert "copydetect" not in (ROOT / "requirements-grader.txt").read_text()
