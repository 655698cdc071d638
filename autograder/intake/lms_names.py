"""Whose hand-in an LMS download name is, read from the parts the LMS wrote. Trusted side.

A student chooses some of every name (the original file name, often the display name), so ids come
only from the fixed parts, each layout read by how its LMS builds it:

* Moodle (``mod/assign``, "download all submissions") writes ``<full name>_<participant id>_assignsubmission_<plugin>_``,
  with any underscore of the full name turned into a space, as a folder, or followed by the student's
  own file name for a flat file. A folder is read by that fixed suffix, anchored at the end; a flat
  file by its start, up to the first underscore.
* Canvas (``ContentZipper``) writes ``<name>[_LATE]_<user id>_<attachment id>_<original name>``, the name
  part being the sortable name lowercased, word characters only, with every ``_<digits>_`` run in it
  joined, so that the first two numbers in a row after it are the ids (how Canvas reads its own names
  back when graded files are uploaded). A name part ending in ``_<digits>`` (``eve_222``) makes three
  numbers in a row, which read two ways: both readings are returned, Canvas's own first. With
  anonymous grading Canvas writes ``[LATE_]anon_<anonymous id>_<attachment id>_<original name>``
  (five base58 characters), read as the student ``anon_<anonymous id>``.

Numbers are ASCII digits and stay as written: ``0222`` is not ``222``.
"""

import re
from dataclasses import dataclass

NUMBER = re.compile(r"[0-9]+")  # ASCII: digits of other scripts are never an LMS's id
# a folder: the fixed part ends the name; the display name before it may hold anything
MOODLE_FOLDER = re.compile(r"(?P<name>.+)_(?P<pid>[0-9]+)_assignsubmission_(?P<plugin>[a-z]+)_", re.S)
# a flat file: the fixed part follows a full name without underscores; the student's file name ends it
MOODLE_FILE = re.compile(r"(?P<name>[^_]+)_(?P<pid>[0-9]+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<orig>.+)", re.S)
# Canvas's anonymous id: ``SecureRandom.base58(5)``
CANVAS_ANONYMOUS = re.compile(r"(?P<late>LATE_)?anon_(?P<anon>[1-9A-HJ-NP-Za-km-z]{5})_(?P<subid>[0-9]+)_(?P<orig>.+)", re.S)


@dataclass
class LmsName:
    """One reading of a name an LMS wrote: whose it is (``uid``, as written) and the student's own part."""

    lms: str  # "canvas" or "moodle"
    uid: str
    person: str = ""  # Canvas's name part: a student's files all carry the same one
    orig: str = ""  # the student's file name ("" for a Moodle folder): never read for an id
    subid: int = 0  # Canvas's attachment id: orders one student's files
    late: bool = False


def readings(name: str, is_dir: bool) -> list[LmsName]:
    """The ways ``name`` reads as an LMS's: ``[]`` for neither layout, two for an ambiguous Canvas name.

    A folder is Moodle's when it ends with Moodle's fixed part (Canvas writes only files). A file cannot
    read as both: a Moodle flat file's second part is the participant id, followed by ``assignsubmission``,
    while a Canvas name part holds a number only as its first word or right before ``LATE``, so Canvas's
    two ids would have to sit exactly there (``test_no_file_name_reads_as_both_layouts`` tries them)."""
    if is_dir and (match := MOODLE_FOLDER.fullmatch(name)):
        return [LmsName("moodle", match["pid"])]
    if not is_dir and (match := MOODLE_FILE.fullmatch(name)):
        return [LmsName("moodle", match["pid"], orig=match["orig"])]
    return canvas_readings(name)


def canvas_readings(name: str) -> list[LmsName]:
    """The Canvas readings of a file name (``[]``, one, or two when the name part may end in a number)."""
    if match := CANVAS_ANONYMOUS.fullmatch(name):  # no name part at all: the anonymous id is the student
        return [LmsName("canvas", f"anon_{match['anon']}", "", match["orig"], int(match["subid"]), bool(match["late"]))]
    tokens = name.split("_")
    number = [bool(NUMBER.fullmatch(t)) for t in tokens]
    for i in range(1, len(tokens) - 2):
        if not (number[i] and number[i + 1]):
            continue
        late = tokens[i - 1] == "LATE"
        person = tokens[: i - 1] if late else tokens[:i]
        orig = "_".join(tokens[i + 2 :])
        # the first pair decides: a number inside the name part before it (Canvas joins those), or
        # nothing around the ids, and the name is not Canvas's at all
        if not person or any(number[1 : len(person) - 1]) or not orig:
            return []
        found = [LmsName("canvas", tokens[i], "_".join(person), orig, int(tokens[i + 1]), late)]
        rest = "_".join(tokens[i + 3 :])
        if not late and number[i + 2] and rest:  # the name part may end in tokens[i]
            found.append(LmsName("canvas", tokens[i + 1], "_".join(tokens[: i + 1]), rest, int(tokens[i + 2])))
        return found
    return []
