# ruff: noqa: E501 - each entry is one line of the table
"""The course's exercises, in one table. Everything about grading derives from it.

One ``Exercise`` per graded exercise: its id (the top-level function or class around its solution
region), the module and notebook it lives in, its points, whether it is extra credit, its hidden-test
tasks (inputs, the reference call, the sandbox call) and parts (units of credit, sharing the
exercise's points by weight). Its known mistakes are in the catalogue (``catalogue/<module>.py``; an
entry scaffolded by ``new-exercise`` may list its own in ``mutants=``). From this table come: the nbgrader
metadata of the notebooks' check cells (``python -m autograder helpers`` writes the points there), the
hidden tests' task and part lists, the sandbox calls, ``MUTANTS`` (the catalogue's entries with their
exercise and module), ``max_total`` and the bonus columns of ``grades.csv``, and the tests' exercise lists.

Adding an exercise: write its solution region in ``solutions/<module>.py`` (in a top-level function, or
in a class's ``__init__``/``forward``), then ``python -m autograder new-exercise NAME --module M --notebook NN``
appends its entry here (graded on random cases built from its signature), a ``check_NAME`` self-check
to ``solutions/checks.py`` and a check cell to the notebook; ``python -m autograder helpers`` and
``validate`` finish the job. Changing points: edit ``points=`` below and run ``python -m autograder helpers``.

Each task's ``call`` is data: a call spec (``autograder/sandbox/box/calls.py``, written with its builders
``C.call``, ``C.tensor``...) that the in-box runner interprets: no exercise has code of its own in the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from autograder.assignment.catalogue import ENTRIES, M, Mistake  # noqa: F401 - M: scaffolded entries list mistakes
from autograder.assignment.hidden_tests import ddim, forward, guidance, likelihood, losses, posterior, sampling, schedules, unet
from autograder.assignment.hidden_tests.common import Arrays, Part, PartCheck, Task, all_cases_check
from autograder.assignment.hidden_tests.functions import class_task, function_task  # noqa: F401 - scaffolded entries use them
from autograder.sandbox.box import calls as C
from autograder.sandbox.box.standins import SCHEDULE_ATTRS

Parts = tuple[tuple[str, str, PartCheck, float], ...]  # (name, task name, check, weight)


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: its id, where it lives, its points, its hidden-test tasks and parts, its mutants."""

    id: str
    module: str  # solutions/<module>.py
    notebook: str  # the two-digit prefix of the notebook that holds its check cell
    points: float
    tasks: tuple[Task, ...]  # one sandbox call each
    parts: Parts  # units of credit
    mutants: tuple[Mistake, ...] = ()  # scaffolded exercises' mistakes; the others' are in the catalogue
    bonus: bool = False  # extra credit: counts in total, not in max_total
    example: dict[str, Any] = field(default_factory=dict)  # the self-check's inputs (scaffolded exercises)


def P(name: str, task: str, check: PartCheck | None = None, weight: float = 1.0) -> tuple[str, str, PartCheck, float]:  # noqa: N802
    """A part: ``check`` (default: every case within tolerance) on the outputs of ``task``."""
    return (name, task, check or all_cases_check(), weight)


def _sel(loss_types: set[str]) -> Callable[[Arrays], bool]:
    return lambda ci: str(ci.get("loss_type")) in loss_types


def T(  # noqa: N802
    name: str,
    make: Callable[..., Arrays],
    reference: Callable[[Arrays], Arrays],
    deps: tuple[str, ...] = (),
    call: dict[str, Any] | None = None,
) -> Task:
    """A task: inputs from ``make(rng)``, references from ``reference(inputs)``, the student called as ``call`` says."""
    return Task(name, "", "", tuple(deps), make, reference, call=call)


# ----------------------------------------------------------------------------- call specs shared by several tasks

BLOCK = C.let(
    "block", C.load_state(C.call("Block", C.integer(("config", 0)), C.integer(("config", 1)), groups=C.integer(("config", 2))))
)


def _reverse_step(function: str, model: dict[str, Any], *args: dict[str, Any], **kwargs: dict[str, Any]) -> dict[str, Any]:
    """``function(model, schedule, x_t, t, *args, **kwargs)`` with ``t`` filled with ``t_index``, after
    ``torch.manual_seed(seed)`` (the noise the student's code draws is the reference's)."""
    return C.spec(
        C.let("x_t", C.tensor("x_t")),
        C.let("t", C.steps_full(C.integer("t_index"), "x_t")),
        C.let("model", model),
        C.seed(C.integer("seed")),
        C.out("out", C.call(function, C.ref("model"), C.schedule(), C.ref("x_t"), C.ref("t"), *args, **kwargs)),
    )


