# ruff: noqa: E501 - tables of one-line source edits
"""The contract's §5 pitfalls (and a few other classic mistakes), made by each student in their own code.

``PITFALLS[variant]`` lists :class:`Pitfall` s: a source edit (``old`` -> ``new``, exact text) of one
file the student wrote (``schedules.py``, ``unet.py``, ..., or ``mymath.py`` of ``own_module``),
in that student's style, and the exercise that must lose points for it. ``apply(variant, pitfall,
dest)`` builds the student's ``helpers/`` (:func:`tests.student_styles.build`) and makes the edit
there. An anchor that does not occur exactly once raises :class:`PitfallError`, so an edited
student solution can never silently turn a mutant into a no-op.

Every mutant still imports and runs: the mistakes give wrong numbers, not exceptions (except the
§5 GroupNorm one, which fails exactly where a student's would: when ``dim`` does not fit ``groups``).
"""

from dataclasses import dataclass
from pathlib import Path

from . import HERE, VARIANTS, build

# ---------------------------------------------------------------- the names of the contract §5 pitfalls
VARIANCE_AS_STD = "posterior variance used as a standard deviation (missing sqrt)"
RECIP_ALPHA = "1/alpha_t instead of 1/sqrt(alpha_t)"
Q_VARIANCE = "(1-abar) instead of sqrt(1-abar) in q_sample"
ALPHAS_NOT_CUMPROD = "alphas instead of alphas_cumprod"
PREV_NOT_ONE = "alphas_cumprod_prev not starting at 1.0"
OFF_BY_ONE = "off-by-one between schedule index and paper step"
CLIP_002 = "cosine betas clipped at 0.02"
HALF_DIM = "half_dim instead of half_dim - 1 in the embeddings"
COS_SIN = "cos/sin swapped in the embeddings"
GROUPNORM_INPUT = "GroupNorm over the input instead of the output channels"
NOISE_AT_ZERO = "noise added at t_index == 0"
NO_CLIPPING = "sampling a cosine-schedule model without clipping the predicted x0"
SHORT_LINEAR = "a short linear schedule whose abar_T is far from 0"
FILM_SWAPPED = "FiLM scale and shift swapped"
FILM_BLOCK2 = "FiLM scale and shift given to block2 instead of block1"

CONTRACT_PITFALLS = (
    VARIANCE_AS_STD,
    RECIP_ALPHA,
    Q_VARIANCE,
    ALPHAS_NOT_CUMPROD,
    PREV_NOT_ONE,
    OFF_BY_ONE,
    CLIP_002,
    HALF_DIM,
    COS_SIN,
    GROUPNORM_INPUT,
    NOISE_AT_ZERO,
    NO_CLIPPING,
    SHORT_LINEAR,
)


class PitfallError(ValueError):
    """A pitfall's anchor text is not in the student's file exactly once (the table is stale)."""


@dataclass(frozen=True)
class Pitfall:
    id: str  # unique within its variant
    exercise: str  # an id of ``autograder.assignment.exercises.EXERCISES`` that must lose points
    file: str  # the student's file that is edited, e.g. "sampling.py"
    old: str  # exact text of the student's code, present exactly once
    new: str
    pitfall: str  # what the mistake is (one of CONTRACT_PITFALLS, or another classic mistake)


P = Pitfall
_NO_SKIP = ("    if t_index == 0:\n        return model_mean\n", "")  # p_sample without the early return

