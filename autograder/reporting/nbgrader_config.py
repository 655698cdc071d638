# nbgrader configuration of the DDPM course (nbgrader 0.9.6).
#
# `python -m autograder grade` copies this file into the course directory it builds
# (DIR/nbgrader of the class folder by default) and appends `c.CourseDirectory.root = ...`, so
# nbgrader's own commands work there: `cd DIR/nbgrader && nbgrader export`.
# Each setting below answers a documented nbgrader behaviour (see the comments).

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "ddpm"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".git", "outputs"]

# `python -m autograder grade` never runs `nbgrader autograde`: student code runs only in the
# bubblewrap sandbox, and the grader writes the autograded notebooks and gradebook scores itself.
# nbgrader's autograde (the command, or Formgrader's "Autograde" button) would run a submission
# in a kernel outside the sandbox, as the instructor: refused here. Its exporter is made before
# autograde removes or copies anything (nbgrader 0.9.6, BaseConverter.start), so a refused run
# leaves the autograded notebooks, the gradebook and the feedback as `grade` left them.
from nbconvert.exporters import NotebookExporter  # noqa: E402 - nbgrader loads this file as a script
from nbgrader.converters.base import NbGraderException  # noqa: E402


class RefuseToAutograde(NotebookExporter):  # raises where Autograde.start() makes its exporter
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        message = (
            "this course is graded by `python -m autograder grade`, which runs student code only in its "
            "sandbox: nbgrader autograde is turned off here (grade again with the autograder; manual "
            "grading and `nbgrader generate_feedback` work as usual)"
        )
        self.log.error(message)
        raise NbGraderException(message)


c.Autograde.exporter_class = RefuseToAutograde

# The settings below would only matter to an autograde run with the refusal removed. Even then it
# finds no student code: `grade` stores the hand-in's modules as helpers/<name>.py.txt and its check
# cells as markdown (autograder/reporting/gradebook.py), so these modules are missing and the checks fail.
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
