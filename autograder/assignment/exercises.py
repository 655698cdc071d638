# ruff: noqa: E501 - mutants are one-line text replacements
"""The course's exercises, in one table. Everything about grading derives from it.

One ``Exercise`` per graded exercise: its id (the top-level function or class around its solution
region), the module and notebook it lives in, its points, whether it is extra credit, its hidden-test
tasks (inputs, the reference call, the sandbox call) and parts (units of credit, sharing the
exercise's points by weight), and its mutants (known mistakes that ``validate`` proves the hidden
tests catch). From this table come: the nbgrader metadata of the notebooks' check cells
(``python -m autograder helpers`` writes the points there), the hidden tests' task and part lists,
the sandbox calls, the mutants list, ``max_total`` and the bonus columns of ``grades.csv``, and the
tests' exercise lists.

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

from autograder.assignment.hidden_tests import ddim, forward, guidance, likelihood, losses, posterior, sampling, schedules, unet
from autograder.assignment.hidden_tests.common import Arrays, Part, PartCheck, Task, all_cases_check
from autograder.assignment.hidden_tests.functions import class_task, function_task  # noqa: F401 - scaffolded entries use them
from autograder.sandbox.box import calls as C
from autograder.sandbox.box.standins import SCHEDULE_ATTRS


@dataclass(frozen=True)
class Mutant:
    """A known mistake: the text ``old`` of a solution region replaced by ``new`` (``count`` times; 0: all).
    ``pitfall`` names the contract §5 pitfall it stands for (None: another mistake found while writing
    the tests). Listed under its exercise below, which fills in ``exercise`` and ``module``."""

    id: str
    exercise: str
    module: str
    old: str
    new: str
    pitfall: str | None = None
    count: int = 1


def M(id: str, old: str, new: str, pitfall: str | None = None, count: int = 1) -> Mutant:  # noqa: A002, N802
    """A mutant of the exercise it is listed under."""
    return Mutant(id, "", "", old, new, pitfall, count)


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
    mutants: tuple[Mutant, ...] = ()
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
        mutants=(
            M('cosine_grid_off_by_one', 't = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)', 't = torch.linspace(1, timesteps + 1, timesteps + 1, dtype=torch.float64)', 'off-by-one between schedule index and paper step'),
            M('cosine_clip_002', 'betas = torch.clamp(betas, max=max_beta)', 'betas = torch.clamp(betas, max=0.02)', 'cosine betas clipped at 0.02'),
            M('cosine_is_short_linear', 'betas = torch.clamp(betas, max=max_beta)', 'betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)', 'a short linear schedule whose abar_T is far from 0'),
            M('cosine_float32', 'alphas_cumprod = f / f[0]', 'alphas_cumprod = (f / f[0]).float().half().double()'),
            M('cosine_no_clip', 'betas = torch.clamp(betas, max=max_beta)', 'betas = betas'),
        ),
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
        mutants=(
            M('recip_alpha_no_sqrt_schedule', 'self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)', 'self.sqrt_recip_alphas = 1.0 / self.alphas', '1/alpha_t instead of 1/sqrt(alpha_t)'),
            M('schedule_alphas_not_cumprod', 'self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)', 'self.sqrt_alphas_cumprod = torch.sqrt(self.alphas)', 'alphas instead of alphas_cumprod'),
            M('prev_not_one', 'F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)', 'F.pad(self.alphas_cumprod[:-1], (1, 0), value=0.0)', 'alphas_cumprod_prev not starting at 1.0'),
            M('prev_repeats_first', 'F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)', 'torch.cat([self.alphas_cumprod[:1], self.alphas_cumprod[:-1]])', 'alphas_cumprod_prev not starting at 1.0'),
            M('alphas_cumsum', 'torch.cumprod(self.alphas, dim=0)', '1 - torch.cumsum(betas, dim=0)'),
            M('posterior_no_prev', 'self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)', 'self.posterior_variance = betas * (1.0 - self.alphas_cumprod) / (1.0 - self.alphas_cumprod)'),
        ),
    ),
    Exercise(
        "extract", "schedules", "01", points=1,
        tasks=(T("extract", schedules.make_extract, schedules.ref_extract, call=C.returns(C.call("extract", C.tensor("a"), C.tensor("t"), C.shape("x_shape")))),),
        parts=(P("a[t] shaped (B, 1, ..., 1)", "extract"),),
        mutants=(
            M('extract_off_by_one', 'out = a[t.to(a.device)]', 'out = a[(t - 1).to(a.device)]', 'off-by-one between schedule index and paper step'),
            M('extract_flat', 'return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)', 'return out.to(t.device)'),
            M('extract_rank4', 'return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)', 'return out.reshape(t.shape[0], 1, 1, 1).to(t.device)'),
        ),
    ),
    Exercise(
        "q_sample", "forward", "02", points=2,
        tasks=(T("q_sample", forward.make_q_sample, forward.ref_q_sample, deps=("extract",),
                call=C.returns(C.call("q_sample", C.schedule(), C.tensor("x_0"), C.tensor("t"), noise=C.tensor("noise")))),),
        parts=(P("eq. 4", "q_sample"),),
        mutants=(
            M('q_sample_variance_not_std', 'sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)', 'sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)', '(1-abar) instead of sqrt(1-abar) in q_sample'),
            M('q_sample_alphas_not_cumprod', 'sqrt_alphas_cumprod_t = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)', 'sqrt_alphas_cumprod_t = torch.sqrt(extract(schedule.alphas, t, x_0.shape))', 'alphas instead of alphas_cumprod'),
            M('q_sample_ignores_noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * torch.randn_like(x_0)'),
        ),
    ),
    Exercise(
        "p_losses", "losses", "03", points=2,
        tasks=(T("p_losses", losses.make_p_losses, losses.ref_p_losses, deps=("q_sample",),
                call=C.returns(C.call("p_losses", C.standin("StandInModel", C.size("x_0", 1)), C.schedule(), C.tensor("x_0"), C.tensor("t"),
                                      noise=C.tensor("noise"), loss_type=C.text("loss_type")))),),
        parts=(
            P("l2 loss on the predicted noise", "p_losses", all_cases_check(select=_sel({"l2"}))),
            P("l1 and huber losses", "p_losses", all_cases_check(select=_sel({"l1", "huber"}))),
        ),
        mutants=(
            M('losses_target_x0', 'return F.mse_loss(predicted_noise, noise)', 'return F.mse_loss(predicted_noise, x_0)'),
            M('losses_per_image_sum', 'return F.mse_loss(predicted_noise, noise)', 'return F.mse_loss(predicted_noise, noise, reduction="none").flatten(1).sum(1).mean()'),
            M('losses_clean_input', 'predicted_noise = model(x_noisy, t)', 'predicted_noise = model(x_0, t)'),
            M('losses_l1_l2_swapped', 'F.l1_loss(predicted_noise, noise)', 'F.mse_loss(predicted_noise, noise)'),
            M('losses_fresh_noise', 'x_noisy = q_sample(schedule, x_0, t, noise=noise)', 'x_noisy = q_sample(schedule, x_0, t)'),
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
        mutants=(
            M('posterior_abar_t_in_mean', 'coef_x0 = torch.sqrt(abar_prev) * beta_t', 'coef_x0 = torch.sqrt(abar_t) * beta_t'),
            M('posterior_abar_prev_no_sqrt', 'coef_x0 = torch.sqrt(abar_prev) * beta_t', 'coef_x0 = abar_prev * beta_t'),
            M('posterior_alpha_no_sqrt', 'coef_xt = torch.sqrt(alpha_t) *', 'coef_xt = alpha_t *'),
            M('posterior_abar_t_in_xt_coef', 'coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_prev)', 'coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_t)'),
            M('posterior_coefs_swapped', 'mean = coef_x0 * x_0 + coef_xt * x_t', 'mean = coef_x0 * x_t + coef_xt * x_0'),
            M('posterior_prev_off_by_one', 'abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)', 'abar_prev = extract(schedule.alphas_cumprod, t - 1, x_t.shape)', 'alphas_cumprod_prev not starting at 1.0'),
            M('posterior_variance_beta', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = beta_t'),
            M('posterior_variance_std', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = torch.sqrt(beta_t * (1.0 - abar_prev) / (1.0 - abar_t))'),
            M('posterior_variances_added', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = 1.0 - abar_t'),
        ),
    ),
    Exercise(
        "SinusoidalPositionEmbeddings", "unet", "04", points=2,
        tasks=(T("SinusoidalPositionEmbeddings", unet.make_embeddings, unet.ref_embeddings,
                call=C.returns(C.call(C.call("SinusoidalPositionEmbeddings", C.integer("dim")), C.tensor("time")))),),
        parts=(P("[sin, cos] embedding", "SinusoidalPositionEmbeddings"),),
        mutants=(
            M('embedding_half_dim', 'scale = math.log(10000) / (half_dim - 1)', 'scale = math.log(10000) / half_dim', 'half_dim instead of half_dim - 1 in the embeddings'),
            M('embedding_cos_sin', 'torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.cat((args.cos(), args.sin()), dim=-1)', 'cos/sin swapped in the embeddings'),
            # valid alternatives the self-check names as such (Vaswani et al.'s layout, and all of Vaswani's): still no credit
            M('embedding_vaswani_interleaved', 'torch.cat((args.sin(), args.cos()), dim=-1)', 'torch.stack((args.sin(), args.cos()), dim=-1).flatten(1)'),
            M('embedding_vaswani', 'scale = math.log(10000) / (half_dim - 1)', 'scale = math.log(10000) / half_dim\n        return torch.stack(((time.float()[:, None] * torch.exp(torch.arange(half_dim, device=time.device) * -scale)[None, :]).sin(), (time.float()[:, None] * torch.exp(torch.arange(half_dim, device=time.device) * -scale)[None, :]).cos()), dim=-1).flatten(1)'),
        ),
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
        mutants=(
            M('groupnorm_input', 'self.norm = nn.GroupNorm(groups, dim_out)', 'self.norm = nn.GroupNorm(groups, dim)', 'GroupNorm over the input instead of the output channels'),
            M('block_relu', 'self.act = nn.SiLU()', 'self.act = nn.ReLU()'),
            M('block_scale_no_plus_one', 'x = x * (scale + 1) + shift', 'x = x * scale + shift'),
            M('block_act_before_norm', '        x = self.proj(x)\n        x = self.norm(x)\n', '        x = self.proj(x)\n        x = self.act(x)\n'),
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
        mutants=(
            M('resnet_no_residual', 'return h + self.res_conv(x)', 'return h'),
            M('resnet_time_after', 'h = self.block1(x, scale_shift=scale_shift)\n        h = self.block2(h)', 'h = self.block1(x)\n        h = self.block2(h, scale_shift=scale_shift)'),
            M('resnet_time_added', 'h = self.block1(x, scale_shift=scale_shift)', 'h = self.block1(x) + (0 if scale_shift is None else scale_shift[0] + scale_shift[1])'),
            M('resnet_scale_shift_swapped', '"b c -> b c 1 1").chunk(2, dim=1)', '"b c -> b c 1 1").chunk(2, dim=1)[::-1]'),
        ),
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
        mutants=(
            M('variance_as_std', 'torch.sqrt(posterior_variance_t) * torch.randn_like', 'posterior_variance_t * torch.randn_like', 'posterior variance used as a standard deviation (missing sqrt)'),
            M('recip_alpha_no_sqrt_p_sample', 'sqrt_recip_alphas_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)', 'sqrt_recip_alphas_t = 1.0 / extract(schedule.alphas, t, x_t.shape)', '1/alpha_t instead of 1/sqrt(alpha_t)'),
            M('noise_at_zero', '    if t_index == 0:\n        return model_mean\n', '', 'noise added at t_index == 0'),
            M('p_sample_eps_sign', '(x_t - betas_t / sqrt_one_minus_alphas_cumprod_t * eps)', '(x_t + betas_t / sqrt_one_minus_alphas_cumprod_t * eps)'),
            M('p_sample_betas_as_var', 'torch.sqrt(posterior_variance_t) * torch.randn_like', 'torch.sqrt(extract(schedule.betas, t, x_t.shape)) * torch.randn_like'),
        ),
    ),
    Exercise(
        "p_sample_loop", "sampling", "05", points=2,
        tasks=(T("p_sample_loop", sampling.make_p_sample_loop, sampling.ref_p_sample_loop, deps=("standin_p_sample",),
                call=C.returns(C.call("p_sample_loop", C.standin("StandInModel", C.integer(("shape", 1))), C.schedule(), C.shape("shape"),
                                      clip_denoised=C.flag("clip"), return_all=C.flag("return_all"), progress=C.const(False),
                                      generator=C.generator(C.integer("seed"))))),),
        parts=(P("loop from T-1 down to 0", "p_sample_loop"),),
        mutants=(
            M('p_sample_loop_off_by_one', 'img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)', 'img = p_sample(model, schedule, img, t, t_index - 1, clip_denoised=clip_denoised)', 'off-by-one between schedule index and paper step'),
            M('loop_drops_clipping', 'img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)', 'img = p_sample(model, schedule, img, t, t_index)', 'sampling a cosine-schedule model without clipping the predicted x0'),
            M('loop_ascending', 'for t_index in steps:', 'for t_index in range(schedule.timesteps):'),
            M('loop_all_without_start', 'imgs = [img.cpu()] if return_all else None', 'imgs = [] if return_all else None'),
        ),
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
        mutants=(
            M('vlb_nats', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.mean(dim=tuple(range(1, kl.ndim)))'),
            M('vlb_sum_dims', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.sum(dim=tuple(range(1, kl.ndim))) / math.log(2.0)'),
            M('vlb_kl_swapped', 'kl = 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0)', 'kl = 0.5 * (torch.log(var_q / var_p) + (var_p + (mean_q - mean_p) ** 2) / var_q - 1.0)'),
            M('vlb_variance_as_std', 'var_p = var_q if variance == "posterior" else betas_t', 'var_p = var_q.sqrt() if variance == "posterior" else betas_t.sqrt()', 'posterior variance used as a standard deviation (missing sqrt)'),
            M('vlb_no_log_term', 'torch.log(var_p / var_q) + ', ''),
            M('vlb_no_half', 'kl = 0.5 * (', 'kl = ('),
            M('vlb_variance_ignored', 'var_p = var_q if variance == "posterior" else betas_t', 'var_p = var_q'),
            M('vlb_model_on_x0', 'eps_theta = model(x_t, t)', 'eps_theta = model(x_0, t)'),
            M('vlb_recip_alpha_no_sqrt', 'mean_p = extract(schedule.sqrt_recip_alphas, t, x_t.shape) *', 'mean_p = 1.0 / extract(schedule.alphas, t, x_t.shape) *', '1/alpha_t instead of 1/sqrt(alpha_t)'),
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
        mutants=(
            M('ddim_no_rederive', '    eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)', '    pass'),
            M('ddim_sigma_no_sqrt', '* torch.sqrt(1.0 - abar / abar_prev)', '* (1.0 - abar / abar_prev)'),
            M('ddim_direction_no_sigma', 'torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0))', 'torch.sqrt(1.0 - abar_prev)'),
            M('ddim_variance_not_std', 'return torch.sqrt(abar_prev) * x0_hat + direction + noise', 'return abar_prev * x0_hat + direction + noise'),
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
        mutants=(
            M('cfg_mask_inverted', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(~drop_mask, null_labels(model, labels), labels)'),
            M('cfg_p_inverted', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < 1 - p_uncond'),
            M('cfg_no_dropout', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = labels'),
            M('cfg_null_is_class_0', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(drop_mask, torch.zeros_like(labels), labels)'),
            M('cfg_fresh_noise', 'x_noisy = q_sample(schedule, x_0, t, noise=noise)', 'x_noisy = q_sample(schedule, x_0, t)'),
            M('cfg_target_x0', 'return F.mse_loss(model(x_noisy, t, labels), noise)', 'return F.mse_loss(model(x_noisy, t, labels), x_0)'),
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
        mutants=(
            M('guidance_sign_flipped', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = (1.0 - w) * eps_cond + w * eps_uncond'),
            M('guidance_w_on_uncond', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_cond + w * eps_uncond'),
            M('guidance_scale_convention', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_uncond + w * (eps_cond - eps_uncond)'),
            M('guidance_uncond_real_label', 'eps_uncond = model(x_t, t, None)', 'eps_uncond = model(x_t, t, labels)'),
            M('guidance_dropout_at_sampling', 'eps_cond = model(x_t, t, labels)', 'eps_cond = model(x_t, t, torch.where(torch.rand(labels.shape[0]) < 0.1, model.num_classes, labels))'),
            M('guidance_conditional_only', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_cond'),
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
MUTANTS = [replace(m, exercise=e.id, module=e.module) for e in TABLE for m in e.mutants]
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
    for kind, ids in (("exercise", EXERCISES), ("task", [t.name for t in TASKS]), ("mutant", [m.id for m in MUTANTS])):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"{kind} ids listed twice: {dupes}")
    return problems
