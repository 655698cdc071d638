"""The catalogue's known mistakes of ``solutions/likelihood.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'vlb_term': (
        M('vlb_nats', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.mean(dim=tuple(range(1, kl.ndim)))', explain=""),
        M('vlb_sum_dims', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.sum(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', explain=""),
        M('vlb_kl_swapped', 'kl = 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0)', 'kl = 0.5 * (torch.log(var_q / var_p) + (var_p + (mean_q - mean_p) ** 2) / var_q - 1.0)', explain=""),
        M('vlb_variance_as_std', 'var_p = var_q if variance == "posterior" else betas_t', 'var_p = var_q.sqrt() if variance == "posterior" else betas_t.sqrt()', explain="", pitfall='posterior variance used as a standard deviation (missing sqrt)'),
        M('vlb_no_log_term', 'torch.log(var_p / var_q) + ', '', explain=""),
        M('vlb_no_half', 'kl = 0.5 * (', 'kl = (', explain=""),
        M('vlb_variance_ignored', 'var_p = var_q if variance == "posterior" else betas_t', 'var_p = var_q', explain=""),
        M('vlb_model_on_x0', 'eps_theta = model(x_t, t)', 'eps_theta = model(x_0, t)', explain=""),
        M('vlb_recip_alpha_no_sqrt', 'mean_p = extract(schedule.sqrt_recip_alphas, t, x_t.shape) *', 'mean_p = 1.0 / extract(schedule.alphas, t, x_t.shape) *', explain="", pitfall='1/alpha_t instead of 1/sqrt(alpha_t)'),
    ),
}
# fmt: on
