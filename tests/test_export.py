"""The ``export`` command: Canvas and Moodle import files from grades.csv and the roster."""

import argparse
import csv

import pytest

from autograder import untrusted
from autograder.commands import export as export_command
from autograder.reporting import export
from autograder.reporting.numbers import score_text

GRADES = [
    ["student_id", "ex1", "ex2", "total", "max_total", "bonus1", "flags", "late_minutes"],
    ["alice", "3", "4", "7.5", "10", "0.5", "", "0"],
    ["'=cmd", "1", "2", "3", "10", "0", '\'=HYPERLINK("http://x")', "0"],
    ["bob", "0", "0", "0", "10", "0", "no submission", ""],
    ["ghost", "5", "5", "10", "10", "0", "", ""],
    ["'-ghost2", "1", "1", "2", "10", "0", "", ""],
]
ROSTER = [
    ["student_id", "name", "email", "canvas_id", "sis_user_id", "sis_login_id", "section", "moodle_idnumber"],
    ["alice", "Liddell, Alice", "alice@x.org", "101", "S1", "alice", "A", "M1"],
    ["=cmd", "=HYPERLINK(1)", "cmd@x.org", "102", "S2", "cmd", "B", "M2"],
    ["bob", "@Bob", "bob@x.org", "103", "", "", "A", "M3"],
    ["carol", "+Carol\t", "carol@x.org", "104", "S4", "carol", "-B", "M4"],
]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def course(tmp_path):
    out = tmp_path / "grading"
    out.mkdir()
    write_csv(out / "grades.csv", GRADES)
    return out, write_csv(tmp_path / "roster.csv", ROSTER)


def run(*argv):
    parser = argparse.ArgumentParser()
    export_command.add_arguments(parser)
    return export_command.run(parser.parse_args([str(a) for a in argv]))


# --------------------------------------------------------------------------- Canvas


def test_canvas_file(course, tmp_path, capsys):
    out, roster = course
    target = tmp_path / "canvas.csv"
    assert run(out, "--roster", roster, "--canvas", target, "--assignment", "DDPM (12345)") == 0
    rows = read_csv(target)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "DDPM (12345)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2:] == [
        ["Liddell, Alice", "101", "S1", "alice", "A", "7.5"],
        ["'=HYPERLINK(1)", "102", "S2", "cmd", "B", "3"],  # the grader's quoted '=cmd id matched the roster's =cmd
        ["'@Bob", "103", "", "", "A", "0"],
        ["'+Carol", "104", "S4", "carol", "'-B", ""],  # no row in grades.csv: empty score
    ]
    assert not (tmp_path / "moodle.csv").exists() and not (out / "moodle_import.csv").exists()
    assert "warning" not in capsys.readouterr().out


def test_points_possible_option_and_varying_max_total(course, tmp_path, capsys):
    out, roster = course
    target = tmp_path / "canvas.csv"
    assert run(out, "--roster", roster, "--canvas", target, "--points-possible", "12.5") == 0
    assert read_csv(target)[1] == ["Points Possible", "", "", "", "", "12.5"]
    grades = [row[:] for row in GRADES]
    grades[2][4] = "11"
    write_csv(out / "grades.csv", grades)
    assert run(out, "--roster", roster, "--canvas", target) == 0
    assert read_csv(target)[1][-1] == "10"
    err = capsys.readouterr().err
    assert "max_total differs between students; Points Possible = 10" in err
    assert "'DDPM' has no '(assignment id)'" in err


def test_canvas_warns_about_students_it_cannot_match(course, tmp_path, capsys):
    out, _ = course
    roster = write_csv(tmp_path / "r.csv", [["student_id", "name"], ["alice", "Alice"]])
    assert run(out, "--roster", roster, "--canvas", tmp_path / "c.csv") == 0
    err = capsys.readouterr().err
    assert "1 roster student(s) with no canvas_id, sis_user_id or sis_login_id for Canvas to match: 'alice'" in err


# --------------------------------------------------------------------------- Moodle


def test_moodle_file(course, tmp_path):
    out, roster = course
    target = tmp_path / "moodle.csv"
    assert run(out, "--roster", roster, "--moodle", target, "--assignment", "DDPM") == 0
    assert read_csv(target) == [
        ["Full name", "Email address", "ID number", "DDPM"],
        ["Liddell, Alice", "alice@x.org", "M1", "7.5"],
        ["'=HYPERLINK(1)", "cmd@x.org", "M2", "3"],
        ["'@Bob", "bob@x.org", "M3", "0"],
        ["'+Carol", "carol@x.org", "M4", ""],
    ]


def test_moodle_feedback_column_is_escaped(course, tmp_path):
    out, roster = course
    target = tmp_path / "moodle.csv"
    assert run(out, "--roster", roster, "--moodle", target, "--moodle-feedback", "flags") == 0
    rows = read_csv(target)
    assert rows[0] == ["Full name", "Email address", "ID number", "DDPM", "Feedback"]
    assert [row[-1] for row in rows[1:]] == ["", '\'=HYPERLINK("http://x")', "no submission", ""]


