"""Issue 18, rows 4, 5 and 10: text a student controls can never break the trusted side.

Row 4: a lone surrogate in an exception message or a non-UTF-8 file name reaches every writer (CSV, HTML,
JSON) as printable text, and a failure while writing one student's outputs costs only that student's row.
Row 5: reference lines are withheld whatever their direction, spacing, case or spelling.
Row 10: an odd notebook (wrong JSON types, deep nesting) is flagged and its helpers are still graded.
"""

import csv
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import nullcontext
from types import SimpleNamespace

import pytest

from autograder import untrusted
from autograder.assignment import check_cells, exercises
from autograder.grading import class_grader, scoring, withheld
from autograder.grading.diagnosis import NO_MATCH
from autograder.grading.student_row import StudentRow, report_entry
from autograder.intake import submission
from autograder.paths import ROOT
from autograder.reporting import class_files, feedback
from autograder.reporting.final_scores import finalize
from tests import attacks

SOLUTIONS = ROOT / "solutions"
MODULES = exercises.MODULES
SURROGATE = "\udcff"  # what os.listdir makes of the byte 0xff, and what json.loads makes of "\udcff"
# two reference lines the sandbox sends to student code as dependency source (attacks.secret_lines holds both)
REFERENCE_LINES = (
    "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise",
    "out = a[t.to(a.device)]",
)


def _encodable(text):
    text.encode("utf-8")  # raises UnicodeEncodeError on a surrogate
    return True


def _helpers_folder(folder):
    """A hand-in that is the reference solutions, as a folder with helpers/."""
    (folder / "helpers").mkdir(parents=True)
    for module in MODULES:
        shutil.copyfile(SOLUTIONS / f"{module}.py", folder / "helpers" / f"{module}.py")
    return folder


def _write_bytes_name(folder, name, data):
    """A file whose name is bytes that are not UTF-8 (os.open with a bytes path, as a student's OS would make it)."""
    fd = os.open(os.fsencode(folder) + b"/" + name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- row 4, at the boundary


def test_visible_turns_surrogates_and_bytes_into_printable_text():
    assert untrusted.visible("bad" + SURROGATE + ".py") == "bad\ufffd.py"
    assert untrusted.visible("\ud800 lone high") == "\ufffd lone high"
    assert untrusted.visible(b"bad\xff.py") == "bad\ufffd.py"  # undecodable bytes replaced, not refused
    assert untrusted.visible("a\x00b\x1b[31mc\u200bd\u202ee\nf\tg") == "ab[31mcde\nf\tg"
    for text in ("x" + SURROGATE, b"\xff\xfe", "\udc80\udcff" * 3):
        assert _encodable(withheld.clean(text)) and _encodable(untrusted.csv_cell(text))
        assert _encodable(untrusted.html(text)) and _encodable(untrusted.markdown(text))


def test_non_utf8_file_names_in_a_folder_reach_the_flags_as_printable_text(tmp_path):
    folder = tmp_path / "bob"
    (folder / "helpers").mkdir(parents=True)
    for module in MODULES:
        if module != "forward":
            shutil.copyfile(SOLUTIONS / f"{module}.py", folder / "helpers" / f"{module}.py")
    # forward.py under a non-UTF-8 name (found by its header), an unreadable notebook under another
    _write_bytes_name(folder / "helpers", b"forward\xff.py", (SOLUTIONS / "forward.py").read_bytes())
    _write_bytes_name(folder, b"notes\xfe.ipynb", b"{not json")
    sub = submission.read(str(folder), "bob")
    assert "forward.py" in sub.helpers
    flags = "; ".join(sub.flags)
    assert _encodable(flags) and all(_encodable(path) for path in sub.files)
    assert "forward\ufffd.py" in flags and "notes\ufffd.ipynb" in flags


def _notebook_bytes(notebook):
    return json.dumps(notebook).encode()


def test_notebook_text_is_cleaned_once_where_it_is_read(tmp_path):
    """Lone surrogates escaped in the JSON and bytes that are not UTF-8: the check cells are still read, as printable text."""
    course = check_cells.course_cells()
    nb = json.loads((ROOT / "notebooks" / "02_forward_diffusion.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "check_q_sample")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "all checks passed " + SURROGATE}]
    data = _notebook_bytes(nb).replace(b'"cells"', b'"bad\\udcff": 1, "x": "\xff\xfe", "cells"', 1)
    folder = _helpers_folder(tmp_path / "carol")
    (folder / "02_forward_diffusion.ipynb").write_bytes(data)
    sub = submission.read(str(folder), "carol")
    cells = submission.compare_check_cells(sub, {g: (n, s) for g, (n, s, _) in course.items()})
    source, output = cells["check_q_sample"]
    assert output == "all checks passed \ufffd" and _encodable(source)
    assert not any("check_q_sample" in flag for flag in sub.flags), sub.flags


def _grader(tmp_path):
    """A ClassGrader without a sandbox: its run stands in (no student code can run)."""
    grader = class_grader.ClassGrader.__new__(class_grader.ClassGrader)
    grader.cells = check_cells.course_cells()
    grader.points = dict(exercises.POINTS)
    isolation = SimpleNamespace(describe=lambda: "test isolation", summary=lambda: "test", mode="bubblewrap")
    grader.run = SimpleNamespace(seed=7, inputs={}, references={}, isolation=isolation, diagnosis=None)
    grader.out = tmp_path / "out"  # where _write puts the class folder
    return grader


def _write(grader, rows, skipped=()):
    """The class folder's files, as ``grade`` writes them at the end of a run."""
    collection = {"layouts": [], "skipped": [list(s) for s in skipped]}
    run = class_files.ClassRun(7, "test isolation", "bubblewrap", 1.0, 1, exercises.EXERCISES, exercises.REQUIRED,
                               exercises.BONUS, collection, None)  # fmt: skip
    class_files.write_class_folder(grader.out, rows, run)


def _row(grader, sid, text):
    """A row as the writers get it, with ``text`` everywhere a student's text can be (as an earlier
    report.json can hold it, uncleaned)."""
    _nothing, verdicts = class_grader.sandbox_and_verdicts(grader.run, None, grader.points)
    for verdict in verdicts.values():
        verdict.parts = [dataclasses.replace(part, message=text) for part in verdict.parts]
    row = StudentRow(sid, verdicts, {"extract": (False, text)}, [text], source=text, regraded=True)
    return finalize(row, exercises.REQUIRED, exercises.BONUS, {}, {}, None)


def _outputs(out):
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_bytes().decode("utf-8"), newline="")))
    report = json.loads((out / "report.json").read_bytes().decode("utf-8"))
    return {row["student_id"]: row for row in rows}, report


