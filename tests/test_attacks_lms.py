"""Issue 18, rows 3 and 7: a student's identity comes from the fixed parts of an LMS layout, never from
text the student chose (an original file name, a display name), and a merge run never gives a hand-in
another student's row. Fake downloads, no grading, except one small end-to-end merge run."""

import csv
import datetime as dt
import itertools
import json
import subprocess
import sys

from autograder.grading import class_folder
from autograder.intake import lms, submission
from autograder.paths import ROOT
from tests.test_lms import _ids, _write, _zip_bytes

UTC = dt.timezone.utc
OLD, NEW = dt.datetime(2024, 5, 1, 10, tzinfo=UTC), dt.datetime(2024, 5, 2, 10, tzinfo=UTC)


def _handin(marker):
    """A zip hand-in whose forward.py says whose it is."""
    return _zip_bytes({"ddpm/helpers/forward.py": f"owner = {marker!r}"})


def _owner(entry):
    """Whose work a row grades: the marker in its files (one marker per row, or the row mixes two students)."""
    files = submission.read(entry.path, entry.student_id).files.values()
    markers = {data.decode() for data in files if data.startswith(b"owner = ")}
    assert len(markers) == 1, markers
    return markers.pop()


# ------------------------------------------------------------------------------ Canvas: the two ids after the name


def test_canvas_original_name_imitating_moodle_is_not_that_participant(tmp_path):
    """The issue's attack: eve's own file name ends like a Moodle name for participant 222, and is newer."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "eve_1001_55501_myzip_222_assignsubmission_file_.zip", _handin("eve"), when=NEW)
    col = lms.collect(down, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["1001", "222"] and col.layouts == {"canvas"}
    assert _owner(ids["222"]) == "owner = 'bob'" and _owner(ids["1001"]) == "owner = 'eve'"
    assert col.skipped == [] and not any("older" in n for e in col.entries for n in e.notes)


def test_canvas_file_named_like_a_moodle_folder_stays_canvas(tmp_path):
    """A regular file (no extension) whose whole name ends with Moodle's folder suffix: Canvas wrote it."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"))
    _write(down / "eve_1001_55501_x_222_assignsubmission_file_", b"not a zip")
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["1001", "222"] and ids["1001"].lms == "canvas"
    assert _owner(ids["222"]) == "owner = 'bob'"


def test_canvas_original_name_imitating_canvas_ids(tmp_path):
    """An original name that itself looks like ``name_<uid>_<subid>_file``: the first two ids count."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "eve_1001_55501_smithbob_222_334_ddpm.zip", _handin("eve"), when=NEW)
    _write(down / "mallory_LATE_1002_55502_smithbob_LATE_222_335_ddpm.zip", _handin("mallory"), when=NEW)
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["1001", "1002", "222"]
    assert _owner(ids["222"]) == "owner = 'bob'" and ids["1002"].notes[0] == "Canvas marked it LATE"


def test_canvas_display_name_with_underscores_and_digits(tmp_path):
    """Canvas keeps underscores and digits in the name part (it only joins ``_<digits>_`` runs):
    the ids are the first two numbers in a row after it."""
    down = tmp_path / "down"
    _write(down / "o_neil_jane_12345_1_ddpm.zip", _handin("jane"))
    _write(down / "2pac_shakur_12346_2_ddpm.zip", _handin("tupac"))
    _write(down / "smith2bob_12347_3_ddpm.zip", _handin("bob"))
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["12345", "12346", "12347"]
    assert _owner(ids["12346"]) == "owner = 'tupac'"


def test_canvas_name_ending_in_an_id_is_not_that_student(tmp_path):
    """``eve_222`` as a display name: ``eve_222_1001_55501_x.zip`` reads as canvas id 222 or 1001. Canvas
    wrote ``smithbob`` on 222's own file, so 222 is not eve."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "eve_222_1001_55501_x.zip", _handin("eve"), when=NEW)
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["1001", "222"]
    assert _owner(ids["222"]) == "owner = 'bob'" and _owner(ids["1001"]) == "owner = 'eve'"


