"""What an instructor's grading run gives each student and the gradebook (issue 19): the feedback a
student reads states the total of grades.csv, the late penalty and every override with its reason;
overrides.csv refuses what it cannot mean; a notebooks-only hand-in is said once; nbgrader's records
agree with grades.csv, one gradebook per class folder. The journey "Semester to feedback" runs them
all from an LMS download to the Canvas export."""

import csv
import datetime as dt
import html as htmllib
import json
import os
import re
import zipfile

import pytest

from autograder.assignment import check_cells, exercises
from autograder.authoring import stubs
from autograder.reporting import overrides

from .test_semester import SOLUTION_MODULES, _cli, _rows


def _overrides(tmp_path, lines):
    path = tmp_path / "overrides.csv"
    path.write_text("student_id,exercise,points,reason\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_an_override_above_the_exercise_maximum_is_refused(tmp_path):
    path = _overrides(tmp_path, ["ada,extract,1,fine", "bob,extract,5,generous"])
    with pytest.raises(overrides.OverridesError) as error:
        overrides.load_overrides(path, exercises.POINTS)
    said = str(error.value)
    assert str(path) in said and "line 3" in said and "extract" in said and "maximum is 1" in said


def test_an_unquoted_comma_in_a_reason_is_refused_with_how_to_quote(tmp_path):
    path = _overrides(tmp_path, ["ada,extract,0.5,copied, from bob"])
    with pytest.raises(overrides.OverridesError, match=r"line 2: 5 fields .* must be quoted"):
        overrides.load_overrides(path, exercises.POINTS)
    path = _overrides(tmp_path, ['ada,extract,0.5,"copied, from bob"'])
    assert overrides.load_overrides(path, exercises.POINTS) == {"ada": {"extract": (0.5, "copied, from bob")}}


# --------------------------------------------------------------------------- the journey


DUE = dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)