def test_moodle_identifiers_every_student_has(course, tmp_path, capsys):
    out, _ = course
    target = tmp_path / "moodle.csv"
    roster = write_csv(
        tmp_path / "r.csv",
        [["student_id", "email", "moodle_idnumber"], ["alice", "alice@x.org", "M1"], ["bob", "bob@x.org", ""]],
    )
    assert run(out, "--roster", roster, "--moodle", target) == 0
    assert read_csv(target) == [["Full name", "Email address", "DDPM"], ["", "alice@x.org", "7.5"], ["", "bob@x.org", "0"]]
    # no identifier complete: the most common one, and the students without it are left out and listed
    roster = write_csv(
        tmp_path / "r.csv",
        [["student_id", "email", "moodle_idnumber"], ["alice", "", "M1"], ["bob", "", "M3"], ["=cmd", "cmd@x.org", ""]],
    )
    assert run(out, "--roster", roster, "--moodle", target) == 0
    assert read_csv(target) == [["Full name", "ID number", "DDPM"], ["", "M1", "7.5"], ["", "M3", "0"]]
    assert "1 roster student(s) left out of the Moodle file, no email/ID number in the roster: '=cmd'" in capsys.readouterr().err


def test_moodle_needs_an_identifier(course, tmp_path, capsys):
    out, _ = course
    roster = write_csv(tmp_path / "r.csv", [["student_id", "name", "canvas_id"], ["alice", "Alice", "1"]])
    assert run(out, "--roster", roster, "--moodle", tmp_path / "m.csv") == 2
    assert one_line(capsys).endswith("Moodle needs an email or moodle_idnumber column with values to match students")
    assert run(out, "--roster", roster) == 2  # both files: neither is written when one cannot be
    assert not (out / "canvas_import.csv").exists() and not (out / "moodle_import.csv").exists()


# --------------------------------------------------------------------------- both, unmatched students


def test_both_files_by_default_and_unmatched_students_reported(course, capsys):
    out, roster = course
    assert run(out, "--roster", roster) == 0
    assert read_csv(out / "canvas_import.csv")[0][0] == "Student"
    assert read_csv(out / "moodle_import.csv")[0][0] == "Full name"
    captured = capsys.readouterr()
    assert "wrote Canvas:" in captured.out and "Moodle:" in captured.out
    err = captured.err
    assert "2 student(s) in grades.csv but not in the roster, not exported: 'ghost', '-ghost2'" in err
    assert "1 roster student(s) without a row in grades.csv, grade left empty: 'carol'" in err
    flat = "".join(open(out / name).read() for name in ("canvas_import.csv", "moodle_import.csv"))
    assert "ghost" not in flat


def test_bad_totals_and_duplicates_are_reported(course, tmp_path, capsys):
    out, roster = course
    grades = [*GRADES, ["alice", "9", "9", "18", "10", "0", "", ""]]
    grades[3] = ["bob", "0", "0", "error", "10", "0", "", ""]
    write_csv(out / "grades.csv", grades)
    assert run(out, "--roster", roster, "--canvas", tmp_path / "c.csv") == 0
    rows = read_csv(tmp_path / "c.csv")
    assert rows[2][-1] == "7.5" and rows[4][-1] == ""
    err = capsys.readouterr().err
    assert "1 student id(s) appear more than once in grades.csv, first row used: 'alice'" in err
    assert "1 student(s) whose total is not a number, grade left empty: 'bob'" in err


# --------------------------------------------------------------------------- bad inputs


def one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_missing_grades_csv(tmp_path, capsys):
    roster = write_csv(tmp_path / "roster.csv", ROSTER)
    assert run(tmp_path / "nowhere", "--roster", roster) == 2
    assert "grades.csv not found: run `python -m autograder grade" in one_line(capsys)


def test_grades_csv_without_total(course, capsys):
    out, roster = course
    write_csv(out / "grades.csv", [["student_id", "score"], ["alice", "1"]])
    assert run(out, "--roster", roster) == 2
    assert "no total column" in one_line(capsys)


@pytest.mark.parametrize(
    "rows, message",
    [
        (None, "not found"),
        ([["name", "email"], ["Alice", "a@x.org"]], "no student_id column"),
        ([["student_id"], ["alice"], ["alice"]], "appears twice"),
        ([["student_id", "name"]], "no students"),
    ],
)
def test_bad_roster(course, tmp_path, capsys, rows, message):
    out, _ = course
    roster = tmp_path / "bad_roster.csv"
    if rows is not None:
        write_csv(roster, rows)
    assert run(out, "--roster", roster) == 2
    assert message in one_line(capsys)
    assert not (out / "canvas_import.csv").exists()


def test_bad_options(course, tmp_path, capsys):
    out, roster = course
    assert run(out, "--roster", roster, "--points-possible", "0") == 2
    assert "--points-possible must be a positive number" in one_line(capsys)
    assert run(out, "--roster", roster, "--moodle-feedback", "comments") == 2
    assert "no such column in grades.csv" in one_line(capsys)


def test_unwritable_output(course, tmp_path, capsys):
    out, roster = course
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run(out, "--roster", roster, "--canvas", blocker / "sub" / "c.csv") == 2
    assert "cannot write" in one_line(capsys)


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "cell, written",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Alice", "Alice"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_every_text_cell_is_protected(cell, written):
    assert untrusted.csv_cell(cell) == written


def test_hostile_assignment_name_is_escaped(course, tmp_path):
    out, roster = course
    assert run(out, "--roster", roster, "--canvas", tmp_path / "c.csv", "--assignment", "=evil (1)") == 0
    assert read_csv(tmp_path / "c.csv")[0][-1] == "'=evil (1)"


@pytest.mark.parametrize("cell, plain", [("'=cmd", "=cmd"), ("'-1", "-1"), ("'quoted", "'quoted"), ("  bob ", "bob"), ("", "")])
def test_unquote_strips_only_the_graders_quote(cell, plain):
    assert untrusted.csv_text(cell) == plain


def test_scores_are_plain_numbers():
    assert [score_text(v, export.PLACES) for v in (7.5, 10.0, 1 / 3, 0.0, -0.0, 2.50004)] == [
        "7.5",
        "10",
        "0.3333",
        "0",
        "0",
        "2.5",
    ]