def test_canvas_original_name_starting_with_numbers(tmp_path):
    """The same shape from an honest student: ``2024_12_ddpm.zip`` uploaded by smithbob. The roster knows
    canvas id 222 and not 333 (an attachment id); with nothing to tell, the row says what was read."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_2024_12_ddpm.zip", _handin("bob"))
    with_roster = lms.collect(down, [{"student_id": "bob", "canvas_id": "222"}], workdir=tmp_path / "work")
    assert [e.student_id for e in with_roster.entries] == ["bob"] and with_roster.entries[0].notes == []
    alone = lms.collect(down, workdir=tmp_path / "work2")
    assert [e.student_id for e in alone.entries] == ["222"]
    assert "could also be read as canvas id 333" in " ".join(alone.entries[0].notes)


def test_canvas_ids_with_leading_zeros_are_their_own(tmp_path):
    """Ids are compared as Canvas wrote them: ``0222`` is not ``222``, in the download or in the roster."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "eve_0222_55501_ddpm.zip", _handin("eve"), when=NEW)
    col = lms.collect(down, [{"student_id": "bob", "canvas_id": "222"}], workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["0222", "bob"] and _owner(ids["bob"]) == "owner = 'bob'" and col.skipped == []


def test_canvas_unicode_names_and_unicode_digits(tmp_path):
    """Letters from any script in the name part; digits from other scripts are not Canvas ids."""
    down = tmp_path / "down"
    _write(down / "müllerjürgen_12345_1_ddpm.zip", _handin("jürgen"))
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "eve_٢٢٢_٣٣٣_ddpm.zip", _handin("eve"), when=NEW)  # Arabic-Indic 222 and 333
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert _owner(ids["12345"]) == "owner = 'jürgen'" and _owner(ids["222"]) == "owner = 'bob'"
    others = [e for sid, e in ids.items() if sid not in ("12345", "222")]
    assert len(others) == 1 and others[0].lms == "plain" and _owner(others[0]) == "owner = 'eve'"


def test_canvas_anonymous_grading_names(tmp_path):
    """Anonymous grading: ``[LATE_]anon_<anonymous id>_<attachment id>_<original name>``, no user id. The
    anonymous id is the student, never an attachment id read from an original name that starts with a number."""
    down = tmp_path / "down"
    _write(down / "anon_Ab3De_555_2024_ddpm.zip", _handin("first"), when=NEW)
    _write(down / "anon_Ab3De_556_losses.py", "y = 1", when=OLD)
    _write(down / "LATE_anon_Zx9Qk_557_ddpm.zip", _handin("second"))
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["anon_Ab3De", "anon_Zx9Qk"] and {e.lms for e in ids.values()} == {"canvas"}
    assert "2 files grouped into one hand-in" in ids["anon_Ab3De"].notes
    assert ids["anon_Zx9Qk"].notes[0] == "Canvas marked it LATE" and _owner(ids["anon_Zx9Qk"]) == "owner = 'second'"


# ------------------------------------------------------------------------------ Moodle: the fixed suffix of a folder