PITFALLS = {
    "literal_float32": [
        P("film_swapped", "ResnetBlock", "unet.py", "scale, shift = time_emb.chunk(2, dim=1)", "shift, scale = time_emb.chunk(2, dim=1)", FILM_SWAPPED),
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "betas = torch.clamp(betas, max=max_beta)", "betas = torch.clamp(betas, max=0.02)", CLIP_002),
        P("cosine_short_linear", "cosine_beta_schedule", "schedules.py", "betas = torch.clamp(betas, max=max_beta)", "betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)", SHORT_LINEAR),
        P("cosine_grid_from_1", "cosine_beta_schedule", "schedules.py", "steps = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)", "steps = torch.linspace(1, timesteps + 1, timesteps + 1, dtype=torch.float64)", OFF_BY_ONE),
        P("schedule_recip_alpha", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)", "self.sqrt_recip_alphas = 1.0 / self.alphas", RECIP_ALPHA),
        P("schedule_prev_zero", "DiffusionSchedule", "schedules.py", "F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)", "F.pad(self.alphas_cumprod[:-1], (1, 0), value=0.0)", PREV_NOT_ONE),
        P("extract_t_minus_1", "extract", "schedules.py", "out = a[t.to(a.device)]", "out = a[(t - 1).to(a.device)]", OFF_BY_ONE),
        P("q_sample_variance", "q_sample", "forward.py", "sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)", "sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)", Q_VARIANCE),
        P("loss_l1_is_mse", "p_losses", "losses.py", "loss = F.l1_loss(noise, predicted_noise)", "loss = F.mse_loss(noise, predicted_noise)", "l1 loss computed as mse"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "embeddings = math.log(10000) / (half_dim - 1)", "embeddings = math.log(10000) / half_dim", HALF_DIM),
        P("embedding_cos_sin", "SinusoidalPositionEmbeddings", "unet.py", "torch.cat((embeddings.sin(), embeddings.cos()), dim=-1)", "torch.cat((embeddings.cos(), embeddings.sin()), dim=-1)", COS_SIN),
        P("block_groupnorm_input", "Block", "unet.py", "self.norm = nn.GroupNorm(groups, dim_out)", "self.norm = nn.GroupNorm(groups, dim)", GROUPNORM_INPUT),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "return model_mean + torch.sqrt(posterior_variance_t) * noise", "return model_mean + posterior_variance_t * noise", VARIANCE_AS_STD),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", *_NO_SKIP, NOISE_AT_ZERO),
        P("p_sample_recip_alpha", "p_sample", "sampling.py", "sqrt_recip_alphas_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)", "sqrt_recip_alphas_t = 1.0 / extract(schedule.alphas, t, x_t.shape)", RECIP_ALPHA),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "torch.full((b,), i, device=device, dtype=torch.long), i, clip_denoised)", "torch.full((b,), i, device=device, dtype=torch.long), i)", NO_CLIPPING),
        P("ddim_sigma_no_sqrt", "ddim_step", "ddim.py", "* torch.sqrt(1 - abar / abar_prev)", "* (1 - abar / abar_prev)", "DDIM sigma: a variance ratio without its sqrt"),
    ],
    "float64": [
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "torch.minimum(betas, torch.tensor(max_beta, dtype=torch.float64))", "torch.minimum(betas, torch.tensor(0.02, dtype=torch.float64))", CLIP_002),
        P("cosine_short_linear", "cosine_beta_schedule", "schedules.py", "betas = torch.minimum(betas, torch.tensor(max_beta, dtype=torch.float64))", "betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)", SHORT_LINEAR),
        P("cosine_grid_from_1", "cosine_beta_schedule", "schedules.py", "x = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps", "x = torch.arange(1, timesteps + 2, dtype=torch.float64) / timesteps", OFF_BY_ONE),
        P("schedule_prev_repeats_first", "DiffusionSchedule", "schedules.py", "abar_prev = torch.cat([torch.ones(1, dtype=torch.float64, device=b.device), abar[:-1]])", "abar_prev = torch.cat([abar[:1], abar[:-1]])", PREV_NOT_ONE),
        P("schedule_sqrt_alphas", "DiffusionSchedule", "schedules.py", "self.sqrt_alphas_cumprod = torch.sqrt(abar).to(dtype)", "self.sqrt_alphas_cumprod = torch.sqrt(alphas).to(dtype)", ALPHAS_NOT_CUMPROD),
        P("q_sample_variance", "q_sample", "forward.py", "(1.0 - abar).sqrt() * noise.double()", "(1.0 - abar) * noise.double()", Q_VARIANCE),
        P("loss_target_x0", "p_losses", "losses.py", "diff = eps.double() - noise.double()", "diff = eps.double() - x_0.double()", "loss against x_0 instead of the noise"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "freqs = torch.exp(-math.log(10000.0) * i / (half_dim - 1))", "freqs = torch.exp(-math.log(10000.0) * i / half_dim)", HALF_DIM),
        P("block_scale_no_plus_one", "Block", "unet.py", "x.double() * (1.0 + scale.double()) + shift.double()", "x.double() * scale.double() + shift.double()", "scale_shift as x * scale + shift (no + 1)"),
        P("resnet_no_residual", "ResnetBlock", "unet.py", "return (h.double() + self.res_conv(x).double()).to(h.dtype)", "return h", "residual connection dropped"),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "torch.sqrt(var) * z.double()", "var * z.double()", VARIANCE_AS_STD),
        P("p_sample_recip_alpha", "p_sample", "sampling.py", "* eps.double()) / torch.sqrt(alpha)", "* eps.double()) / alpha", RECIP_ALPHA),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", *_NO_SKIP, NOISE_AT_ZERO),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)", "img = p_sample(model, schedule, img, t, t_index)", NO_CLIPPING),
        P("ddim_direction_no_sigma", "ddim_step", "ddim.py", "torch.sqrt(1.0 - ap - sigma**2) * e", "torch.sqrt(1.0 - ap) * e", "DDIM direction term without - sigma^2"),
    ],
    "einops": [
        P("film_interleaved", "ResnetBlock", "unet.py", '"b (two c) -> two b c 1 1"', '"b (c two) -> two b c 1 1"', "FiLM: scale and shift taken interleaved, not as the two halves"),
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "betas = (1 - ratios).clip(max=max_beta)", "betas = (1 - ratios).clip(max=0.02)", CLIP_002),
        P("schedule_recip_alpha", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = self.alphas**-0.5", "self.sqrt_recip_alphas = self.alphas**-1", RECIP_ALPHA),
        P("schedule_prev_zero", "DiffusionSchedule", "schedules.py", "one = torch.ones(1, dtype=betas.dtype, device=betas.device)", "one = torch.zeros(1, dtype=betas.dtype, device=betas.device)", PREV_NOT_ONE),
        P("extract_t_minus_1", "extract", "schedules.py", "picked = a[t.to(a.device)].to(t.device)", "picked = a[(t - 1).to(a.device)].to(t.device)", OFF_BY_ONE),
        P("q_sample_alphas", "q_sample", "forward.py", "signal = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)", "signal = extract(schedule.alphas, t, x_0.shape) ** 0.5", ALPHAS_NOT_CUMPROD),
        P("loss_sum_per_image", "p_losses", "losses.py", 'reduce(per_element, "b ... -> b", "mean")', 'reduce(per_element, "b ... -> b", "sum")', "loss summed over pixels instead of averaged"),
        P("embedding_cos_sin", "SinusoidalPositionEmbeddings", "unet.py", "torch.stack((args.sin(), args.cos()))", "torch.stack((args.cos(), args.sin()))", COS_SIN),
        P("embedding_interleaved", "SinusoidalPositionEmbeddings", "unet.py", 'rearrange(both, "two b d -> b (two d)")', 'rearrange(both, "two b d -> b (d two)")', "sin and cos interleaved instead of concatenated"),
        P("block_groupnorm_input", "Block", "unet.py", "self.norm = nn.GroupNorm(groups, dim_out)", "self.norm = nn.GroupNorm(groups, dim)", GROUPNORM_INPUT),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", *_NO_SKIP, NOISE_AT_ZERO),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "sigma = extract(schedule.posterior_variance, t, x_t.shape).sqrt()", "sigma = extract(schedule.posterior_variance, t, x_t.shape)", VARIANCE_AS_STD),
        P("loop_skips_index_0", "p_sample_loop", "sampling.py", "tqdm(reversed(range(schedule.timesteps))", "tqdm(reversed(range(1, schedule.timesteps))", OFF_BY_ONE),
        P("ddim_x0_variance", "ddim_step", "ddim.py", "x0_hat = (x_t - rearrange((1 - a).sqrt(), expand) * eps)", "x0_hat = (x_t - rearrange(1 - a, expand) * eps)", "x0_hat with (1-abar) instead of sqrt(1-abar)"),
    ],
    "gather": [
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "min(1 - abar[i + 1] / abar[i], max_beta)", "min(1 - abar[i + 1] / abar[i], 0.02)", CLIP_002),
        P("cosine_short_linear", "cosine_beta_schedule", "schedules.py", "betas = [min(1 - abar[i + 1] / abar[i], max_beta) for i in range(timesteps)]", "betas = [1e-4 + (0.02 - 1e-4) * i / max(timesteps - 1, 1) for i in range(timesteps)]", SHORT_LINEAR),
        P("cosine_steps_from_1", "cosine_beta_schedule", "schedules.py", "abar = [f(step) / f(0) for step in range(timesteps + 1)]", "abar = [f(step + 1) / f(1) for step in range(timesteps + 1)]", OFF_BY_ONE),
        P("schedule_sqrt_alphas", "DiffusionSchedule", "schedules.py", "self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)", "self.sqrt_alphas_cumprod = torch.sqrt(self.alphas)", ALPHAS_NOT_CUMPROD),
        P("schedule_prev_repeats_first", "DiffusionSchedule", "schedules.py", "F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)", "torch.cat([self.alphas_cumprod[:1], self.alphas_cumprod[:-1]])", PREV_NOT_ONE),
        P("q_sample_variance", "q_sample", "forward.py", "std = schedule.sqrt_one_minus_alphas_cumprod.gather(0, idx).to(x_0.device)", "std = (1 - schedule.alphas_cumprod.gather(0, idx)).to(x_0.device)", Q_VARIANCE),
        P("loss_l1_l2_swapped", "p_losses", "losses.py", '{"l1": F.l1_loss, "l2": F.mse_loss, "huber": F.huber_loss}', '{"l1": F.mse_loss, "l2": F.l1_loss, "huber": F.huber_loss}', "l1 and l2 losses swapped"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "torch.linspace(0.0, -math.log(10000.0), half_dim, device=time.device)", "torch.linspace(0.0, -math.log(10000.0), half_dim + 1, device=time.device)[:-1]", HALF_DIM),
        P("block_scale_no_plus_one", "Block", "unet.py", "x = torch.addcmul(shift, x, scale + 1)", "x = torch.addcmul(shift, x, scale)", "scale_shift as x * scale + shift (no + 1)"),
        P("p_sample_recip_alpha", "p_sample", "sampling.py", "recip = schedule.sqrt_recip_alphas.gather(0, t).view(view)", "recip = (1.0 / schedule.alphas.gather(0, t)).view(view)", RECIP_ALPHA),
        P("p_sample_mask_everywhere", "p_sample", "sampling.py", "nonzero_mask = (t != 0).float()", "nonzero_mask = (t >= 0).float()", NOISE_AT_ZERO),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "sigma = extract(schedule.posterior_variance, t, x_t.shape).sqrt()", "sigma = extract(schedule.posterior_variance, t, x_t.shape)", VARIANCE_AS_STD),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)", "img = p_sample(model, schedule, img, t, t_index)", NO_CLIPPING),
        P("ddim_direction_no_sigma", "ddim_step", "ddim.py", "torch.sqrt(1 - abar_prev - sigma.pow(2)) * eps", "torch.sqrt(1 - abar_prev) * eps", "DDIM direction term without - sigma^2"),
    ],
    "where": [
        P("film_ignored", "ResnetBlock", "unet.py", "h = self.block1(x, scale_shift=film)", "h = self.block1(x)", "time embedding computed but not used"),
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "betas = torch.where(betas > max_beta, torch.full_like(betas, max_beta), betas)", "betas = torch.where(betas > 0.02, torch.full_like(betas, 0.02), betas)", CLIP_002),
        P("cosine_clip_mask_inverted", "cosine_beta_schedule", "schedules.py", "torch.where(betas > max_beta,", "torch.where(betas < max_beta,", "clipping mask inverted in torch.where"),
        P("schedule_prev_wraps_around", "DiffusionSchedule", "schedules.py", "self.alphas_cumprod_prev = torch.where(first, torch.ones_like(rolled), rolled)", "self.alphas_cumprod_prev = rolled", PREV_NOT_ONE),
        P("schedule_recip_alpha", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = torch.sqrt(1 / self.alphas)", "self.sqrt_recip_alphas = 1 / self.alphas", RECIP_ALPHA),
        P("q_sample_variance", "q_sample", "forward.py", "sqrt_one_minus_abar = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)", "sqrt_one_minus_abar = 1 - extract(schedule.alphas_cumprod, t, x_0.shape)", Q_VARIANCE),
        P("huber_branches_swapped", "p_losses", "losses.py", "torch.where(abs_diff < 1.0, 0.5 * diff * diff, abs_diff - 0.5)", "torch.where(abs_diff < 1.0, abs_diff - 0.5, 0.5 * diff * diff)", "huber loss with its two branches swapped"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "dtype=torch.float32) / (half_dim - 1)", "dtype=torch.float32) / half_dim", HALF_DIM),
        P("embedding_cos_sin", "SinusoidalPositionEmbeddings", "unet.py", "torch.cat([torch.sin(args), torch.cos(args)], dim=-1)", "torch.cat([torch.cos(args), torch.sin(args)], dim=-1)", COS_SIN),
        P("block_groupnorm_input", "Block", "unet.py", "self.norm = nn.GroupNorm(groups, dim_out)", "self.norm = nn.GroupNorm(groups, dim)", GROUPNORM_INPUT),
        P("p_sample_no_where", "p_sample", "sampling.py", "return torch.where(last, model_mean, model_mean + sigma * z)", "return model_mean + sigma * z", NOISE_AT_ZERO),
        P("p_sample_last_is_step_1", "p_sample", "sampling.py", "last = (t == 0)", "last = (t == 1)", OFF_BY_ONE),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "sigma = torch.sqrt(torch.clip(extract(schedule.posterior_variance, t, x_t.shape), min=0.0))", "sigma = torch.clip(extract(schedule.posterior_variance, t, x_t.shape), min=0.0)", VARIANCE_AS_STD),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "img = p_sample(model, schedule, img, t, t_index, clip_denoised)", "img = p_sample(model, schedule, img, t, t_index)", NO_CLIPPING),
        P("ddim_rederive_mask_inverted", "ddim_step", "ddim.py", "eps = torch.where(changed,", "eps = torch.where(~changed,", "DDIM eps re-derived only where the clamp changed nothing"),
    ],
    "inplace": [
        P("film_in_block2", "ResnetBlock", "unet.py", "h = self.block1(x, scale_shift)\n        h = self.block2(h)", "h = self.block1(x)\n        h = self.block2(h, scale_shift)", FILM_BLOCK2),
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "betas.neg_().add_(1.0).clamp_(max=max_beta)", "betas.neg_().add_(1.0).clamp_(max=0.02)", CLIP_002),
        P("cosine_grid_from_1", "cosine_beta_schedule", "schedules.py", "f = torch.arange(timesteps + 1, dtype=torch.float64)", "f = torch.arange(1, timesteps + 2, dtype=torch.float64)", OFF_BY_ONE),
        P("schedule_prev_first_abar", "DiffusionSchedule", "schedules.py", "self.alphas_cumprod_prev[0] = 1.0", "self.alphas_cumprod_prev[0] = self.alphas_cumprod[0]", PREV_NOT_ONE),
        P("schedule_alphas_overwritten", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = self.alphas.sqrt().reciprocal_()", "self.sqrt_recip_alphas = self.alphas.sqrt_().reciprocal_()", "in-place op on a kept tensor (alphas overwritten)"),
        P("extract_t_minus_1", "extract", "schedules.py", "out = a[t.to(a.device)].to(t.device)", "out = a[t.to(a.device) - 1].to(t.device)", OFF_BY_ONE),
        P("q_sample_alphas", "q_sample", "forward.py", "x_t = x_0 * extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)", "x_t = x_0 * extract(schedule.alphas, t, x_0.shape).sqrt_()", ALPHAS_NOT_CUMPROD),
        P("loss_l1_is_mse", "p_losses", "losses.py", "return diff.abs_().mean()", "return diff.pow_(2).mean()", "l1 loss computed as mse"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "freqs.mul_(-math.log(10000) / (half_dim - 1)).exp_()", "freqs.mul_(-math.log(10000) / half_dim).exp_()", HALF_DIM),
        P("embedding_cos_sin", "SinusoidalPositionEmbeddings", "unet.py", "torch.sin(args, out=out[:, :half_dim])\n        torch.cos(args, out=out[:, half_dim:])", "torch.sin(args, out=out[:, half_dim:])\n        torch.cos(args, out=out[:, :half_dim])", COS_SIN),
        P("block_scale_no_plus_one", "Block", "unet.py", "x.mul_(scale + 1).add_(shift)", "x.mul_(scale).add_(shift)", "scale_shift as x * scale + shift (no + 1)"),
        P("resnet_no_residual", "ResnetBlock", "unet.py", "        h += self.res_conv(x)\n", "", "residual connection dropped"),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "noise.mul_(extract(schedule.posterior_variance, t, x_t.shape).sqrt_())", "noise.mul_(extract(schedule.posterior_variance, t, x_t.shape))", VARIANCE_AS_STD),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", *_NO_SKIP, NOISE_AT_ZERO),
        P("p_sample_recip_alpha", "p_sample", "sampling.py", ".mul_(extract(schedule.sqrt_recip_alphas, t, x_t.shape))", ".div_(extract(schedule.alphas, t, x_t.shape))", RECIP_ALPHA),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "t.fill_(t_index).clone(), t_index, clip_denoised=clip_denoised)", "t.fill_(t_index).clone(), t_index)", NO_CLIPPING),
        P("ddim_sigma_no_sqrt", "ddim_step", "ddim.py", ".mul_((1 - abar / abar_prev).sqrt_())", ".mul_(1 - abar / abar_prev)", "DDIM sigma: a variance ratio without its sqrt"),
    ],
    "sqrt_product": [
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "a_min=None, a_max=max_beta)", "a_min=None, a_max=0.02)", CLIP_002),
        P("cosine_short_linear", "cosine_beta_schedule", "schedules.py", "betas = np.clip(1 - alphas_cumprod[1:] / alphas_cumprod[:-1], a_min=None, a_max=max_beta)", "betas = np.linspace(1e-4, 0.02, timesteps)", SHORT_LINEAR),
        P("schedule_log_sum_not_cumsum", "DiffusionSchedule", "schedules.py", "torch.exp(torch.cumsum(torch.log1p(-betas), dim=0))", "torch.exp(torch.log1p(-betas))", ALPHAS_NOT_CUMPROD),
        P("schedule_recip_alpha", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = torch.rsqrt(self.alphas)", "self.sqrt_recip_alphas = torch.reciprocal(self.alphas)", RECIP_ALPHA),
        P("schedule_one_minus_no_sqrt", "DiffusionSchedule", "schedules.py", "(-torch.expm1(torch.log(self.alphas_cumprod))).pow(0.5)", "(-torch.expm1(torch.log(self.alphas_cumprod)))", "(1-abar) instead of sqrt(1-abar) in the schedule"),
        P("schedule_posterior_abar_t", "DiffusionSchedule", "schedules.py", "1 / (1 / (1 - self.alphas_cumprod_prev) + self.alphas / betas)", "1 / (1 / (1 - self.alphas_cumprod) + self.alphas / betas)", OFF_BY_ONE),
        P("q_sample_variance", "q_sample", "forward.py", "(1 - abar).pow(0.5) * noise", "(1 - abar) * noise", Q_VARIANCE),
        P("huber_per_image", "p_losses", "losses.py", 'reduction="sum") / noise.numel()', 'reduction="sum") / noise.shape[0]', "huber loss averaged per image instead of per element"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "freqs = 1 / 10000 ** (i / (half_dim - 1))", "freqs = 1 / 10000 ** (i / half_dim)", HALF_DIM),
        P("embedding_interleaved", "SinusoidalPositionEmbeddings", "unet.py", "torch.stack((torch.sin(args), torch.cos(args)), dim=1)", "torch.stack((torch.sin(args), torch.cos(args)), dim=2)", "sin and cos interleaved instead of concatenated"),
        P("block_scale_no_plus_one", "Block", "unet.py", "x = x + x * scale + shift", "x = x * scale + shift", "scale_shift as x * scale + shift (no + 1)"),
        P("resnet_no_residual", "ResnetBlock", "unet.py", "return self.res_conv(x) + self.block2(out)", "return self.block2(out)", "residual connection dropped"),
        P("p_sample_recip_alpha", "p_sample", "sampling.py", "model_mean = torch.rsqrt(alpha) * x_t - beta * torch.rsqrt(alpha * (1 - abar)) * eps", "model_mean = (x_t - beta * torch.rsqrt(1 - abar) * eps) / alpha", RECIP_ALPHA),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "std = extract(schedule.posterior_variance, t, x_t.shape).pow(0.5)", "std = extract(schedule.posterior_variance, t, x_t.shape)", VARIANCE_AS_STD),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", *_NO_SKIP, NOISE_AT_ZERO),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)", "img = p_sample(model, schedule, img, t, t_index)", NO_CLIPPING),
        P("ddim_sigma_is_variance", "ddim_step", "ddim.py", "sigma = eta * torch.sqrt((1 - abar_prev) * (abar_prev - abar) / ((1 - abar) * abar_prev))", "sigma = eta * (1 - abar_prev) * (abar_prev - abar) / ((1 - abar) * abar_prev)", "DDIM sigma: a variance used as a standard deviation"),
    ],
    "posterior_route": [
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "return betas.clamp(max=max_beta).to(torch.float32)", "return betas.clamp(max=0.02).to(torch.float32)", CLIP_002),
        P("cosine_log_not_squared", "cosine_beta_schedule", "schedules.py", "log_f = 2 * torch.log(", "log_f = torch.log(", "cos instead of cos^2 in the cosine schedule's f(t)"),
        P("cosine_divides_by_points", "cosine_beta_schedule", "schedules.py", "torch.cos((t / timesteps + s)", "torch.cos((t / (timesteps + 1) + s)", OFF_BY_ONE),
        P("schedule_prev_not_shifted", "DiffusionSchedule", "schedules.py", "alphas_cumprod_prev = F.pad(alphas_cumprod, (1, -1), value=1.0)", "alphas_cumprod_prev = F.pad(alphas_cumprod, (0, 0), value=1.0)", PREV_NOT_ONE),
        P("schedule_recip_alpha", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = alphas.rsqrt()", "self.sqrt_recip_alphas = alphas.reciprocal()", RECIP_ALPHA),
        P("extract_t_minus_1", "extract", "schedules.py", "return a.to(t.device)[t].view(", "return a.to(t.device)[t - 1].view(", OFF_BY_ONE),
        P("q_sample_variance", "q_sample", "forward.py", "torch.addcmul(signal, extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape), noise)", "torch.addcmul(signal, 1 - extract(schedule.alphas_cumprod, t, x_0.shape), noise)", Q_VARIANCE),
        P("loss_target_x0", "p_losses", "losses.py", 'return F.mse_loss(eps_theta, noise, reduction="mean")', 'return F.mse_loss(eps_theta, x_0, reduction="mean")', "loss against x_0 instead of the noise"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet.py", "torch.logspace(0.0, -4.0, steps=half_dim, base=10.0, device=time.device)", "torch.logspace(0.0, -4.0, steps=half_dim + 1, base=10.0, device=time.device)[:-1]", HALF_DIM),
        P("embedding_cos_sin", "SinusoidalPositionEmbeddings", "unet.py", "torch.cat((torch.sin(args), torch.cos(args)), dim=1)", "torch.cat((torch.cos(args), torch.sin(args)), dim=1)", COS_SIN),
        P("block_scale_no_plus_one", "Block", "unet.py", "torch.add(x * scale.add(1), shift)", "torch.add(x * scale, shift)", "scale_shift as x * scale + shift (no + 1)"),
        P("p_sample_prev_is_abar_t", "p_sample", "sampling.py", "abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)\n    beta = ", "abar_prev = extract(schedule.alphas_cumprod, t, x_t.shape)\n    beta = ", OFF_BY_ONE),
        P("p_sample_coef_alpha_no_sqrt", "p_sample", "sampling.py", "posterior_mean_coef2 = torch.sqrt(alpha) * (1 - abar_prev)", "posterior_mean_coef2 = alpha * (1 - abar_prev)", "alpha_t instead of sqrt(alpha_t) in the posterior mean"),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "posterior_std = torch.sqrt(extract(schedule.posterior_variance, t, x_t.shape))", "posterior_std = extract(schedule.posterior_variance, t, x_t.shape)", VARIANCE_AS_STD),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", *_NO_SKIP, NOISE_AT_ZERO),
        P("loop_stops_at_1", "p_sample_loop", "sampling.py", "while t_index >= 0:", "while t_index > 0:", OFF_BY_ONE),
        P("ddim_noise_variance_as_std", "ddim_step", "ddim.py", "x_prev = x_prev + torch.sqrt(var) * torch.randn_like(x_t)", "x_prev = x_prev + var * torch.randn_like(x_t)", "DDIM noise: a variance used as a standard deviation"),
    ],
    "own_module": [
        P("film_swapped", "ResnetBlock", "unet.py", "x.ndim).chunk(2, dim=1))", "x.ndim).chunk(2, dim=1)[::-1])", FILM_SWAPPED),
        P("cosine_offset_unscaled", "cosine_beta_schedule", "mymath.py", "return torch.cos((u / timesteps + s) / (1 + s) * math.pi / 2) ** 2", "return torch.cos((u / timesteps + s) * math.pi / 2) ** 2", "cosine schedule offset s without the / (1 + s)"),
        P("cosine_clip_002", "cosine_beta_schedule", "schedules.py", "betas = torch.clamp(1 - abar[1:] / abar[:-1], min=0, max=max_beta)", "betas = torch.clamp(1 - abar[1:] / abar[:-1], min=0, max=0.02)", CLIP_002),
        P("shift_right_ignores_first", "DiffusionSchedule", "mymath.py", "return torch.cat([torch.full_like(x[:1], first), x[:-1]])", "return torch.cat([x[:1], x[:-1]])", PREV_NOT_ONE),
        P("schedule_recip_alpha", "DiffusionSchedule", "schedules.py", "self.sqrt_recip_alphas = 1 / self.alphas.sqrt()", "self.sqrt_recip_alphas = 1 / self.alphas", RECIP_ALPHA),
        P("gather_broadcast_t_minus_1", "extract", "mymath.py", "picked = values[index.to(values.device)].to(index.device)", "picked = values[(index - 1).to(values.device)].to(index.device)", OFF_BY_ONE),
        P("q_sample_variance", "q_sample", "forward.py", "noise_scale = gather_broadcast(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.ndim)", "noise_scale = 1 - gather_broadcast(schedule.alphas_cumprod, t, x_0.ndim)", Q_VARIANCE),
        P("loss_l1_is_mse", "p_losses", "losses.py", "return F.l1_loss(predicted, noise)", "return F.mse_loss(predicted, noise)", "l1 loss computed as mse"),
        P("embedding_half_dim", "SinusoidalPositionEmbeddings", "mymath.py", "torch.arange(half, dtype=torch.float32, device=time.device) / (half - 1)", "torch.arange(half, dtype=torch.float32, device=time.device) / half", HALF_DIM),
        P("embedding_cos_sin", "SinusoidalPositionEmbeddings", "mymath.py", "torch.cat([torch.sin(args), torch.cos(args)], dim=-1)", "torch.cat([torch.cos(args), torch.sin(args)], dim=-1)", COS_SIN),
        P("modulate_no_plus_one", "Block", "mymath.py", "return x * (1 + scale) + shift", "return x * scale + shift", "scale_shift as x * scale + shift (no + 1)"),
        P("block_groupnorm_input", "Block", "unet.py", "self.norm = nn.GroupNorm(groups, dim_out)", "self.norm = nn.GroupNorm(groups, dim)", GROUPNORM_INPUT),
        P("eps_to_mean_recip_alpha", "p_sample", "mymath.py", "* eps) / torch.sqrt(alpha)", "* eps) / alpha", RECIP_ALPHA),
        P("p_sample_noise_at_zero", "p_sample", "sampling.py", "if t_index > 0:", "if t_index >= 0:", NOISE_AT_ZERO),
        P("p_sample_variance_as_std", "p_sample", "sampling.py", "extract(schedule.posterior_variance, t, x_t.shape).sqrt() * torch.randn_like(x_t)", "extract(schedule.posterior_variance, t, x_t.shape) * torch.randn_like(x_t)", VARIANCE_AS_STD),
        P("loop_drops_clipping", "p_sample_loop", "sampling.py", "img = p_sample(model, schedule, img, t, step, clip_denoised=clip_denoised)", "img = p_sample(model, schedule, img, t, step)", NO_CLIPPING),
        P("x0_to_eps_no_sqrt", "ddim_step", "mymath.py", "* x0) / torch.sqrt(1 - abar)", "* x0) / (1 - abar)", "DDIM eps re-derived with (1-abar) instead of sqrt(1-abar)"),
    ],
}  # fmt: skip


