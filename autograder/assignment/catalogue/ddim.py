"""The catalogue's known mistakes of ``solutions/ddim.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'ddim_step': (
        M('ddim_no_clip', 'x0_hat = x0_hat.clamp(-1.0, 1.0) if clip_denoised else x0_hat', 'x0_hat = x0_hat', explain="clip_denoised=True: clamp x0_hat to [-1, 1], then re-derive eps from the clamped x0_hat."),
        M('ddim_no_rederive', '    eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)', '    pass', explain="eps was not re-derived after clipping: with clip_denoised=True, compute eps = (x_t - sqrt(abar) * x0_hat) / sqrt(1 - abar) from the clamped x0_hat, so that the direction term agrees with it."),
        M('ddim_eta_missing', 'sigma = eta * torch.sqrt(', 'sigma = torch.sqrt(', explain="sigma lacks the factor eta: sigma = eta * sqrt((1 - abar_prev) / (1 - abar)) * sqrt(1 - abar / abar_prev), so that eta = 0 gives the deterministic update."),
        M('ddim_eta_ignored', 'sigma = eta * torch.sqrt(', 'sigma = 0.0 * torch.sqrt(', explain="eta was ignored (the deterministic update): with eta > 0, sigma is not 0, the direction term shrinks to sqrt(1 - abar_prev - sigma^2) * eps and sigma * z is added."),
        M('ddim_sigma_no_sqrt', '* torch.sqrt(1.0 - abar / abar_prev)', '* (1.0 - abar / abar_prev)', explain="sigma's second factor lacks its square root: sigma = eta * sqrt((1 - abar_prev) / (1 - abar)) * sqrt(1 - abar / abar_prev)."),
        M('ddim_beta_for_jump', '* torch.sqrt(1.0 - abar / abar_prev)', '* torch.sqrt(extract(schedule.betas, t, x_t.shape))', explain="sigma uses beta_t, DDPM's one-step value: for a jump from t to t_prev the factor is sqrt(1 - abar_t / abar_prev), which is sqrt(beta_t) only when t_prev = t - 1."),
        M('ddim_direction_sigma_not_squared', 'torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0))', 'torch.sqrt((1.0 - abar_prev - sigma).clamp(min=0.0))', explain="The direction term subtracts sigma where it should subtract sigma^2: it is sqrt(1 - abar_prev - sigma^2) * eps, sigma^2 being the variance of the noise sigma * z."),
        M('ddim_direction_no_sigma', 'torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0))', 'torch.sqrt(1.0 - abar_prev)', explain="The direction term ignores sigma: it is sqrt(1 - abar_prev - sigma^2) * eps, so that with the noise sigma * z the total variance stays 1 - abar_prev."),
        M('ddim_direction_uses_abar', 'torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0))', 'torch.sqrt(1.0 - abar)', explain="The direction term uses the current abar_t: it points to x_{t_prev}, so its scale is sqrt(1 - abar_prev - sigma^2), with abar_prev."),
        M('ddim_noise_variance', 'noise = sigma * torch.randn_like(x_t)', 'noise = sigma**2 * torch.randn_like(x_t)', explain="sigma is a standard deviation: the noise term is sigma * z, not sigma^2 * z."),
        M('ddim_no_noise', 'noise = sigma * torch.randn_like(x_t) if eta > 0 else torch.zeros_like(x_t)', 'noise = torch.zeros_like(x_t)', explain="No noise was added: with eta > 0 add sigma * z, z = torch.randn_like(x_t)."),
        M('ddim_variance_not_std', 'return torch.sqrt(abar_prev) * x0_hat + direction + noise', 'return abar_prev * x0_hat + direction + noise', explain="x0_hat is scaled by abar_prev: its factor is sqrt(abar_prev), a standard deviation's scale, not the variance."),
    ),
}
# fmt: on