def test_moodle_display_name_imitating_another_participant(tmp_path):
    """The issue's attack: Eve's display name ``Eve_202_assignsubmission_file_x`` would merge her
    folder into participant 202's; the folder's trailing ``_<id>_assignsubmission_<plugin>_`` decides."""
    down = tmp_path / "down"
    _write(down / "Bob_202_assignsubmission_file_" / "ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "Eve_202_assignsubmission_file_x_303_assignsubmission_file_" / "ddpm.zip", _handin("eve"), when=NEW)
    col = lms.collect(down, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["202", "303"] and col.layouts == {"moodle"}
    assert _owner(ids["202"]) == "owner = 'bob'" and _owner(ids["303"]) == "owner = 'eve'"
    assert col.skipped == []


def test_moodle_display_names_with_digits_and_unicode(tmp_path):
    down = tmp_path / "down"
    _write(down / "Eve 202_303_assignsubmission_file_" / "ddpm.zip", _handin("eve"))
    _write(down / "Jürgen Müller_0404_assignsubmission_file_" / "ddpm.zip", _handin("jürgen"))
    _write(down / "Bob_202_assignsubmission_file_" / "ddpm.zip", _handin("bob"))
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["0404", "202", "303"]
    assert _owner(ids["202"]) == "owner = 'bob'" and _owner(ids["0404"]) == "owner = 'jürgen'"


def test_moodle_flat_file_original_names_imitating_other_layouts(tmp_path):
    """Moodle turns a full name's underscores into spaces, so a flat file's name part ends at its first
    underscore: what follows the plugin is the student's own file name, whatever it looks like."""
    down = tmp_path / "down"
    _write(down / "Bob Smith_202_assignsubmission_file_forward.py", "owner = 'bob'", when=OLD)
    _write(down / "Eve Nil_303_assignsubmission_file_x_202_assignsubmission_file_forward.py", "owner = 'eve'", when=NEW)
    _write(down / "Mal Lory_304_assignsubmission_file_smithbob_202_9_forward.py", "owner = 'mal'", when=NEW)
    col = lms.collect(down, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["202", "303", "304"] and col.layouts == {"moodle"}
    assert [_owner(ids[i]) for i in ("202", "303", "304")] == ["owner = 'bob'", "owner = 'eve'", "owner = 'mal'"]


def test_a_folder_named_like_both_layouts_is_moodle_by_its_anchored_suffix(tmp_path):
    """Canvas writes only files; a folder ending in Moodle's suffix is read by that suffix alone."""
    down = tmp_path / "down"
    _write(down / "smithbob_222_333_ddpm.zip", _handin("bob"), when=OLD)
    _write(down / "eve_222_333_x_404_assignsubmission_file_" / "ddpm.zip", _handin("eve"), when=NEW)
    ids = _ids(lms.collect(down, workdir=tmp_path / "work"))
    assert sorted(ids) == ["222", "404"] and ids["404"].lms == "moodle"
    assert _owner(ids["222"]) == "owner = 'bob'"


def test_no_file_name_reads_as_both_layouts():
    """Every name of up to five parts from the pieces attackers combine: a file that reads as Moodle's never
    reads as Canvas's, so which is tried first cannot matter; and no reading takes a number that is not ASCII."""
    from autograder.intake import lms_names  # the module this change added: imported here, so the rest runs on older code

    pieces = ["eve", "Eve Nil", "222", "0333", "4", "٢", "LATE", "assignsubmission", "file", "x.py", ""]
    for size in range(2, 6):
        for parts in itertools.product(pieces, repeat=size):
            name = "_".join(parts)
            if lms_names.MOODLE_FILE.fullmatch(name):
                assert lms_names.canvas_readings(name) == [], name
            for reading in lms_names.readings(name, False):
                assert reading.uid.isascii() and reading.uid.isdigit(), name


# ------------------------------------------------------------------------------ merge runs: ids never land on another's row


def test_cleaned_id_never_takes_a_row_already_in_the_class_folder():
    earlier = {"bob": None, "bob__2": submission.id_source("bob?"), "carl": None}
    rows = submission.assign_ids(["bob!", "bob", "bob?", "carl", "dan!"], earlier=earlier)
    ids = {name: sid for name, sid, _flag in rows}
    assert ids["bob"] == "bob" and ids["carl"] == "carl"  # a regrade of bob is still bob
    assert ids["bob?"] == "bob__2"  # a regrade of the hand-in that row came from
    assert ids["bob!"] not in earlier and ids["bob!"].startswith("bob__")
    assert ids["dan!"] == "dan" and len(set(ids.values())) == 5
    flags = {name: flag for name, _sid, flag in rows}
    assert "taken" in flags["bob!"] and not flags["bob"]


def test_a_row_made_from_a_cleaned_name_keeps_its_owner():
    """``bob!`` was graded as ``bob`` when no bob had handed in; the real bob, later, gets a row of his own."""
    earlier = {"bob": submission.id_source("bob!")}
    rows = submission.assign_ids(["bob", "bob!"], earlier=earlier)
    ids = {name: sid for name, sid, _flag in rows}
    assert ids["bob!"] == "bob" and ids["bob"] != "bob"
    assert "already" in dict((n, f) for n, _s, f in rows)["bob"]


def test_cleaned_ids_never_take_a_roster_id(tmp_path):
    """A roster student who has not handed in yet still owns their id: ``bob!`` is not graded as them."""
    down = tmp_path / "down"
    _write(down / "bob!" / "helpers" / "forward.py")
    col = lms.collect(down, [{"student_id": "bob"}], workdir=tmp_path / "work")
    assert [e.student_id for e in col.entries] == ["bob__2"] and col.missing() == ["bob"]
    assert "its cleaned form is taken" in col.entries[0].notes[0]


def test_collect_keeps_a_merge_runs_ids_off_earlier_rows(tmp_path):
    down = tmp_path / "down"
    _write(down / "bob!" / "helpers" / "forward.py")
    _write(down / "alice" / "helpers" / "forward.py")
    col = lms.collect(down, workdir=tmp_path / "work", earlier={"bob": None, "alice": None})
    ids = _ids(col)
    assert "alice" in ids and "bob" not in ids and len(ids) == 2
    assert ids[next(i for i in ids if i != "alice")].raw_id == "bob!"


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=900
    )


def test_merge_run_never_replaces_another_students_row(tmp_path):
    """End to end, in the sandbox: bob hands in the reference and is graded; a later batch holds ``bob!``
    (the stubs, cleaned to ``bob``): bob's row and points stay, and the class folder remembers which name
    made ``bob__2``. Two runs of one hand-in each, a few seconds apiece."""
    out, first, second = tmp_path / "out", tmp_path / "first", tmp_path / "second"
    for module in sorted((ROOT / "solutions").glob("*.py")):
        if module.name != "__init__.py":
            _write(first / "bob" / "helpers" / module.name, module.read_bytes())
    _write(second / "bob!" / "helpers" / "forward.py", (ROOT / "helpers" / "forward.py").read_bytes())
    common = ("--out", out, "--no-nbgrader", "--seed", 7, "--course-dir", tmp_path / "nb")
    points = []
    for folder in (first, second):
        done = _cli("grade", folder, *common)
        assert done.returncode == 0, done.stderr[-3000:]
        points.append({r["student_id"]: float(r["points"]) for r in csv.DictReader(open(out / "grades.csv"))})
    assert points[0]["bob"] > 0 and points[1] == {"bob": points[0]["bob"], "bob__2": 0.0}
    report = json.loads((out / "report.json").read_text())
    assert {s["student_id"]: s["source"] for s in report["students"]} == {"bob": "bob", "bob__2": "bob!"}
    assert report["collection"]["id_sources"] == {"bob__2": submission.id_source("bob!")}


def test_a_regrade_of_a_cleaned_name_finds_its_row_through_the_report(tmp_path):
    """What the next run reads back: ``bob!`` made ``bob__2``, so a regrade of ``bob!`` is ``bob__2`` and
    a new ``bob?`` is neither; an older report without ``id_sources`` gives each row to its own id."""
    out = tmp_path / "out"
    students = [{"student_id": sid, "checks": {}} for sid in ("bob", "bob__2")]
    collection = {"id_sources": {"bob__2": submission.id_source("bob!"), "gone": "sha256:0"}}
    _write(out / "report.json", json.dumps({"seed": 7, "students": students, "collection": collection}))
    rows, settings = class_folder.earlier_grading(out, replace=False)
    assert sorted(rows) == ["bob", "bob__2"] and settings["id_sources"] == {"bob__2": submission.id_source("bob!")}
    owners = {sid: settings["id_sources"].get(sid) for sid in rows}
    ids = {name: sid for name, sid, _flag in submission.assign_ids(["bob!", "bob?"], earlier=owners)}
    assert ids == {"bob!": "bob__2", "bob?": "bob__3"}
    _write(out / "report.json", json.dumps({"seed": 7, "students": students}))
    assert class_folder.earlier_grading(out, replace=False)[1]["id_sources"] == {}
