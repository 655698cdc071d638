"""The catalogue's known mistakes of ``solutions/posterior.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'q_posterior': (
        M('posterior_abar_t_in_mean', 'coef_x0 = torch.sqrt(abar_prev) * beta_t', 'coef_x0 = torch.sqrt(abar_t) * beta_t', explain=""),
        M('posterior_abar_prev_no_sqrt', 'coef_x0 = torch.sqrt(abar_prev) * beta_t', 'coef_x0 = abar_prev * beta_t', explain=""),
        M('posterior_alpha_no_sqrt', 'coef_xt = torch.sqrt(alpha_t) *', 'coef_xt = alpha_t *', explain=""),
        M('posterior_abar_t_in_xt_coef', 'coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_prev)', 'coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_t)', explain=""),
        M('posterior_coefs_swapped', 'mean = coef_x0 * x_0 + coef_xt * x_t', 'mean = coef_x0 * x_t + coef_xt * x_0', explain=""),
        M('posterior_prev_off_by_one', 'abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)', 'abar_prev = extract(schedule.alphas_cumprod, t - 1, x_t.shape)', explain="", pitfall='alphas_cumprod_prev not starting at 1.0'),
        M('posterior_variance_beta', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = beta_t', explain=""),
        M('posterior_variance_std', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = torch.sqrt(beta_t * (1.0 - abar_prev) / (1.0 - abar_t))', explain=""),
        M('posterior_variances_added', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = 1.0 - abar_t', explain=""),
    ),
}
# fmt: on
