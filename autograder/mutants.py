# ruff: noqa: E501 - a table of one-line text replacements
"""Known mistakes (mutants) of the reference solutions, for ``python -m autograder validate``.

Each mutant is a text replacement inside one solution region. ``pitfall`` names the
contract §5 pitfall it stands for (None: another mistake found while writing the
tests). Every mutant must lose points on ``exercise``: a surviving mutant means the
hidden tests have a blind spot. A mutant whose ``old`` text is no longer in
``solutions/`` is reported as stale (validate fails) so the library follows the code.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    exercise: str
    module: str
    old: str
    new: str
    pitfall: str = None
    count: int = 1  # how many occurrences to replace (0: all)


M = Mutant
MUTANTS = [
    # ---- contract §5 pitfalls
    M("variance_as_std", "p_sample", "sampling", "torch.sqrt(posterior_variance_t) * torch.randn_like", "posterior_variance_t * torch.randn_like",
      "posterior variance used as a standard deviation (missing sqrt)"),
    M("recip_alpha_no_sqrt_schedule", "DiffusionSchedule", "schedules", "self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)",
      "self.sqrt_recip_alphas = 1.0 / self.alphas", "1/alpha_t instead of 1/sqrt(alpha_t)"),
    M("recip_alpha_no_sqrt_p_sample", "p_sample", "sampling", "sqrt_recip_alphas_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)",
      "sqrt_recip_alphas_t = 1.0 / extract(schedule.alphas, t, x_t.shape)", "1/alpha_t instead of 1/sqrt(alpha_t)"),
    M("q_sample_variance_not_std", "q_sample", "forward",
      "sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)",
      "sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)", "(1-abar) instead of sqrt(1-abar) in q_sample"),
    M("q_sample_alphas_not_cumprod", "q_sample", "forward", "sqrt_alphas_cumprod_t = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)",
      "sqrt_alphas_cumprod_t = torch.sqrt(extract(schedule.alphas, t, x_0.shape))", "alphas instead of alphas_cumprod"),
    M("schedule_alphas_not_cumprod", "DiffusionSchedule", "schedules", "self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)",
      "self.sqrt_alphas_cumprod = torch.sqrt(self.alphas)", "alphas instead of alphas_cumprod"),
    M("prev_not_one", "DiffusionSchedule", "schedules", "F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)",
      "F.pad(self.alphas_cumprod[:-1], (1, 0), value=0.0)", "alphas_cumprod_prev not starting at 1.0"),
    M("prev_repeats_first", "DiffusionSchedule", "schedules", "F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)",
      "torch.cat([self.alphas_cumprod[:1], self.alphas_cumprod[:-1]])", "alphas_cumprod_prev not starting at 1.0"),
    M("extract_off_by_one", "extract", "schedules", "out = a[t.to(a.device)]", "out = a[(t - 1).to(a.device)]",
      "off-by-one between schedule index and paper step"),
    M("cosine_grid_off_by_one", "cosine_beta_schedule", "schedules", "t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)",
      "t = torch.linspace(1, timesteps + 1, timesteps + 1, dtype=torch.float64)", "off-by-one between schedule index and paper step"),
    M("p_sample_loop_off_by_one", "p_sample_loop", "sampling", "img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)",
      "img = p_sample(model, schedule, img, t, t_index - 1, clip_denoised=clip_denoised)", "off-by-one between schedule index and paper step"),
    M("cosine_clip_002", "cosine_beta_schedule", "schedules", "betas = torch.clamp(betas, max=max_beta)", "betas = torch.clamp(betas, max=0.02)",
      "cosine betas clipped at 0.02"),
    M("embedding_half_dim", "SinusoidalPositionEmbeddings", "unet", "scale = math.log(10000) / (half_dim - 1)", "scale = math.log(10000) / half_dim",
      "half_dim instead of half_dim - 1 in the embeddings"),
    M("embedding_cos_sin", "SinusoidalPositionEmbeddings", "unet", "torch.cat((args.sin(), args.cos()), dim=-1)",
      "torch.cat((args.cos(), args.sin()), dim=-1)", "cos/sin swapped in the embeddings"),
    M("groupnorm_input", "Block", "unet", "self.norm = nn.GroupNorm(groups, dim_out)", "self.norm = nn.GroupNorm(groups, dim)",
      "GroupNorm over the input instead of the output channels"),
    M("noise_at_zero", "p_sample", "sampling", "    if t_index == 0:\n        return model_mean\n", "",
      "noise added at t_index == 0"),
    M("loop_drops_clipping", "p_sample_loop", "sampling", "img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)",
      "img = p_sample(model, schedule, img, t, t_index)", "sampling a cosine-schedule model without clipping the predicted x0"),
    M("cosine_is_short_linear", "cosine_beta_schedule", "schedules", "betas = torch.clamp(betas, max=max_beta)",
      "betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)", "a short linear schedule whose abar_T is far from 0"),
    # ---- other mistakes
    M("cosine_float32", "cosine_beta_schedule", "schedules", "alphas_cumprod = f / f[0]", "alphas_cumprod = (f / f[0]).float().half().double()"),
    M("cosine_no_clip", "cosine_beta_schedule", "schedules", "betas = torch.clamp(betas, max=max_beta)", "betas = betas"),
    M("alphas_cumsum", "DiffusionSchedule", "schedules", "torch.cumprod(self.alphas, dim=0)", "1 - torch.cumsum(betas, dim=0)"),
    M("posterior_no_prev", "DiffusionSchedule", "schedules",
      "self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)",
      "self.posterior_variance = betas * (1.0 - self.alphas_cumprod) / (1.0 - self.alphas_cumprod)"),
    M("extract_flat", "extract", "schedules", "return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)", "return out.to(t.device)"),
    M("extract_rank4", "extract", "schedules", "return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)",
      "return out.reshape(t.shape[0], 1, 1, 1).to(t.device)"),
    M("q_sample_ignores_noise", "q_sample", "forward", "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise",
      "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * torch.randn_like(x_0)"),
    M("losses_target_x0", "p_losses", "losses", "return F.mse_loss(predicted_noise, noise)", "return F.mse_loss(predicted_noise, x_0)"),
    M("losses_clean_input", "p_losses", "losses", "predicted_noise = model(x_noisy, t)", "predicted_noise = model(x_0, t)"),
    M("losses_l1_l2_swapped", "p_losses", "losses", "F.l1_loss(predicted_noise, noise)", "F.mse_loss(predicted_noise, noise)"),
    M("losses_fresh_noise", "p_losses", "losses", "x_noisy = q_sample(schedule, x_0, t, noise=noise)", "x_noisy = q_sample(schedule, x_0, t)"),
    M("block_relu", "Block", "unet", "self.act = nn.SiLU()", "self.act = nn.ReLU()"),
    M("block_scale_no_plus_one", "Block", "unet", "x = x * (scale + 1) + shift", "x = x * scale + shift"),
    M("block_act_before_norm", "Block", "unet", "        x = self.proj(x)\n        x = self.norm(x)\n", "        x = self.proj(x)\n        x = self.act(x)\n"),
    M("resnet_no_residual", "ResnetBlock", "unet", "return h + self.res_conv(x)", "return h"),
    M("resnet_time_after", "ResnetBlock", "unet",
      "h = self.block1(x, scale_shift=scale_shift)\n        h = self.block2(h)",
      "h = self.block1(x)\n        h = self.block2(h, scale_shift=scale_shift)"),
    M("resnet_time_added", "ResnetBlock", "unet", "h = self.block1(x, scale_shift=scale_shift)",
      "h = self.block1(x) + (0 if scale_shift is None else scale_shift[0] + scale_shift[1])"),
    M("resnet_scale_shift_swapped", "ResnetBlock", "unet", '"b c -> b c 1 1").chunk(2, dim=1)',
      '"b c -> b c 1 1").chunk(2, dim=1)[::-1]'),
    M("p_sample_eps_sign", "p_sample", "sampling", "(x_t - betas_t / sqrt_one_minus_alphas_cumprod_t * eps)",
      "(x_t + betas_t / sqrt_one_minus_alphas_cumprod_t * eps)"),
    M("p_sample_betas_as_var", "p_sample", "sampling", "torch.sqrt(posterior_variance_t) * torch.randn_like", "torch.sqrt(extract(schedule.betas, t, x_t.shape)) * torch.randn_like"),
    M("loop_ascending", "p_sample_loop", "sampling", "for t_index in steps:", "for t_index in range(schedule.timesteps):"),
    M("ddim_no_rederive", "ddim_step", "ddim", "    eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)", "    pass"),
    M("ddim_sigma_no_sqrt", "ddim_step", "ddim", "* torch.sqrt(1.0 - abar / abar_prev)", "* (1.0 - abar / abar_prev)"),
    M("ddim_direction_no_sigma", "ddim_step", "ddim", "torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0))", "torch.sqrt(1.0 - abar_prev)"),
    M("ddim_variance_not_std", "ddim_step", "ddim", "return torch.sqrt(abar_prev) * x0_hat + direction + noise",
      "return abar_prev * x0_hat + direction + noise"),
    M("loop_all_without_start", "p_sample_loop", "sampling", "imgs = [img.cpu()] if return_all else None", "imgs = [] if return_all else None"),
]  # fmt: skip


def apply(mutant, source):
    """The module text with the mutation applied; ValueError when it does not apply."""
    if mutant.old not in source:
        raise ValueError(f"mutant {mutant.id}: text not found in solutions/{mutant.module}.py (stale mutant)")
    return source.replace(mutant.old, mutant.new, mutant.count if mutant.count else -1)