def test_writers_never_raise_on_student_text(tmp_path):
    grader = _grader(tmp_path)
    texts = {"alice": "boom " + SURROGATE, "bob": "=cmd|' /C calc'!A0 \x00\x1b\u202e", "carol": "\ud800\udfff" + "é" * 3}
    rows = [_row(grader, sid, text) for sid, text in texts.items()]
    _write(grader, rows, [["x" + SURROGATE, "junk"]])
    by_id, report = _outputs(grader.out)
    assert set(by_id) == set(texts) and [s["student_id"] for s in report["students"]] == sorted(texts)
    assert "boom \ufffd" in by_id["alice"]["flags"] and by_id["bob"]["flags"].startswith("'=")
    for sid in texts:
        page = (grader.out / "feedback" / f"{sid}.html").read_bytes().decode("utf-8")
        assert "<h1>Feedback for" in page


def test_export_writes_text_utf8_cannot_hold(tmp_path):
    """A non-UTF-8 command-line argument (``--assignment``) reaches Python as surrogates: still written."""
    from autograder.reporting import export

    export.write_csv(tmp_path / "c.csv", [["Student", "DDPM " + SURROGATE], ["=x" + SURROGATE, "1"]])
    rows = list(csv.reader(io.StringIO((tmp_path / "c.csv").read_bytes().decode("utf-8"))))
    assert rows == [["Student", "DDPM \ufffd"], ["'=x\ufffd", "1"]]


def test_one_students_feedback_failure_costs_only_that_row(tmp_path, monkeypatch):
    grader = _grader(tmp_path)
    rows = [_row(grader, sid, "fine") for sid in ("alice", "bob", "carol")]
    page = feedback.page

    def failing(row, bonus):
        if row.student_id == "bob":
            raise OSError(28, "No space left on device")
        return page(row, bonus)

    monkeypatch.setattr(feedback, "page", failing)
    _write(grader, rows)
    by_id, report = _outputs(grader.out)
    assert set(by_id) == {"alice", "bob", "carol"} and len(report["students"]) == 3
    assert "feedback page not written" in by_id["bob"]["flags"]
    assert "feedback page not written" not in by_id["alice"]["flags"] + by_id["carol"]["flags"]
    assert (grader.out / "feedback" / "alice.html").is_file() and (grader.out / "feedback" / "carol.html").is_file()


