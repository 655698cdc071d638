# nbgrader configuration of the DDPM course (nbgrader 0.9.6).
#
# `python -m autograder grade` copies this file into the course directory it builds
# (autograder/course/ by default) and appends `c.CourseDirectory.root = ...`, so nbgrader's
# own commands work there: `cd autograder/course && nbgrader autograde ddpm --student ID`.
# Each setting below answers a documented nbgrader behaviour (see the comments).

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "ddpm"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".git", "outputs"]

# autograde copies every non-notebook file of source/ over the submission. Without this,
# each student's helpers/*.py would be replaced by the stubs and everyone would score 0.
# Only the exercise modules are kept from the student; the provided modules (checks.py,
# checks_expected.py, runtime.py, ...) are restored from source/, so a student cannot
# weaken the visible checks by editing them.
c.Autograde.exclude_overwriting = {
    "ddpm": [
        "helpers/schedules.py",
        "helpers/forward.py",
        "helpers/losses.py",
        "helpers/unet.py",
        "helpers/sampling.py",
        "helpers/ddim.py",
    ]
}

# A deleted test cell is put back (and graded) instead of being silently skipped.
c.OverwriteCells.add_missing_cells = True

# A test cell with anything on stderr scores 0 (a torch UserWarning, a tqdm bar): drop all
# stderr stream output of test cells. Failures still show: they are `error` outputs.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"

# Per-cell wall clock: an infinite loop fails its own cell (CellTimeoutError), then the
# kernel is interrupted and the next cells run.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = False

# Feedback never contains hidden tests (the grading notebook has none anyway: hidden tests
# run outside the student's kernel, see autograder/hidden_tests/).
c.ClearHiddenTests.enforce_metadata = True
