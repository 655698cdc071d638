"""What an instructor's grading run gives each student and the gradebook (issue 19): the feedback a
student reads states the total of grades.csv, the late penalty and every override with its reason;
overrides.csv refuses what it cannot mean; a notebooks-only hand-in is said once; nbgrader's records
agree with grades.csv, one gradebook per class folder. The journey "Semester to feedback" runs them
all from an LMS download to the Canvas export."""

import pytest

from autograder import classbook, exercises


def _overrides(tmp_path, lines):
    path = tmp_path / "overrides.csv"
    path.write_text("student_id,exercise,points,reason\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_an_override_above_the_exercise_maximum_is_refused(tmp_path):
    path = _overrides(tmp_path, ["ada,extract,1,fine", "bob,extract,5,generous"])
    with pytest.raises(classbook.OverridesError) as error:
        classbook.load_overrides(path, exercises.POINTS)
    said = str(error.value)
    assert str(path) in said and "line 3" in said and "extract" in said and "maximum is 1" in said


def test_an_unquoted_comma_in_a_reason_is_refused_with_how_to_quote(tmp_path):
    path = _overrides(tmp_path, ["ada,extract,0.5,copied, from bob"])
    with pytest.raises(classbook.OverridesError, match=r"line 2: 5 fields .* must be quoted"):
        classbook.load_overrides(path, exercises.POINTS)
    path = _overrides(tmp_path, ['ada,extract,0.5,"copied, from bob"'])
    assert classbook.load_overrides(path, exercises.POINTS) == {"ada": {"extract": (0.5, "copied, from bob")}}
