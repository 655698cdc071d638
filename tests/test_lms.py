"""LMS download layouts: which student handed in what (autograder/intake/lms.py), on fake downloads; no grading."""

import datetime as dt
import io
import os
import zipfile

import pytest

from autograder.intake import lms, submission

UTC = dt.timezone.utc
PLUS2 = dt.timezone(dt.timedelta(hours=2))


def _zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


HANDIN = _zip_bytes({"ddpm/helpers/forward.py": "x = 1", "ddpm/ddpm.ipynb": "{}"})


def _write(path, data=b"x = 1", when=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    if when is not None:
        os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def _ids(col):
    return {e.student_id: e for e in col.entries}


def _roster(**columns):
    """Rows from column=[values]: student_id first."""
    ids = columns["student_id"]
    return [{k: v[i] for k, v in columns.items()} for i in range(len(ids))]


def test_plain_layout_skips_junk_links_fifos_and_data_files(tmp_path):
    down = tmp_path / "down"
    _write(down / "alice" / "helpers" / "forward.py")
    _write(down / "bob.zip", HANDIN)
    _write(down / "carl.ipynb", "{}")
    _write(down / "roster.csv", "student_id\nalice\n")
    _write(down / "notes.txt", "hi")
    _write(down / "grades.json", "{}")
    _write(down / "README.md", "#")
    _write(down / "task.pdf", "%PDF")
    _write(down / "__MACOSX" / "._bob.zip", "junk")
    _write(down / ".DS_Store", "junk")
    _write(down / "Thumbs.db", "junk")
    _write(down / "._bob.zip", "junk")
    _write(down / ".hidden" / "helpers" / "forward.py")
    (down / "empty").mkdir()
    _write(down / "only_junk" / ".DS_Store", "junk")
    (down / "link").symlink_to(down / "alice")
    (down / "link.zip").symlink_to(down / "bob.zip")
    os.mkfifo(down / "pipe")
    col = lms.collect(down, workdir=tmp_path / "work")
    ids = _ids(col)
    # a top-level folder is someone's hand-in, even empty or dot-named: it gets a row (graded 0, flagged)
    # so does a link or a FIFO, never followed or opened: its row says so
    assert sorted(ids) == ["alice", "bob", "carl", "empty", "hidden", "link", "only_junk", "pipe"]
    assert "symbolic link" in " ".join(submission.read(ids["link"].path, "link").flags)
    assert ids["alice"].path == str(down / "alice") and ids["bob"].path == str(down / "bob.zip")
    assert os.listdir(ids["carl"].path) == ["carl.ipynb"] and ids["carl"].path.startswith(str(tmp_path / "work"))
    assert {e.lms for e in col.entries} == {"plain"} and col.layouts == {"plain"}
    assert ids["alice"].time_source == "file time" and ids["alice"].submitted_at.tzinfo is not None
    older = [item for item in col.skipped if item[1] == "older submission of link"]
    assert len(older) == 1 and older[0][0] in ("link", "link.zip")  # two links named alike: one row, the other said
    assert sorted(item for item in col.skipped if item not in older) == [
        (".DS_Store", "operating system junk file"),
        ("._bob.zip", "macOS AppleDouble file"),
        ("README.md", "md file: not a hand-in"),
        ("Thumbs.db", "operating system junk file"),
        ("__MACOSX", "macOS archive junk"),
        ("grades.json", "json file: not a hand-in"),
        ("notes.txt", "txt file: not a hand-in"),
        ("roster.csv", "csv file: not a hand-in"),
        ("task.pdf", "pdf file: not a hand-in"),
    ]
    assert submission.read(ids["bob"].path, "bob").helpers["forward.py"] == b"x = 1"


def test_canvas_late_resubmission_and_roster(tmp_path):
    down = tmp_path / "down"
    old, new = dt.datetime(2024, 5, 1, 10, tzinfo=UTC), dt.datetime(2024, 5, 2, 10, tzinfo=UTC)
    _write(down / "doejane_LATE_12345_67890_ddpm.zip", HANDIN, when=new)  # newer file time, but older resubmission number
    _write(down / "doejane_LATE_12345_67891_ddpm-1.zip", HANDIN, when=old)
    _write(down / "smithbob_222_333_ddpm.zip", HANDIN, when=old)
    roster = _roster(student_id=["s001", "s002", "s003"], canvas_id=["12345", "999", ""])
    col = lms.collect(down, roster, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["222", "s001"] and col.layouts == {"canvas"}
    assert ids["s001"].path == str(down / "doejane_LATE_12345_67891_ddpm-1.zip") and ids["s001"].resubmission == 1
    assert ids["s001"].notes == ["Canvas marked it LATE", "older hand-in(s) not graded: doejane_LATE_12345_67890_ddpm.zip"]
    assert ids["s001"].lms == "canvas"
    assert ids["s001"].submitted_at == old and ids["s001"].time_source == "file time"
    assert ids["222"].notes == ["canvas id 222 not in the roster: graded as 222"]
    assert col.skipped == [("doejane_LATE_12345_67890_ddpm.zip", "older submission of s001")]
    assert col.missing() == ["s002", "s003"] and col.missing(roster[:1]) == []
    report = col.report()
    assert "s001 <- doejane_LATE_12345_67891_ddpm-1.zip [canvas, submitted 2024-05-01" in report
    assert "doejane_LATE_12345_67890_ddpm.zip: older submission of s001" in report
    assert "2 roster student(s) with no hand-in: s002, s003" in report
    no_roster = lms.collect(down, workdir=tmp_path / "work2")
    assert _ids(no_roster)["12345"].notes[:2] == ["Canvas marked it LATE", "no roster: graded as canvas id 12345"]


def test_canvas_loose_files_are_grouped_into_one_hand_in(tmp_path):
    down = tmp_path / "down"
    _write(down / "doejane_12345_1_forward.py", "x = 2")
    _write(down / "doejane_12345_1_ddpm.ipynb", "{}")
    _write(down / "doejane_12345_1_ddpm.zip", HANDIN)
    _write(down / "doejane_12345_1_report.docx", "doc")
    (down / "doejane_12345_1_evil.py").symlink_to("/etc/passwd")
    col = lms.collect(down, workdir=tmp_path / "work")
    assert [e.student_id for e in col.entries] == ["12345"]
    entry = col.entries[0]
    assert entry.path.startswith(str(tmp_path / "work")) and os.path.isdir(entry.path)
    files = sorted(os.path.relpath(os.path.join(d, f), entry.path) for d, _, fs in os.walk(entry.path) for f in fs)
    assert files == ["ddpm.ipynb", "ddpm/ddpm/ddpm.ipynb", "ddpm/ddpm/helpers/forward.py", "forward.py"]
    assert "not graded: report.docx" in entry.notes and "4 files grouped into one hand-in" in entry.notes
    assert col.skipped == [("doejane_12345_1_evil.py", "symbolic link: not followed")]
    sub = submission.read(entry.path, entry.student_id)
    assert sub.helpers["forward.py"] == b"x = 1" and set(sub.files) >= {"forward.py", "ddpm/ddpm/helpers/forward.py"}


def test_moodle_folders_and_flat_files(tmp_path):
    down = tmp_path / "down"
    _write(down / "Jane Doe_501_assignsubmission_file_" / "ddpm.zip", HANDIN)
    _write(down / "Jane Doe_501_assignsubmission_file_" / "report.pdf", "%PDF")
    _write(down / "Bob Smith_502_assignsubmission_file_" / "helpers" / "forward.py")
    _write(down / "Carl Ray_503_assignsubmission_file_forward.py", "x = 3")
    _write(down / "Carl Ray_503_assignsubmission_file_ddpm.ipynb", "{}")
    _write(down / "Dana Lee_504_assignsubmission_file_" / "a.zip", HANDIN)
    _write(down / "Dana Lee_504_assignsubmission_file_" / "losses.py", "y = 1")
    (down / "Eve Nil_505_assignsubmission_file_").mkdir()
    roster = _roster(student_id=["s1", "s2"], moodle_id=["501", "503"])
    col = lms.collect(down, roster, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["502", "504", "505", "s1", "s2"] and col.layouts == {"moodle"}
    assert ids["s1"].path == str(down / "Jane Doe_501_assignsubmission_file_" / "ddpm.zip")
    assert ids["s1"].notes == ["not graded: report.pdf"]
    assert ids["502"].path == str(down / "Bob Smith_502_assignsubmission_file_")
    assert ids["502"].notes == ["moodle participant id 502 not in the roster: graded as 502"]
    assert sorted(os.listdir(ids["s2"].path)) == ["ddpm.ipynb", "forward.py"]
    assert sorted(os.listdir(ids["504"].path)) == ["a", "losses.py"]
    assert col.skipped == [] and ids["505"].path == str(down / "Eve Nil_505_assignsubmission_file_")  # an empty hand-in
    assert submission.read(ids["s2"].path, "s2").helpers["forward.py"] == b"x = 3"


METADATA = """---
submission_111:
  :submitters:
  - :name: Jane Doe
    :sid: '1001'
    :email: jane@example.edu
  :created_at: 2024-05-01 12:34:56.789012000 -07:00
  :score: 10.0
  :history:
  - :created_at: 2024-04-01 00:00:00.000000000 -07:00
    :score: 1.0
submission_222:
  :submitters:
  - :name: Bob Smith
    :sid: '2002'
    :email: Bob@Example.edu
  - :name: Carl Ray
    :sid: '3003'
    :email: carl@example.edu
  :created_at: 2024-05-02 08:00:00.000000000 -07:00
submission_333:
  :submitters:
  - :name: Jane Doe
    :sid: '1001'
    :email: jane@example.edu
  :created_at: 2024-04-30 09:00:00.000000000 -07:00
"""


def _gradescope(down):
    _write(down / "submission_metadata.yml", METADATA)
    _write(down / "submission_111" / "helpers" / "forward.py")
    _write(down / "submission_222" / "ddpm.zip", HANDIN)
    _write(down / "submission_333" / "helpers" / "forward.py")
    _write(down / "submission_444" / "helpers" / "forward.py")


def test_gradescope_metadata_ids_times_and_groups(tmp_path):
    down = tmp_path / "export"
    _gradescope(down / "assignment_9_export")  # the export's own top folder is looked through
    roster = _roster(student_id=["s1", "s2", "s3"], gradescope_sid=["1001", "", ""], email=["", "bob@example.edu", ""])
    col = lms.collect(down, roster, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["3003", "s1", "s2", "submission_444"] and col.layouts == {"gradescope"}
    top = down / "assignment_9_export"
    assert ids["s1"].path == str(top / "submission_111")
    assert ids["s1"].submitted_at == dt.datetime(2024, 5, 1, 12, 34, 56, 789012, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    assert ids["s1"].time_source == "gradescope metadata" and ids["s1"].original_name == "submission_111"
    assert ids["s2"].path == ids["3003"].path == str(top / "submission_222" / "ddpm.zip")
    assert ids["s2"].notes == ["group submission with Carl Ray"]
    assert ids["3003"].notes == ["gradescope sid 3003 not in the roster: graded as 3003", "group submission with Bob Smith"]
    assert ids["submission_444"].notes == ["submission_444 not in submission_metadata.yml: graded as submission_444"]
    assert ids["submission_444"].time_source == "file time"
    assert sorted(col.skipped) == [
        ("assignment_9_export/", "the download's top folder: its contents were collected"),
        ("submission_333", "older submission of s1"),
        ("submission_metadata.yml", "Gradescope metadata: read for ids and times, not graded"),
    ]
    assert col.missing() == ["s3"]


def test_gradescope_metadata_with_ruby_tags_is_read_as_plain_values(tmp_path):
    """Ruby may tag a value (``!ruby/object:...``): the safe loader reads what it holds, and builds nothing."""
    tagged = METADATA.replace("  :score: 10.0\n", "  :score: !ruby/object:BigDecimal 18:0.1E2\n", 1)
    tagged = tagged.replace("submission_222:\n", "submission_222: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n", 1)
    assert tagged != METADATA and "!ruby/hash" in tagged
    down = tmp_path / "export"
    _gradescope(down)
    _write(down / "submission_metadata.yml", tagged)
    roster = _roster(student_id=["s1", "s2"], gradescope_sid=["1001", ""], email=["", "bob@example.edu"])
    ids = _ids(lms.collect(down, roster, workdir=tmp_path / "work"))
    assert sorted(ids) == ["3003", "s1", "s2", "submission_444"]
    assert ids["s1"].time_source == "gradescope metadata" and ids["s2"].notes == ["group submission with Carl Ray"]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("submission_111: [unclosed\n", "not readable as YAML ("),
        ("!!python/object/apply:os.system ['touch pwned']\n", "not a mapping of submissions"),  # a list: nothing run
        ("- a list\n", "not a mapping of submissions"),
        ("[" * 100_000, "not readable as YAML ("),
    ],
    ids=["bad-yaml", "python-tag", "not-a-mapping", "nested-too-deep"],
)
def test_gradescope_metadata_that_cannot_be_read_is_said_and_grading_goes_on(tmp_path, text, problem):
    down = tmp_path / "export"
    _gradescope(down)
    _write(down / "submission_metadata.yml", text)
    col = lms.collect(down, workdir=tmp_path / "work")
    ids = _ids(col)
    assert sorted(ids) == ["submission_111", "submission_222", "submission_333", "submission_444"]
    assert col.layouts == {"gradescope"} and not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
    for entry in col.entries:  # every row says why it is graded under its folder's name
        (note,) = entry.notes
        assert note.startswith(f"submission_metadata.yml {problem}") and note.endswith(f": graded as {entry.student_id}"), note
    (skipped,) = [reason for name, reason in col.skipped if name == "submission_metadata.yml"]
    assert skipped.startswith("Gradescope metadata: ") and "graded by folder name" in skipped, skipped


def test_bulk_download_zip_member_times_and_hostile_names(tmp_path):
    bulk = tmp_path / "submissions.zip"
    with zipfile.ZipFile(bulk, "w") as archive:
        archive.writestr(zipfile.ZipInfo("doejane_12345_1_ddpm.zip", (2024, 5, 1, 12, 0, 0)), HANDIN)
        archive.writestr(zipfile.ZipInfo("smithbob_LATE_222_2_ddpm.zip", (2024, 5, 3, 9, 30, 0)), HANDIN)
        archive.writestr(zipfile.ZipInfo("roster.csv", (2024, 5, 3, 9, 30, 0)), "student_id\n")
        archive.writestr("../evil_12345_1_x.py", "evil = 1")
        archive.writestr("/abs_12345_1_x.py", "evil = 2")
        archive.writestr("C:/win_12345_1_x.py", "evil = 3")
        archive.writestr("sub/../../evil2.py", "evil = 4")
        link = zipfile.ZipInfo("link_12345_1_x.py")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("bad\nname_1_2_x.py", "evil = 5")
    work = tmp_path / "work"
    col = lms.collect(bulk, workdir=work, timezone=PLUS2)
    ids = _ids(col)
    assert sorted(ids) == ["12345", "222"] and col.layouts == {"canvas"}
    assert ids["12345"].submitted_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=PLUS2)
    assert ids["12345"].time_source == "zip member time" and ids["222"].notes[0] == "Canvas marked it LATE"
    assert ids["12345"].path.startswith(str(work)) and ids["12345"].path.endswith("doejane_12345_1_ddpm.zip")
    assert sorted(col.skipped) == [
        ("../evil_12345_1_x.py", "path outside the zip: not extracted"),
        ("/abs_12345_1_x.py", "absolute path in the zip: not extracted"),
        ("C:/win_12345_1_x.py", "absolute path in the zip: not extracted"),
        ("bad\nname_1_2_x.py", "control characters in the name: not extracted"),
        ("link_12345_1_x.py", "symbolic link in the zip: not extracted"),
        ("roster.csv", "csv file: not a hand-in"),
        ("sub/../../evil2.py", "path outside the zip: not extracted"),
    ]
    written = [os.path.join(d, f) for d, ds, fs in os.walk(tmp_path) for f in fs + ds]
    assert not any("evil" in p or "abs_" in p or "win_" in p or "link_" in p for p in written)
    assert not any(os.path.islink(p) for p in written)
    assert sorted(os.listdir(tmp_path)) == ["submissions.zip", "work"]
    assert submission.read(ids["222"].path, "222").helpers["forward.py"] == b"x = 1"


def test_mixed_layouts_each_name_on_its_own_and_newest_wins(tmp_path):
    down = tmp_path / "down"
    early, late = dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 9, tzinfo=UTC)
    _write(down / "alice" / "helpers" / "forward.py", when=early)
    _write(down / "doejane_12345_1_ddpm.zip", HANDIN, when=late)
    _write(down / "Jane Doe_501_assignsubmission_file_" / "ddpm.zip", HANDIN, when=early)
    _write(down / "bob smith.zip", HANDIN)
    roster = _roster(student_id=["alice", "jane"], canvas_id=["", "12345"], moodle_id=["", "501"])
    col = lms.collect(down, roster, workdir=tmp_path / "work")
    ids = _ids(col)
    assert col.layouts == {"plain", "canvas", "moodle"}
    assert sorted(ids) == ["alice", "bob_smith", "jane"]
    assert ids["jane"].lms == "canvas" and ids["jane"].submitted_at == late
    assert ids["bob_smith"].notes == [
        "student id 'bob smith' is not a plain id: graded as 'bob_smith'",
        "bob_smith is not in the roster",
    ]
    assert col.skipped == [("Jane Doe_501_assignsubmission_file_", "older submission of jane")]
    assert ids["alice"].notes == [] and ids["alice"].submitted_at == early


def test_zip_inside_a_zip_is_read_one_level_down(tmp_path):
    outer = tmp_path / "alice.zip"
    outer.write_bytes(_zip_bytes({"alice/ddpm.zip": HANDIN, "__MACOSX/._ddpm.zip": "junk"}))
    sub = submission.read(str(outer), "alice")
    assert sub.helpers["forward.py"] == b"x = 1" and "zip inside a zip: graded its contents" in sub.flags
    two = tmp_path / "two.zip"
    two.write_bytes(_zip_bytes({"a.zip": HANDIN, "b.zip": HANDIN}))
    sub = submission.read(str(two), "two")
    assert "forward.py" not in sub.helpers
    assert "2 zips inside the zip and nothing else to grade: none of them read" in sub.flags
    deep = tmp_path / "deep.zip"
    deep.write_bytes(_zip_bytes({"mid.zip": _zip_bytes({"inner.zip": HANDIN})}))
    sub = submission.read(str(deep), "deep")
    assert "forward.py" not in sub.helpers and "zip inside a zip: graded its contents" in sub.flags
    mixed = tmp_path / "mixed.zip"
    mixed.write_bytes(_zip_bytes({"helpers/forward.py": "x = 9", "old.zip": HANDIN}))
    sub = submission.read(str(mixed), "mixed")
    assert sub.helpers["forward.py"] == b"x = 9" and "zip inside a zip: graded its contents" not in sub.flags


def test_without_workdir_a_temporary_one_is_made_and_reported(tmp_path):
    down = tmp_path / "down"
    _write(down / "doejane_12345_1_forward.py", "x = 4")
    _write(down / "doejane_12345_1_zipped.zip", _zip_bytes({"inner/ddpm.zip": HANDIN}))
    col = lms.collect(down)
    try:
        entry = col.entries[0]
        assert col.workdir and entry.path.startswith(col.workdir) and not col.workdir.startswith(str(tmp_path))
        assert sorted(os.listdir(entry.path)) == ["forward.py", "zipped"]
        assert os.path.isfile(os.path.join(entry.path, "zipped", "ddpm", "helpers", "forward.py"))
        assert "zipped.zip: zip inside a zip: unpacked its contents" in entry.notes
        alone = lms.collect(tmp_path / "down", workdir=tmp_path / "w")
        assert _ids(alone)["12345"].path.startswith(str(tmp_path / "w"))
        (down / "doejane_12345_1_forward.py").unlink()
        single = lms.collect(down, workdir=tmp_path / "w2")
        path = _ids(single)["12345"].path
        assert path == str(down / "doejane_12345_1_zipped.zip")
        sub = submission.read(path, "12345")
        assert sub.helpers["forward.py"] == b"x = 1" and "zip inside a zip: graded its contents" in sub.flags
    finally:
        import shutil

        shutil.rmtree(col.workdir)