def test_one_students_nbgrader_record_failure_costs_only_that_row(tmp_path, monkeypatch):
    from autograder.reporting import gradebook

    recorded = []

    class Course:
        def __init__(self, *args):
            pass

        def locked(self):
            return nullcontext()

        def build(self, log):
            pass

        def record(self, row, student_cells, helpers, decisions):
            if row.student_id == "bob":
                raise UnicodeEncodeError("utf-8", SURROGATE, 0, 1, "surrogates not allowed")
            recorded.append(row.student_id)

        def finish(self, rows):
            recorded.append("finished")

    grader = _grader(tmp_path)
    rows = [_row(grader, sid, "fine") for sid in ("alice", "bob", "carol")]
    gradebook.record_class(Course(), rows, {})
    assert recorded == ["alice", "carol", "finished"]
    flags = {row.student_id: "; ".join(row.flags) for row in rows}
    assert "nbgrader" in flags["bob"] and "UnicodeEncodeError" in flags["bob"]
    assert "nbgrader" not in flags["alice"] + flags["carol"]


def test_a_grading_error_with_student_text_still_gives_a_writable_row(tmp_path, monkeypatch):
    grader = _grader(tmp_path)

    def crash(entry):
        raise RuntimeError("student said " + SURROGATE)

    monkeypatch.setattr(grader, "grade_one", crash)
    entry = SimpleNamespace(student_id="dave", notes=[], submitted_at=None, time_source=None, original_name="dave" + SURROGATE)
    row = grader.safe_grade_one(entry)
    assert row.student_id == "dave" and "grading error" in row.flags[0]
    entry_json = json.dumps(report_entry(finalize(row, exercises.REQUIRED, exercises.BONUS, {}, {}, None)), ensure_ascii=False)
    assert _encodable(entry_json) and "\ufffd" in row.flags[0] + row.source
    # even when the zero row cannot be scored, the hand-in keeps a row (and the class its outputs)
    monkeypatch.setattr(scoring, "score", lambda *args, **kwargs: 1 / 0)
    row = grader.safe_grade_one(entry)
    assert row.student_id == "dave" and "grading error (ZeroDivisionError)" in row.flags[0]
    finalize(row, exercises.REQUIRED, exercises.BONUS, {}, {}, None)
    _write(grader, [row])
    assert set(_outputs(grader.out)[0]) == {"dave"}


# ----------------------------------------------------------------------------- row 5: withholding


