"""The catalogue's known mistakes of ``solutions/sampling.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M

# fmt: off
ENTRIES = {
    'p_sample': (
        M('variance_as_std', 'torch.sqrt(posterior_variance_t) * torch.randn_like', 'posterior_variance_t * torch.randn_like', explain="posterior_variance is a variance: scale z by its square root, sqrt(posterior_variance_t), not by the variance itself.", pitfall='posterior variance used as a standard deviation (missing sqrt)'),
        M('recip_alpha_no_sqrt_p_sample', 'sqrt_recip_alphas_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)', 'sqrt_recip_alphas_t = 1.0 / extract(schedule.alphas, t, x_t.shape)', explain="The mean uses 1/alpha_t where eq. 11 has 1/sqrt(alpha_t): take schedule.sqrt_recip_alphas.", pitfall='1/alpha_t instead of 1/sqrt(alpha_t)'),
        M('p_sample_alphas_not_cumprod', 'sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape)', 'sqrt_one_minus_alphas_cumprod_t = torch.sqrt(1.0 - extract(schedule.alphas, t, x_t.shape))', explain="You used alphas instead of alphas_cumprod: the mean of eq. 11 divides by sqrt(1 - abar_t) (schedule.sqrt_one_minus_alphas_cumprod)."),
        M('p_sample_eps_sign', '(x_t - betas_t / sqrt_one_minus_alphas_cumprod_t * eps)', '(x_t + betas_t / sqrt_one_minus_alphas_cumprod_t * eps)', explain="The noise estimate is added: eq. 11 subtracts it, mu = 1/sqrt(alpha_t) * (x_t - beta_t / sqrt(1 - abar_t) * eps_theta)."),
        M('p_sample_t_minus_1', 'betas_t = extract(schedule.betas, t, x_t.shape)', 't = (t - 1).clamp(min=0)\n        betas_t = extract(schedule.betas, t, x_t.shape)', explain="Off by one: you read the schedule's constants at t - 1. t (and t_index) are already 0-based: read them at t."),
        M('p_sample_t_plus_1', 'betas_t = extract(schedule.betas, t, x_t.shape)', 't = (t + 1).clamp(max=schedule.timesteps - 1)\n        betas_t = extract(schedule.betas, t, x_t.shape)', explain="Off by one: you read the schedule's constants at t + 1. t (and t_index) are already 0-based: read them at t."),
        M('noise_at_zero', '    if t_index == 0:\n        return model_mean\n', '', explain="Noise was added at the last step: at t_index == 0 return the mean alone (Algorithm 2 sets z = 0 at the paper's t = 1).", pitfall='noise added at t_index == 0'),
        M('p_sample_no_noise_at_1', '    if t_index == 0:\n', '    if t_index <= 1:\n', explain="No noise was added at t_index 1: only the last step, t_index == 0 (the paper's t = 1), returns the mean alone; every other step, t_index 1 included, adds sqrt(posterior_variance_t) * z."),
        M('p_sample_no_noise', 'return model_mean + torch.sqrt(posterior_variance_t) * torch.randn_like(x_t)', 'return model_mean', explain="No noise was added: for t_index > 0 return mean + sqrt(posterior_variance_t) * z, with z = torch.randn_like(x_t)."),
        A('p_sample_betas_as_var', 'torch.sqrt(posterior_variance_t) * torch.randn_like', 'torch.sqrt(extract(schedule.betas, t, x_t.shape)) * torch.randn_like', explain="You scaled z by sqrt(beta_t), the choice sigma_t^2 = beta_t; Ho et al. (Section 3.2) report similar results with it and with the posterior variance beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t) of eq. 7, so it is a valid sampler. This exercise asks for the posterior variance: mean + sqrt(posterior_variance_t) * z."),
    ),
    'p_sample_loop': (
        M('p_sample_loop_off_by_one', 'for t_index in steps:', 'for t_index in range(schedule.timesteps - 1, 0, -1):', explain="The loop stops at t_index 1: it must go down to t_index 0, the paper's step t = 1 (schedule index = paper step - 1). Loop over reversed(range(schedule.timesteps)).", pitfall='off-by-one between schedule index and paper step'),
        M('loop_drops_clipping', 'img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)', 'img = p_sample(model, schedule, img, t, t_index)', explain="clip_denoised was not passed on: call p_sample(..., clip_denoised=clip_denoised) at every step.", pitfall='sampling a cosine-schedule model without clipping the predicted x0'),
        M('loop_ascending', 'for t_index in steps:', 'for t_index in range(schedule.timesteps):', explain="The loop runs forwards: sampling goes from t_index T - 1 down to 0 (reversed(range(schedule.timesteps)))."),
        M('loop_all_without_start', 'imgs = [img.cpu()] if return_all else None', 'imgs = [] if return_all else None', explain="With return_all=True the list should hold T + 1 images: x_T, the starting noise, first, then the output of every step."),
    ),
}
# fmt: on
