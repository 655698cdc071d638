"""The catalogue's known mistakes of ``solutions/sampling.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'p_sample': (
        M('variance_as_std', 'torch.sqrt(posterior_variance_t) * torch.randn_like', 'posterior_variance_t * torch.randn_like', explain="", pitfall='posterior variance used as a standard deviation (missing sqrt)'),
        M('recip_alpha_no_sqrt_p_sample', 'sqrt_recip_alphas_t = extract(schedule.sqrt_recip_alphas, t, x_t.shape)', 'sqrt_recip_alphas_t = 1.0 / extract(schedule.alphas, t, x_t.shape)', explain="", pitfall='1/alpha_t instead of 1/sqrt(alpha_t)'),
        M('noise_at_zero', '    if t_index == 0:\n        return model_mean\n', '', explain="", pitfall='noise added at t_index == 0'),
        M('p_sample_eps_sign', '(x_t - betas_t / sqrt_one_minus_alphas_cumprod_t * eps)', '(x_t + betas_t / sqrt_one_minus_alphas_cumprod_t * eps)', explain=""),
        M('p_sample_betas_as_var', 'torch.sqrt(posterior_variance_t) * torch.randn_like', 'torch.sqrt(extract(schedule.betas, t, x_t.shape)) * torch.randn_like', explain=""),
    ),
    'p_sample_loop': (
        M('p_sample_loop_off_by_one', 'img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)', 'img = p_sample(model, schedule, img, t, t_index - 1, clip_denoised=clip_denoised)', explain="", pitfall='off-by-one between schedule index and paper step'),
        M('loop_drops_clipping', 'img = p_sample(model, schedule, img, t, t_index, clip_denoised=clip_denoised)', 'img = p_sample(model, schedule, img, t, t_index)', explain="", pitfall='sampling a cosine-schedule model without clipping the predicted x0'),
        M('loop_ascending', 'for t_index in steps:', 'for t_index in range(schedule.timesteps):', explain=""),
        M('loop_all_without_start', 'imgs = [img.cpu()] if return_all else None', 'imgs = [] if return_all else None', explain=""),
    ),
}
# fmt: on