def _fullwidth(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


HOMOGLYPHS = str.maketrans({"a": "\u0430", "o": "\u043e", "e": "\u0435", "c": "\u0441", "p": "\u0440", "x": "\u0445"})

TRANSFORMS = {
    "plain": lambda s: s,
    "reversed characters": lambda s: s[::-1],
    "reversed words": lambda s: " ".join(s.split()[::-1]),
    "reversed tokens": lambda s: " ".join(re.findall(r"\w+|[^\w\s]", s)[::-1]),
    "spaced characters": lambda s: " ".join(s),
    "odd spacing": lambda s: s.replace(" ", "\t  \u3000 ").replace("(", " ( "),
    "zero-width characters": lambda s: "\u200b".join(s),
    "bidi and joiner marks": lambda s: "\u202e" + "\u2060".join(s) + "\u202c",
    "fullwidth forms": _fullwidth,
    "cyrillic homoglyphs": lambda s: s.translate(HOMOGLYPHS),
    "mixed case": lambda s: "".join(c.upper() if i % 2 else c for i, c in enumerate(s)),
    "line breaks": lambda s: "\n".join(s[i : i + 5] for i in range(0, len(s), 5)),
    "reversed, zero-width and fullwidth": lambda s: "\u200b".join(_fullwidth(s[::-1])),
    "reversed words, upper case, line breaks": lambda s: "\r\n".join(s.split()[::-1]).upper(),
}


@pytest.mark.parametrize("line", REFERENCE_LINES)
@pytest.mark.parametrize("how", list(TRANSFORMS))
def test_reference_lines_are_withheld_however_they_are_spelt(line, how):
    assert line in attacks.secret_lines()
    text = "RuntimeError: ATK " + TRANSFORMS[how](line) + " (from the sandbox)"
    assert withheld.clean(text) == untrusted.WITHHELD, how
    assert attacks.leaks(text), how  # the attack suite's detector sees it too
    assert attacks.leaks(untrusted.html(text)) and attacks.leaks(untrusted.markdown(text)), how


HONEST = (
    "RuntimeError: shape mismatch (4) vs (3)",
    "AssertionError: assert x.shape == (2, 3)",
    "assert x.shape == (2, 3), f'got {x.shape}'",
    "expected a tensor of shape (4, 1, 1, 1), got (4,)",
    "ValueError: not enough values to unpack (expected 3, got 2)",
    "TypeError: unsupported operand type(s) for *: 'NoneType' and 'Tensor'",
    "not implemented yet: q_sample (COMPLETE THIS in helpers/forward.py)",
    "mean differs from the reference by 0.0312 (tolerance 1e-05) at t = [0, 500, 999]",
    "RuntimeError: The size of tensor a (8) must match the size of tensor b (4) at non-singleton dimension 1",
)


def test_honest_messages_are_not_withheld():
    for message in HONEST:
        for text in (message, message[::-1], message.upper()):
            assert withheld.clean(text) == text, text
            assert attacks.leaks(text) == [], text


def test_the_public_code_is_not_withheld():
    """The released stubs' own lines (which students copy into their messages) are never taken for the reference."""
    from autograder.authoring import stubs

    lines = {line.strip() for text in stubs.generate().values() for line in text.splitlines() if len(line.strip()) >= 14}
    quoted = [line for line in sorted(lines) if withheld.quotes_grader_code(line) or withheld.quotes_grader_code(line[::-1])]
    assert quoted == []


# ----------------------------------------------------------------------------- row 10: odd notebooks


def _deep(depth):
    return "[" * depth + "]" * depth


ODD = {
    # name: (how to spoil 02_forward_diffusion.ipynb's JSON, a word the flag must hold)
    "metadata is a list": (lambda nb: nb["cells"][0].update(metadata=[]), "metadata"),
    "a cell is a number": (lambda nb: nb["cells"].insert(1, 7), "cell 2"),
    "source is a number": (lambda nb: _check_cell(nb).update(source=5), "source"),
    "nbgrader metadata is a list": (lambda nb: _check_cell(nb)["metadata"].update(nbgrader=[1]), "nbgrader"),
    "outputs is text": (lambda nb: _check_cell(nb).update(outputs="all checks passed"), "outputs"),
    "an output is a list": (lambda nb: _check_cell(nb).update(outputs=[["x"]]), "output"),
    "cells is an object": (lambda nb: nb.update(cells={"0": {}}), "cells"),
    "cells is missing": (lambda nb: nb.pop("cells"), "cells"),
}


def _check_cell(nb):
    return next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "check_q_sample")


def _odd_notebook(name):
    nb = json.loads((ROOT / "notebooks" / "02_forward_diffusion.ipynb").read_text())
    if name == "nested 100000 deep":
        return json.dumps(nb).replace('"metadata": {', '"metadata": {"x": ' + _deep(100_000) + ", ", 1).encode()
    if name == "top level is a list":
        return json.dumps([nb]).encode()
    ODD[name][0](nb)
    return json.dumps(nb).encode()


ODD_WORDS = {name: word for name, (_spoil, word) in ODD.items()} | {"nested 100000 deep": "deep", "top level is a list": "list"}


@pytest.mark.parametrize("name", list(ODD_WORDS))
def test_odd_notebooks_are_flagged_and_the_helpers_still_graded(tmp_path, name):
    folder = _helpers_folder(tmp_path / "erin")
    (folder / "02_forward_diffusion.ipynb").write_bytes(_odd_notebook(name))
    sub = submission.read(str(folder), "erin")
    course = {g: (n, s) for g, (n, s, _) in check_cells.course_cells().items()}
    cells = submission.compare_check_cells(sub, course)
    assert set(sub.helpers) >= {f"{m}.py" for m in MODULES}
    said = [f for f in sub.flags if "02_forward_diffusion.ipynb" in f]
    assert any("not compared" in f and ODD_WORDS[name] in f for f in said), sub.flags
    assert not any("deleted" in f or "edited" in f or "missing" in f for f in said), said
    assert cells["check_q_sample"] is None


@pytest.mark.parametrize("notebook", [[], 5, "x", {"cells": [{"metadata": []}]}, {"cells": [None, {"source": 5}]}])
def test_check_cells_never_raises(notebook):
    assert submission.check_cells(notebook) == {}


# ----------------------------------------------------------------------------- end to end