P_LOSSES_CFG = C.spec(
    C.let("model", C.standin("StandInClassModel", C.size("x_0", 1), C.integer("num_classes"))),
    C.let("mask", C.tensor("drop_mask", dtype="bool", optional=True)),
    C.seed(C.integer("seed")),
    C.out("out", C.call("p_losses_cfg", C.ref("model"), C.schedule(), C.tensor("x_0"), C.tensor("t"), C.tensor("labels"),
                        p_uncond=C.number("p_uncond"), noise=C.tensor("noise"), drop_mask=C.ref("mask"))),
    C.out("labels_seen", C.last_call(C.ref("model"))),  # the labels the model saw (the no-class token where dropped)
    C.out("calls", C.call_count(C.ref("model"))),
)  # fmt: skip
MODEL_X_T = C.standin("StandInModel", C.size("x_t", 1))
CLASS_MODEL_X_T = C.standin("StandInClassModel", C.size("x_t", 1), C.integer("num_classes"))


# fmt: off
TABLE = [
    Exercise(
        "cosine_beta_schedule", "schedules", "01", points=2,
        tasks=(T("cosine_beta_schedule", schedules.make_cosine, schedules.ref_cosine,
                call=C.returns(C.call("cosine_beta_schedule", C.integer("T"), s=C.number("s"), max_beta=C.number("max_beta")))),),
        parts=(P("betas of eq. 17, clipped at max_beta", "cosine_beta_schedule"),),
    ),
    Exercise(
        "DiffusionSchedule", "schedules", "01", points=3,
        tasks=(T("DiffusionSchedule", schedules.make_diffusion_schedule, schedules.ref_diffusion_schedule,
                call=C.spec(C.let("schedule", C.call("DiffusionSchedule", C.tensor("betas"))), C.attributes(SCHEDULE_ATTRS, C.ref("schedule")))),),
        parts=(
            P("alphas and alphas_cumprod", "DiffusionSchedule", schedules.schedule_part(("alphas", "alphas_cumprod"), schedules.derive_alphas)),
            P("alphas_cumprod_prev (1.0 first)", "DiffusionSchedule", schedules.schedule_part(("alphas_cumprod_prev",), schedules.derive_prev)),
            P("square-root constants", "DiffusionSchedule",
              schedules.schedule_part(("sqrt_recip_alphas", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod"), schedules.derive_sqrt)),
            P("posterior_variance", "DiffusionSchedule", schedules.schedule_part(("posterior_variance",), schedules.derive_posterior)),
        ),
    ),
    Exercise(
        "extract", "schedules", "01", points=1,
        tasks=(T("extract", schedules.make_extract, schedules.ref_extract, call=C.returns(C.call("extract", C.tensor("a"), C.tensor("t"), C.shape("x_shape")))),),
        parts=(P("a[t] shaped (B, 1, ..., 1)", "extract"),),
    ),
    Exercise(
        "q_sample", "forward", "02", points=2,
        tasks=(T("q_sample", forward.make_q_sample, forward.ref_q_sample, deps=("extract",),
                call=C.spec(C.seed(C.integer("seed")), C.out("out", C.call("q_sample", C.schedule(), C.tensor("x_0"), C.tensor("t"), noise=C.tensor("noise"))))),),
        parts=(P("eq. 4", "q_sample"),),
    ),
    Exercise(
        "p_losses", "losses", "03", points=2,
        tasks=(T("p_losses", losses.make_p_losses, losses.ref_p_losses, deps=("q_sample",),
                call=C.spec(C.let("model", C.standin("StandInModel", C.size("x_0", 1))), C.seed(C.integer("seed")),
                            C.out("out", C.call("p_losses", C.ref("model"), C.schedule(), C.tensor("x_0"), C.tensor("t"),
                                                noise=C.tensor("noise"), loss_type=C.text("loss_type"))))),),
        parts=(
            P("l2 loss on the predicted noise", "p_losses", all_cases_check(select=_sel({"l2"}))),
            P("l1 and huber losses", "p_losses", all_cases_check(select=_sel({"l1", "huber"}))),
        ),
    ),
    Exercise(
        "q_posterior", "posterior", "03", points=2,
        tasks=(T("q_posterior", posterior.make_q_posterior, posterior.ref_q_posterior, deps=("extract",),
                call=C.spec(C.unpack(("mean", "variance"), C.call("q_posterior", C.schedule(), C.tensor("x_0"), C.tensor("x_t"), C.tensor("t"))))),),
        parts=(
            P("posterior mean (eq. 7)", "q_posterior", all_cases_check("mean")),
            P("posterior variance", "q_posterior", all_cases_check("variance")),
        ),
    ),
    Exercise(
        "SinusoidalPositionEmbeddings", "unet", "04", points=2,
        tasks=(T("SinusoidalPositionEmbeddings", unet.make_embeddings, unet.ref_embeddings,
                call=C.returns(C.call(C.call("SinusoidalPositionEmbeddings", C.integer("dim")), C.tensor("time")))),),
        parts=(P("[sin, cos] embedding", "SinusoidalPositionEmbeddings"),),
    ),
    Exercise(
        "Block", "unet", "04", points=2,
        tasks=(
            # __init__ alone: its layers, chained in the documented order
            T("Block.init", unet.make_block, unet.ref_block,
              call=C.spec(BLOCK, C.out("out", C.layers(C.ref("block"), ("proj", "norm", "act"), C.tensor("x"))))),
            T("Block.forward", unet.make_block, unet.ref_block, deps=("Block.__init__",),
              call=C.spec(BLOCK, C.let("x", C.tensor("x")), C.out("out", C.call(C.ref("block"), C.ref("x"))),
                          C.out("out_scale_shift", C.call(C.ref("block"), C.ref("x"), scale_shift=C.pair(C.tensor("scale"), C.tensor("shift")))))),
        ),
        parts=(
            P("__init__: proj, norm, act", "Block.init"),
            P("forward with and without scale_shift", "Block.forward", unet.block_forward_check),
        ),
    ),
    Exercise(
        "ResnetBlock", "unet", "04", points=2,
        tasks=(T("ResnetBlock", unet.make_resnet, unet.ref_resnet, deps=("Block",),
                call=C.spec(
                    C.let("block", C.load_state(C.call("ResnetBlock", C.integer(("config", 0)), C.integer(("config", 1)),
                                                       time_emb_dim=C.or_none(C.integer(("config", 2))), groups=C.integer(("config", 3))))),
                    C.out("out", C.call(C.ref("block"), C.tensor("x"), C.when(C.integer(("config", 4)), C.tensor("time_emb")))),
                )),),
        parts=(P("forward", "ResnetBlock"),),
    ),
    Exercise(
        "p_sample", "sampling", "05", points=3,
        tasks=(
            # q_posterior: the clipping path's posterior mean (provided code) calls it
            T("p_sample.mean", lambda rng: sampling.make_p_sample(rng, True), lambda i: sampling.ref_p_sample(i, False), deps=("extract", "q_posterior"),
              call=_reverse_step("p_sample", MODEL_X_T, C.integer("t_index"), clip_denoised=C.const(False))),
            T("p_sample.noise", lambda rng: sampling.make_p_sample(rng, False), lambda i: sampling.ref_p_sample(i, True), deps=("extract", "q_posterior"),
              call=_reverse_step("p_sample", MODEL_X_T, C.integer("t_index"), clip_denoised=C.const(True))),
        ),
        parts=(
            P("mean of eq. 11", "p_sample.mean"),
            P("noise step (none at t_index 0, sqrt of the posterior variance)", "p_sample.noise"),
        ),
    ),
    Exercise(
        "p_sample_loop", "sampling", "05", points=2,
        tasks=(T("p_sample_loop", sampling.make_p_sample_loop, sampling.ref_p_sample_loop, deps=("standin_p_sample",),
                call=C.returns(C.call("p_sample_loop", C.standin("StandInModel", C.integer(("shape", 1))), C.schedule(), C.shape("shape"),
                                      clip_denoised=C.flag("clip"), return_all=C.flag("return_all"), progress=C.const(False),
                                      generator=C.generator(C.integer("seed"))))),),
        parts=(P("loop from T-1 down to 0", "p_sample_loop"),),
    ),
    Exercise(
        "vlb_term", "likelihood", "05", points=2,
        tasks=(T("vlb_term", likelihood.make_vlb_term, likelihood.ref_vlb_term, deps=("extract", "q_sample", "q_posterior"),
                call=C.returns(C.call("vlb_term", C.standin("StandInModel", C.size("x_0", 1)), C.schedule(), C.tensor("x_0"), C.tensor("t"),
                                      noise=C.tensor("noise"), variance=C.text("variance")))),),
        parts=(
            P("KL with the posterior variance", "vlb_term", all_cases_check(select=lambda ci: str(ci["variance"]) == "posterior")),
            P("KL with the variance beta_t", "vlb_term", all_cases_check(select=lambda ci: str(ci["variance"]) == "beta")),
        ),
    ),
    Exercise(
        "ddim_step", "ddim", "08", points=1, bonus=True,
        tasks=(T("ddim_step", ddim.make_ddim, ddim.ref_ddim, deps=("extract",),
                call=_reverse_step("ddim_step", MODEL_X_T, C.integer("t_prev"), eta=C.number("eta"), clip_denoised=C.flag("clip"))),),
        parts=(
            P("deterministic update (eta = 0), with and without clipping", "ddim_step",
              all_cases_check(select=lambda ci: float(ci["eta"]) == 0)),
            P("stochastic update (eta > 0)", "ddim_step", all_cases_check(select=lambda ci: float(ci["eta"]) > 0)),
        ),
    ),
    Exercise(
        "p_losses_cfg", "guidance", "10", points=1, bonus=True,
        tasks=(
            T("p_losses_cfg.mask", guidance.make_p_losses_cfg_mask, guidance.ref_p_losses_cfg_mask, deps=("q_sample@guidance",), call=P_LOSSES_CFG),
            T("p_losses_cfg.random", guidance.make_p_losses_cfg_random, guidance.ref_p_losses_cfg_random, deps=("q_sample@guidance",), call=P_LOSSES_CFG),
        ),
        parts=(
            P("eps loss with the given drop mask (dropped labels become the no-class token)", "p_losses_cfg.mask"),
            P("labels dropped with probability p_uncond when no mask is given", "p_losses_cfg.random", guidance.label_dropout_check),
        ),
    ),
    Exercise(
        "p_sample_guided", "guidance", "10", points=1, bonus=True,
        tasks=(T("p_sample_guided", guidance.make_p_sample_guided, guidance.ref_p_sample_guided, deps=("p_sample@guidance",),
                call=_reverse_step("p_sample_guided", CLASS_MODEL_X_T, C.integer("t_index"), C.tensor("labels"), C.number("w"),
                                   clip_denoised=C.flag("clip"))),),
        parts=(
            P("w = 0: the conditional model alone", "p_sample_guided", all_cases_check(select=lambda ci: float(ci["w"]) == 0)),
            P("w > 0: (1 + w) eps(c) - w eps(no class)", "p_sample_guided", all_cases_check(select=lambda ci: float(ci["w"]) > 0)),
        ),
    ),
    # new-exercise inserts entries above this line
]
# fmt: on


# ----------------------------------------------------------------------------- what derives from the table

BY_ID = {e.id: e for e in TABLE}
EXERCISES = [e.id for e in TABLE]
BONUS = [e.id for e in TABLE if e.bonus]
REQUIRED = [e.id for e in TABLE if not e.bonus]
POINTS = {e.id: float(e.points) for e in TABLE}
MODULES = list(dict.fromkeys(e.module for e in TABLE))
# each task's call spec names its exercise's module: what the sandbox receives is complete
TASKS = [
    replace(task, exercise=e.id, module=e.module, call={**(task.call or {}), "module": e.module})
    for e in TABLE
    for task in e.tasks
]
TASKS_BY_NAME = {task.name: task for task in TASKS}
PARTS = [Part(e.id, name, weight, task, check) for e in TABLE for name, task, check, weight in e.parts]
# the catalogue's entries (``autograder/assignment/catalogue/``) and those a scaffolded entry lists
MUTANTS = [*ENTRIES, *(replace(m, exercise=e.id, module=e.module) for e in TABLE for m in e.mutants)]
MAX_TOTAL = sum(POINTS[e] for e in REQUIRED)


def check_table() -> list[str]:
    """Problems with the table itself: ids, tasks and parts that do not line up, tasks without a call spec."""
    problems = []
    for e in TABLE:
        names = {task.name for task in e.tasks}
        if not e.parts:
            problems.append(f"{e.id}: no parts")
        problems += [f"{e.id}: task {task.name!r} has no call spec (call=...)" for task in e.tasks if not task.call]
        problems += [f"{e.id}: part {name!r} uses unknown task {task!r}" for name, task, _c, _w in e.parts if task not in names]
        if e.points <= 0:
            problems.append(f"{e.id}: points must be positive, not {e.points}")
    problems += [
        f"mistake {m.id} ({m.exercise}): no sentence for the student (explain=...)" for m in MUTANTS if not m.explain.strip()
    ]
    for kind, ids in (("exercise", EXERCISES), ("task", [t.name for t in TASKS]), ("mutant", [m.id for m in MUTANTS])):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"{kind} ids listed twice: {dupes}")
    return problems
