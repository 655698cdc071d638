# nbgrader configuration of the DDPM course (nbgrader 0.9.6).
#
# `python -m autograder grade` copies this file into the course directory it builds
# (autograder/course/ by default) and appends `c.CourseDirectory.root = ...`, so nbgrader's
# own commands work there: `cd autograder/course && nbgrader autograde ddpm --student ID`.
# Each setting below answers a documented nbgrader behaviour (see the comments).

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "ddpm"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".git", "outputs"]

# `python -m autograder grade` never runs `nbgrader autograde`: student code runs only in the
# bubblewrap sandbox, and the grader writes the autograded notebooks and gradebook scores itself.
# The settings below matter if an instructor runs nbgrader's own commands on this course.

# Kept from the student if anyone autogrades by hand: their exercise modules (not the stubs).
c.Autograde.exclude_overwriting = {
    "ddpm": [
        "helpers/schedules.py",
        "helpers/forward.py",
        "helpers/losses.py",
        "helpers/posterior.py",
        "helpers/unet.py",
        "helpers/sampling.py",
        "helpers/posterior.py",
        "helpers/likelihood.py",
        "helpers/ddim.py",
        "helpers/guidance.py",
    ]
}

# A deleted test cell is put back (and graded) instead of being silently skipped.
c.OverwriteCells.add_missing_cells = True

# A test cell with anything on stderr scores 0 (a torch UserWarning, a tqdm bar): drop all
# stderr stream output of test cells. Failures still show: they are `error` outputs.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Feedback HTML: outputs sanitized (no script, event handler or javascript: link survives),
# and never hidden tests (the grading notebook has none: they run in the sandbox).
c.HTMLExporter.sanitize_html = True
c.ClearHiddenTests.enforce_metadata = True
