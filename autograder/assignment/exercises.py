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

Adding an exercise: write its solution region in ``solutions/<module>.py``, then
``python -m autograder new-exercise NAME --module M --notebook NN`` appends its entry here (a
function graded on the inputs of ``cases``), a ``check_NAME`` self-check to ``solutions/checks.py`` and
a check cell to the notebook; ``python -m autograder helpers`` and ``validate`` finish the job.
Changing points: edit ``points=`` below and run ``python -m autograder helpers``.
"""

from dataclasses import dataclass, field, replace

from autograder.assignment import hidden_tests as H
from autograder.assignment.hidden_tests import Part, Task
from autograder.assignment.mutants import Mutant


def M(id, old, new, pitfall=None, count=1):  # noqa: A002 - a mutant of the exercise it is listed under
    return Mutant(id, "", "", old, new, pitfall, count)


@dataclass(frozen=True)
class Exercise:
    id: str
    module: str  # solutions/<module>.py
    notebook: str  # the two-digit prefix of the notebook that holds its check cell
    points: float
    tasks: tuple  # hidden_tests.Task: one sandbox call each
    parts: tuple  # (name, task name, check, weight): units of credit
    mutants: tuple = ()
    bonus: bool = False  # extra credit: counts in total, not in max_total
    example: dict = field(default_factory=dict)  # the self-check's inputs (scaffolded function exercises)


def P(name, task, check=None, weight=1.0):
    return (name, task, check or H.all_cases_check(), weight)


def _sel(loss_types):
    return lambda ci: str(ci.get("loss_type")) in loss_types


def T(name, make, reference, deps=(), call=None):
    return Task(name, "", "", tuple(deps), make, reference, call=call)


# fmt: off
TABLE = [
    Exercise(
        "cosine_beta_schedule", "schedules", "01", points=2,
        tasks=(T("cosine_beta_schedule", H.make_cosine, H.ref_cosine),),
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
        tasks=(T("DiffusionSchedule", H.make_diffusion_schedule, H.ref_diffusion_schedule),),
        parts=(
            P("alphas and alphas_cumprod", "DiffusionSchedule", H.schedule_part(("alphas", "alphas_cumprod"), H.derive_alphas)),
            P("alphas_cumprod_prev (1.0 first)", "DiffusionSchedule", H.schedule_part(("alphas_cumprod_prev",), H.derive_prev)),
            P("square-root constants", "DiffusionSchedule",
              H.schedule_part(("sqrt_recip_alphas", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod"), H.derive_sqrt)),
            P("posterior_variance", "DiffusionSchedule", H.schedule_part(("posterior_variance",), H.derive_posterior)),
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
        tasks=(T("extract", H.make_extract, H.ref_extract),),
        parts=(P("a[t] shaped (B, 1, ..., 1)", "extract"),),
        mutants=(
            M('extract_off_by_one', 'out = a[t.to(a.device)]', 'out = a[(t - 1).to(a.device)]', 'off-by-one between schedule index and paper step'),
            M('extract_flat', 'return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)', 'return out.to(t.device)'),
            M('extract_rank4', 'return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)', 'return out.reshape(t.shape[0], 1, 1, 1).to(t.device)'),
        ),
    ),
    Exercise(
        "q_sample", "forward", "02", points=2,
        tasks=(T("q_sample", H.make_q_sample, H.ref_q_sample, deps=("extract",)),),
        parts=(P("eq. 4", "q_sample"),),
        mutants=(
            M('q_sample_variance_not_std', 'sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)', 'sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)', '(1-abar) instead of sqrt(1-abar) in q_sample'),
            M('q_sample_alphas_not_cumprod', 'sqrt_alphas_cumprod_t = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)', 'sqrt_alphas_cumprod_t = torch.sqrt(extract(schedule.alphas, t, x_0.shape))', 'alphas instead of alphas_cumprod'),
            M('q_sample_ignores_noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * torch.randn_like(x_0)'),
        ),
    ),
    Exercise(
        "p_losses", "losses", "03", points=2,
        tasks=(T("p_losses", H.make_p_losses, H.ref_p_losses, deps=("q_sample",)),),
        parts=(
            P("l2 loss on the predicted noise", "p_losses", H.all_cases_check(select=_sel({"l2"}))),
            P("l1 and huber losses", "p_losses", H.all_cases_check(select=_sel({"l1", "huber"}))),
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
        tasks=(T("q_posterior", H.make_q_posterior, H.ref_q_posterior, deps=("extract",)),),
        parts=(
            P("posterior mean (eq. 7)", "q_posterior", H.all_cases_check("mean")),
            P("posterior variance", "q_posterior", H.all_cases_check("variance")),
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
        tasks=(T("SinusoidalPositionEmbeddings", H.make_embeddings, H.ref_embeddings),),
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
            T("Block.init", H.make_block, H.ref_block),
            T("Block.forward", H.make_block, H.ref_block, deps=("Block.__init__",)),
        ),
        parts=(
            P("__init__: proj, norm, act", "Block.init"),
            P("forward with and without scale_shift", "Block.forward", H.block_forward_check),
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
        tasks=(T("ResnetBlock", H.make_resnet, H.ref_resnet, deps=("Block",)),),
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
            T("p_sample.mean", lambda rng: H.make_p_sample(rng, True), lambda i: H.ref_p_sample(i, False), deps=("extract", "q_posterior")),
            T("p_sample.noise", lambda rng: H.make_p_sample(rng, False), lambda i: H.ref_p_sample(i, True), deps=("extract", "q_posterior")),
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
        tasks=(T("p_sample_loop", H.make_p_sample_loop, H.ref_p_sample_loop, deps=("standin_p_sample",)),),
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
        tasks=(T("vlb_term", H.make_vlb_term, H.ref_vlb_term, deps=("extract", "q_sample", "q_posterior")),),
        parts=(
            P("KL with the posterior variance", "vlb_term", H.all_cases_check(select=lambda ci: str(ci["variance"]) == "posterior")),
            P("KL with the variance beta_t", "vlb_term", H.all_cases_check(select=lambda ci: str(ci["variance"]) == "beta")),
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
        tasks=(T("ddim_step", H.make_ddim, H.ref_ddim, deps=("extract",)),),
        parts=(
            P("deterministic update (eta = 0), with and without clipping", "ddim_step",
              H.all_cases_check(select=lambda ci: float(ci["eta"]) == 0)),
            P("stochastic update (eta > 0)", "ddim_step", H.all_cases_check(select=lambda ci: float(ci["eta"]) > 0)),
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
            T("p_losses_cfg.mask", H.make_p_losses_cfg_mask, H.ref_p_losses_cfg_mask, deps=("q_sample@guidance",)),
            T("p_losses_cfg.random", H.make_p_losses_cfg_random, H.ref_p_losses_cfg_random, deps=("q_sample@guidance",)),
        ),
        parts=(
            P("eps loss with the given drop mask (dropped labels become the no-class token)", "p_losses_cfg.mask"),
            P("labels dropped with probability p_uncond when no mask is given", "p_losses_cfg.random", H.label_dropout_check),
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
        tasks=(T("p_sample_guided", H.make_p_sample_guided, H.ref_p_sample_guided, deps=("p_sample@guidance",)),),
        parts=(
            P("w = 0: the conditional model alone", "p_sample_guided", H.all_cases_check(select=lambda ci: float(ci["w"]) == 0)),
            P("w > 0: (1 + w) eps(c) - w eps(no class)", "p_sample_guided", H.all_cases_check(select=lambda ci: float(ci["w"]) > 0)),
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
TASKS = [replace(task, exercise=e.id, module=e.module) for e in TABLE for task in e.tasks]
TASKS_BY_NAME = {task.name: task for task in TASKS}
PARTS = [Part(e.id, name, weight, task, check) for e in TABLE for name, task, check, weight in e.parts]
MUTANTS = [replace(m, exercise=e.id, module=e.module) for e in TABLE for m in e.mutants]
MAX_TOTAL = sum(POINTS[e] for e in REQUIRED)


def check_table():
    """Problems with the table itself: ids, tasks and parts that do not line up."""
    problems = []
    for e in TABLE:
        names = {task.name for task in e.tasks}
        if not e.parts:
            problems.append(f"{e.id}: no parts")
        problems += [f"{e.id}: part {name!r} uses unknown task {task!r}" for name, task, _c, _w in e.parts if task not in names]
        if e.points <= 0:
            problems.append(f"{e.id}: points must be positive, not {e.points}")
    for kind, ids in (("exercise", EXERCISES), ("task", [t.name for t in TASKS]), ("mutant", [m.id for m in MUTANTS])):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"{kind} ids listed twice: {dupes}")
    return problems