def _grade(subs, out, *extra):
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--course-dir", str(out.parent / "course")]
    cmd += ["--jobs", "2", "--task-timeout", "20", "--import-timeout", "60", "--seed", "2024", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


def _append(folder, module, text):
    path = folder / "helpers" / f"{module}.py"
    path.write_text(path.read_text() + "\n\n" + text.strip("\n") + "\n")


def _hand_ins(subs):
    # alice: q_sample raises a message holding a lone surrogate (escaped in her file, a real one at run time)
    alice = _helpers_folder(subs / "alice")
    _append(alice, "forward", 'def q_sample(*args, **kwargs):\n    raise RuntimeError("bad byte \\udcff here")')
    # bob: non-UTF-8 names, one of them the forward module (found by its header) and one an unreadable notebook
    bob = _helpers_folder(subs / "bob")
    (bob / "helpers" / "forward.py").unlink()
    _write_bytes_name(bob / "helpers", b"forward\xff.py", (SOLUTIONS / "forward.py").read_bytes())
    _write_bytes_name(bob, b"notes\xfe.ipynb", b"\xff{")
    # carol: a course notebook with a list for a cell's metadata and a nested-too-deep one
    carol = _helpers_folder(subs / "carol")
    (carol / "02_forward_diffusion.ipynb").write_bytes(_odd_notebook("metadata is a list"))
    (carol / "05_sampling.ipynb").write_bytes(_odd_notebook("nested 100000 deep"))
    # dave: p_losses raises the reference q_sample line the sandbox gave it, spelt backwards
    dave = _helpers_folder(subs / "dave")
    _append(dave, "losses", f"def p_losses(*args, **kwargs):\n    raise RuntimeError({REFERENCE_LINES[0][::-1]!r})")


def _check_class_folder(out):
    """Every row, a report.json a later run merges into, and every page, with nothing of the grader's code."""
    by_id, report = _outputs(out)
    assert set(by_id) == {"alice", "bob", "carol", "dave"}
    assert {s["student_id"] for s in report["students"]} == set(by_id)
    full = sum(exercises.POINTS.values())
    assert float(by_id["bob"]["total"]) == full and float(by_id["carol"]["total"]) == full
    assert float(by_id["alice"]["q_sample"]) == 0 and float(by_id["dave"]["p_losses"]) == 0
    assert "forward\ufffd.py" in by_id["bob"]["flags"] and "notes\ufffd.ipynb" in by_id["bob"]["flags"]
    assert "02_forward_diffusion.ipynb" in by_id["carol"]["flags"] and "metadata" in by_id["carol"]["flags"]
    assert "05_sampling.ipynb" in by_id["carol"]["flags"] and "deep" in by_id["carol"]["flags"]
    alice = next(s for s in report["students"] if s["student_id"] == "alice")
    messages = [p["message"] for p in alice["verdicts"]["q_sample"]["parts"]]
    assert any("bad byte \ufffd here" in m for m in messages), messages
    dave = next(s for s in report["students"] if s["student_id"] == "dave")
    # the student's text is withheld; what follows is the grader's own diagnosis
    assert {p["message"] for p in dave["verdicts"]["p_losses"]["parts"]} == {f"{untrusted.WITHHELD} {NO_MATCH}"}
    pages = {sid: (out / "feedback" / f"{sid}.html").read_bytes().decode("utf-8") for sid in by_id}
    for sid, page in pages.items():
        assert attacks.leaks(page) == [], sid
    assert attacks.leaks((out / "report.json").read_text()) == [] and attacks.leaks((out / "grades.csv").read_text()) == []
    return by_id, pages


def test_grade_end_to_end_with_hostile_text(tmp_path):
    """A real grade run (the grader's own feedback pages): exit 0 with every row, report.json and feedback."""
    subs = tmp_path / "subs"
    _hand_ins(subs)
    done = _grade(subs, tmp_path / "out", "--no-nbgrader")
    assert done.returncode == 0, done.stderr[-3000:]
    _check_class_folder(tmp_path / "out")


@pytest.mark.slow
def test_grade_end_to_end_with_hostile_text_and_nbgrader(tmp_path):
    """The same through nbgrader's gradebook and feedback: every student recorded, and a regrade merges."""
    subs = tmp_path / "subs"
    _hand_ins(subs)
    out = tmp_path / "out"
    done = _grade(subs, out)
    assert done.returncode == 0, done.stderr[-3000:]
    by_id, pages = _check_class_folder(out)
    assert not any("nbgrader" in row["flags"] for row in by_id.values()), by_id
    assert all("Hidden tests for" in page for page in pages.values())
    again = _grade(subs, out, "--only", "bob")
    assert again.returncode == 0, again.stderr[-3000:]
    _check_class_folder(out)
