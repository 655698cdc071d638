"""Named everywhere (issue 21): a class whose hand-ins carry the mistakes of the issue's table, graded with
the README's command. Each mistake is named, by the catalogue's sentence, in the hidden tests' verdict of
report.json, the student's feedback page, Gradescope's and PrairieLearn's results; a float64 result says so;
a wrong q_sample is reported once, where it is: the self-checks of the exercises that call it say "fix
q_sample first" while the hidden tests give those exercises full marks.

Each hand-in carries at most one mistake per exercise (grading is isolated per exercise), and none in an
exercise another of its mistakes calls, so every self-check sees its own mistake."""

import html as htmllib
import json
import re

import pytest

from autograder.assignment import exercises, mutants
from autograder.authoring import stubs
from autograder.harnesses import gradescope_runtime, prairielearn

from .test_diagnosis import SAME_OUTPUTS  # entries whose outputs are identical on every input
from .test_semester import SOLUTION_MODULES, _cli

# the table: caught but not named, named wrongly, not caught (one hand-in per column of mistakes)
HAND_INS = {
    "rows-a": ("losses_t_plus_one", "block_shift_only", "p_sample_no_noise_at_1", "vlb_log_sign", "ddim_eta_missing",
               "cfg_null_is_last_class", "guidance_weights_swapped"),
    "rows-b": ("losses_fresh_noise", "block_relu", "vlb_log10", "ddim_no_rederive", "cfg_mask_ignored",
               "guidance_uncond_added"),
    "rows-c": ("vlb_times_ln2", "ddim_direction_no_sigma", "cfg_first_labels_dropped"),
    "rows-d": ("vlb_batch_mean", "ddim_sigma_no_sqrt"),
    "rows-e": ("vlb_variance_as_std", "ddim_noise_variance"),
    "rows-f": ("ddim_eta_ignored",),
    "rows-g": ("ddim_beta_for_jump",),
    "rows-h": ("ddim_direction_sigma_not_squared",),
    "noise": ("q_sample_ignores_noise",),  # and the exercises that call q_sample are right
}  # fmt: skip
# a float64 result from these exercises: (module, the reference's return text, exercise)
FLOAT64 = (
    ("forward", "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise", "q_sample"),
    ("schedules", "return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)", "extract"),
    ("unet", "return torch.cat((args.sin(), args.cos()), dim=-1)", "SinusoidalPositionEmbeddings"),
    ("losses", "return F.mse_loss(predicted_noise, noise)", "p_losses"),
    ("posterior", "return mean, variance", "q_posterior"),
    ("likelihood", "return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)", "vlb_term"),
)


def _entry(entry_id):
    return next(m for m in exercises.MUTANTS if m.id == entry_id)


def _hand_in(folder, edit):
    (folder / "helpers").mkdir(parents=True)
    for name in SOLUTION_MODULES:
        (folder / "helpers" / name).write_text(edit(name[:-3], (stubs.SOLUTIONS / name).read_text()))


def _with_mistakes(ids):
    def edit(module, text):
        for entry in map(_entry, ids):
            text = mutants.apply(entry, text) if entry.module == module else text
        return text

    return edit


def _float64(module, text):
    for where, old, _exercise in FLOAT64:
        if where == module:
            assert old in text, (module, old)
            body = old[len("return ") :]
            new = "return tuple(v.double() for v in (mean, variance))" if where == "posterior" else f"return ({body}).double()"
            text = text.replace(old, new, 1)
    return text


def _seen(page):
    text = re.sub(r"<[^>]+>", " ", page)
    return " ".join(htmllib.unescape(text).split())


def _one_student(report, student):
    return {**{k: v for k, v in report.items() if k != "students"}, "students": [student]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("named")
    subs, out = tmp / "subs", tmp / "grading"
    for sid, ids in HAND_INS.items():
        _hand_in(subs / sid, _with_mistakes(ids))
    _hand_in(subs / "float64", _float64)
    done = _cli("grade", subs, "--out", out, "--seed", 11, "--no-nbgrader", "--jobs", 2)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    return out, report, {s["student_id"]: s for s in report["students"]}


@pytest.mark.slow
@pytest.mark.parametrize("sid", sorted(HAND_INS))
def test_each_mistake_is_named_in_report_feedback_and_harnesses(graded, sid):
    out, report, students = graded
    student = students[sid]
    page = _seen((out / "feedback" / f"{sid}.html").read_text())
    gradescope = json.dumps(gradescope_runtime.convert(_one_student(report, student), "visible"))
    pl = json.dumps(prairielearn.convert(_one_student(report, student)))
    for entry in map(_entry, HAND_INS[sid]):
        expected = _entry(SAME_OUTPUTS.get(entry.id, entry.id))
        parts = student["verdicts"][entry.exercise]["parts"]
        failed = [p for p in parts if not p["ok"]]
        assert failed, (sid, entry.id, "not caught")
        named = [p["mistake"]["id"] for p in failed if p.get("mistake")]
        assert expected.id in named, (sid, entry.id, [p["message"] for p in failed])
        assert expected.explain in page, (sid, entry.id)
        assert json.dumps(expected.explain)[1:-1] in gradescope and json.dumps(expected.explain)[1:-1] in pl, entry.id
        others = {e: v for e, v in student["verdicts"].items() if e not in {m.exercise for m in map(_entry, HAND_INS[sid])}}
        assert all(v["points"] == v["max"] for v in others.values()), (sid, others.keys())


@pytest.mark.slow
def test_mistakes_named_wrongly_before_are_not_any_more(graded):
    out, _report, students = graded
    swapped = _seen((out / "feedback" / "rows-a.html").read_text())
    assert "two estimates are swapped" in swapped and "other convention" not in swapped
    for sid in ("rows-a", "rows-b"):  # the null token K - 1, an ignored drop_mask
        page = _seen((out / "feedback" / f"{sid}.html").read_text())
        assert "No label was dropped" not in page, sid


@pytest.mark.slow
def test_self_checks_rerun_by_the_grader_name_the_mistake(graded):
    _out, _report, students = graded
    for sid, ids in HAND_INS.items():
        for entry in map(_entry, ids):
            ok, message = students[sid]["checks"][entry.exercise]
            assert not ok and "largest difference" not in message, (sid, entry.id, message)


@pytest.mark.slow
def test_a_wrong_q_sample_is_reported_once_where_it_is(graded):
    out, _report, students = graded
    noise = students["noise"]
    for caller in ("p_losses", "vlb_term", "p_losses_cfg"):
        ok, message = noise["checks"][caller]
        assert not ok and f"{caller} calls your q_sample, which fails its own check" in message, message
        verdict = noise["verdicts"][caller]
        assert verdict["points"] == verdict["max"]  # the hidden tests patch the reference q_sample in
    assert "fix q_sample first" in _seen((out / "feedback" / "noise.html").read_text())


@pytest.mark.slow
def test_a_float64_result_is_named_in_the_feedback(graded):
    out, _report, students = graded
    page = _seen((out / "feedback" / "float64.html").read_text())
    for _module, _old, exercise in FLOAT64:
        verdict = students["float64"]["verdicts"][exercise]
        assert verdict["points"] < verdict["max"], exercise
        assert any("torch.float64 where every input is float32" in p["message"] for p in verdict["parts"]), exercise
    assert page.count("torch.float64 where every input is float32") >= len(FLOAT64)
