"""The one-student ``report.json`` that both harness tests (Gradescope, PrairieLearn) convert into results."""


def part(name, points, most, ok, message=""):
    return {"part": name, "points": points, "max": most, "ok": ok, "message": message}


def one_student_report(bonus_points, student=(), **run):
    """A hand-in graded for a harness: ``extract`` passed, half of ``p_sample``, the bonus ``ddim_step`` passed
    (worth ``bonus_points``), one flag. ``student``: more keys of the student's entry; ``run``: of the report."""
    verdicts = {
        "extract": {"points": 1.0, "max": 1.0, "parts": [part("a[t] shaped", 1.0, 1.0, True)]},
        "p_sample": {
            "points": 1.5,
            "max": 3.0,
            "parts": [part("mean", 1.5, 1.5, True), part("noise", 0.0, 1.5, False, "1 of 4 cases fail")],
        },
        "ddim_step": {
            "points": bonus_points,
            "max": bonus_points,
            "parts": [part("deterministic", bonus_points, bonus_points, True)],
        },
    }
    entry = {"student_id": "submission", "verdicts": verdicts, "flags": ["zip submission"], **dict(student)}
    return {"seed": 3, "bonus": ["ddim_step"], **run, "students": [entry]}