def find(variant, pitfall):
    """The :class:`Pitfall` of ``variant`` given itself or its ``id``."""
    if isinstance(pitfall, Pitfall):
        return pitfall
    for candidate in PITFALLS.get(variant, []):
        if candidate.id == pitfall:
            return candidate
    raise KeyError(f"{variant} has no pitfall {pitfall!r}; choose one of {[p.id for p in PITFALLS.get(variant, [])]}")


def _replace_once(text, old, new, where):
    count = text.count(old)
    if count != 1:
        raise PitfallError(f"{where}: the anchor occurs {count} times, not once (stale pitfall?): {old!r}")
    return text.replace(old, new)


def apply(variant, pitfall, dest):
    """Build ``variant`` into ``dest/helpers/`` and make ``pitfall`` (a :class:`Pitfall` or its id) in the
    student's own file there; returns the helpers folder. :class:`PitfallError` if the edit does not apply."""
    pitfall = find(variant, pitfall)
    label = f"{variant}/{pitfall.file} [{pitfall.id}]"
    if pitfall.old == pitfall.new:
        raise PitfallError(f"{label}: the edit changes nothing")
    own = HERE / variant / pitfall.file
    if not own.is_file():
        raise PitfallError(f"{label}: the student wrote no {pitfall.file}")
    _replace_once(own.read_text(), pitfall.old, pitfall.new, f"{label} (the student's source)")
    helpers = Path(build(variant, dest))
    target = helpers / pitfall.file
    target.write_text(_replace_once(target.read_text(), pitfall.old, pitfall.new, f"{label} (built helpers)"))
    return helpers


def cases():
    """``[(variant, pitfall), ...]`` over every variant, in order."""
    return [(variant, pitfall) for variant in VARIANTS for pitfall in PITFALLS.get(variant, [])]