def _hand_in(members, path, when):
    """A Canvas download's file: a zip of ``{name in the zip: text}``, its file time the submission time."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    os.utime(path, (when.timestamp(), when.timestamp()))


def _solutions(prefix="ddpm/"):
    return {f"{prefix}helpers/{name}": (stubs.SOLUTIONS / name).read_text() for name in SOLUTION_MODULES}


def _notebooks(prefix="ddpm/"):
    return {f"{prefix}notebooks/{p.name}": p.read_text() for p in check_cells.notebook_paths()}


def _nbgrader_export(course, home):
    from autograder.reporting import nbgrader_cli

    done = nbgrader_cli.nbgrader(["export", "--to", str(course / "export.csv")], course, home)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {row["student_id"]: row for row in csv.DictReader(open(course / "export.csv"))}


def _text(html):
    """What a reader sees of a page: tags dropped, entities and markdown escapes undone, spaces joined."""
    text = re.sub(r"</?(?:code|strong|em|b|i)>", "", html)  # inline: no space
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\\(.)", r"\1", htmllib.unescape(text))
    return " ".join(text.split())


@pytest.mark.slow
def test_semester_to_feedback(tmp_path):
    """A Canvas download (an on-time student with an override, a student two days late, a notebooks-only
    hand-in) graded, then exported: each student's feedback page, report.json, grades.csv, the Canvas
    CSV and nbgrader's own export state one total, with the late penalty and every override's reason."""
    down, out = tmp_path / "canvas", tmp_path / "class-a"
    down.mkdir()
    hour = dt.timedelta(hours=1)
    _hand_in({**_solutions(), **_notebooks()}, down / "lovelaceada_101_9001_ddpm.zip", DUE - hour)
    _hand_in(_solutions(), down / "stubbob_LATE_102_9002_ddpm.zip", DUE + dt.timedelta(days=1) + hour)
    _hand_in(_notebooks(), down / "notebookscy_103_9003_ddpm.zip", DUE - hour)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id\nada,Ada Lovelace,101\nbob,Bob Stub,102\ncy,Cy Notebooks,103\n")
    config = tmp_path / "course.ini"
    config.write_text(f"[late]\ndue = {DUE.isoformat()}\nrule = -10% per day, max 3 days\ntimezone = UTC\n")
    overrides = tmp_path / "overrides.csv"
    overrides.write_text('student_id,exercise,points,reason\nada,extract,0.5,"copied, from bob"\n')

    done = _cli("grade", down, "--out", out, "--roster", roster, "--config", config, "--overrides", overrides,
                "--seed", 4)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    rows = _rows(out)
    assert sorted(rows) == ["ada", "bob", "cy"]
    report = {s["student_id"]: s for s in json.loads((out / "report.json").read_text())["students"]}
    full = sum(exercises.POINTS.values())
    assert float(rows["ada"]["total"]) == full - 0.5 and rows["ada"]["late_penalty"] == "0"
    assert rows["bob"]["late_penalty"] == "20%" and float(rows["bob"]["total"]) == pytest.approx(0.8 * full)
    assert float(rows["cy"]["total"]) == 0

    done = _cli("export", out, "--roster", roster, "--canvas", tmp_path / "canvas.csv", "--assignment", "DDPM (77)")
    assert done.returncode == 0, done.stderr
    canvas = list(csv.DictReader(open(tmp_path / "canvas.csv")))
    assert canvas[0]["Student"].strip() == "Points Possible" and float(canvas[0]["DDPM (77)"]) == exercises.MAX_TOTAL
    canvas = {r["ID"]: r["DDPM (77)"] for r in canvas[1:]}
    nbgrader = _nbgrader_export(out / "nbgrader", tmp_path / "home")

    for sid, canvas_id in (("ada", "101"), ("bob", "102"), ("cy", "103")):
        total, most = rows[sid]["total"], rows[sid]["max_total"]
        assert float(most) == exercises.MAX_TOTAL
        page = (out / "feedback" / f"{sid}.html").read_text()
        seen = _text(page)
        assert re.search(rf"<title>[^<]*{sid}[^<]*</title>", page), sid  # the page says whose it is
        assert f"Your total: {total} / {most} (+ bonus" in seen, (sid, seen[:3000])
        assert f"{total} / 28" not in seen and f"{full:g} / {full:g}" not in seen  # nbgrader's old maximum
        assert report[sid]["final"]["total"] == pytest.approx(float(total))
        assert float(canvas[canvas_id]) == pytest.approx(float(total))
        assert float(nbgrader[sid]["score"]) == pytest.approx(float(total)), nbgrader[sid]
        assert float(nbgrader[sid]["max_score"]) == exercises.MAX_TOTAL

    bob = _text((out / "feedback" / "bob.html").read_text())
    assert "Late penalty: submitted 1 d 1 h after the due date (2 days late)" in bob
    assert f"{full:g} points before the penalty, {rows['bob']['total']} after" in bob
    assert float(nbgrader["bob"]["late_submission_penalty"]) == pytest.approx(0.2 * full)
    assert report["bob"]["final"]["late_penalty"] == pytest.approx(0.2) and "2 days late" in report["bob"]["final"]["late_note"]
    ada = _text((out / "feedback" / "ada.html").read_text())
    assert "extract: 0.5 / 1 points instead of the hidden tests' 1 (overrides.csv: copied, from bob)" in ada
    assert "Your score for extract: 0.5 / 1 points" in ada  # beside the exercise, not "1 / 1 (this is your score)"
    assert "copied, from bob" in report["ada"]["final"]["adjustments"][0]["reason"]
    assert report["ada"]["final"]["adjustments"][0]["date"] == dt.date.today().isoformat()  # first seen today
    cy = _text((out / "feedback" / "cy.html").read_text())
    assert "no helpers/ folder" in cy and "COMPLETE THIS" not in cy and "not implemented" not in cy
    assert rows["cy"]["flags"].count("no helpers/ folder") == 1 and "py missing" not in rows["cy"]["flags"]

    # a second class graded from the same checkout keeps its own gradebook
    other = tmp_path / "canvas-b"
    other.mkdir()
    _hand_in(_notebooks(), other / "hopperdan_104_9004_ddpm.zip", DUE - hour)
    done = _cli("grade", other, "--out", tmp_path / "class-b", "--config", config, "--seed", 4)
    assert done.returncode == 0, done.stderr[-4000:]
    assert sorted(_nbgrader_export(tmp_path / "class-b" / "nbgrader", tmp_path / "home")) == ["104"]
    assert sorted(_nbgrader_export(out / "nbgrader", tmp_path / "home")) == ["ada", "bob", "cy"]


# --------------------------------------------------------------------------- fast: the pieces the journey joins


def _final_row(tmp_path):
    """Ada, full marks, two days late, one override: her row after ``final_scores.finalize``."""
    from autograder.grading.student_row import StudentRow
    from autograder.records import ExerciseVerdict, PartVerdict
    from autograder.reporting import late
    from autograder.reporting.final_scores import finalize

    verdicts = {e: ExerciseVerdict(p, p, [PartVerdict("values", p, p, True, "")]) for e, p in exercises.POINTS.items()}
    when = (DUE + dt.timedelta(days=1, hours=1)).isoformat()
    row = StudentRow("ada", verdicts, submitted_at=when)
    policy = late.Policy.from_rule(DUE, "-10% per day, max 3 days", "UTC")
    overrides = {"ada": {"extract": (0.5, "copied, from bob")}}
    return finalize(row, exercises.REQUIRED, exercises.BONUS, {}, overrides, policy)


def test_the_graders_own_page_states_the_total_penalty_and_override(tmp_path):
    from autograder.reporting import feedback

    row = _final_row(tmp_path)
    full = sum(exercises.POINTS.values())
    total = (full - 0.5) * 0.8
    assert row.final.total == pytest.approx(total)
    page = feedback.page(row, exercises.BONUS)
    seen = _text(page)
    assert "<title>Feedback for ada</title>" in page
    assert f"Your total: {total:g} / {exercises.MAX_TOTAL:g} (+ bonus" in seen
    assert f"(2 days late): -20%: {full - 0.5:g} points before the penalty, {total:g} after" in seen
    assert "extract: 0.5 / 1 points instead of the hidden tests' 1 (overrides.csv: copied, from bob)" in seen
    # in its own section, dated (no audit trail given: the day it was seen, today)
    assert "<h2>Adjustments</h2>" in page and f"copied, from bob), on {dt.date.today().isoformat()}" in seen


def test_nbgraders_notebook_states_the_same_summary_and_the_overridden_score(tmp_path):
    from autograder.reporting import gradebook

    row = _final_row(tmp_path)
    course = gradebook.Course(tmp_path / "course", check_cells.course_cells(), tmp_path / "home")
    cells = course.autograded_notebook(row)["cells"]
    summary = _text("".join(cells[1]["source"]))
    assert summary.startswith("## Feedback for ada") and "Late penalty" in summary and "copied, from bob" in summary
    assert summary.index("Late penalty") < summary.index("Adjustments") < summary.index("copied, from bob")
    said = _text(gradebook.verdict_markdown("extract", row.verdicts["extract"], (True, ""), row.final))
    assert said.startswith("**Your score for `extract`: 0.5 / 1 points**") and "this is your score" not in said
    bonus = {g for g, (_nb, _src, points) in check_cells.course_cells().items() if gradebook.gradebook_points(g, points) == 0}
    assert bonus == {f"check_{e}" for e in exercises.BONUS}  # nbgrader's maximum is max_total


def test_a_notebooks_only_hand_in_is_said_once(tmp_path):
    from autograder.intake import submission

    _hand_in(_notebooks(), tmp_path / "cy.zip", DUE)
    sub = submission.read(str(tmp_path / "cy.zip"), "cy")
    assert sub.no_helpers and sum("helpers/" in flag for flag in sub.flags) == 1, sub.flags
    assert "no helpers/ folder" in sub.no_helpers and not sub.helpers
