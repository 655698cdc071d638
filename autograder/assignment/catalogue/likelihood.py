"""The catalogue's known mistakes of ``solutions/likelihood.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'vlb_term': (
        M('vlb_nats', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.mean(dim=tuple(range(1, kl.ndim)))', explain="These are nats: divide by ln 2 (math.log(2)) for bits."),
        M('vlb_times_ln2', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.mean(dim=tuple(range(1, kl.ndim))) * math.log(2.0)', explain="You multiplied by ln 2: a KL in nats becomes bits when divided by ln 2 (math.log(2)), since log2(x) = ln(x) / ln 2."),
        M('vlb_bits_log10', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log10(2.0)', explain="You divided by log10(2): nats become bits when divided by ln 2 = math.log(2), the natural logarithm of 2."),
        M('vlb_sum_dims', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.sum(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', explain="You summed over the dimensions: bits per dimension average over C, H and W (.mean over dims 1, 2, 3)."),
        M('vlb_batch_mean', 'return kl.mean(dim=tuple(range(1, kl.ndim))) / math.log(2.0)', 'return kl.mean() / math.log(2.0)', explain="You averaged over the batch too: vlb_term returns one KL per image, shape (B,). Average over C, H and W only (dims 1, 2, 3)."),
        M('vlb_log_sign', 'torch.log(var_p / var_q)', 'torch.log(var_q / var_p)', explain="The log term has the wrong sign: the KL has + log(v_p / v_q), p's variance over q's. With the sign flipped the KL can come out negative, which a KL never is."),
        M('vlb_log10', 'torch.log(var_p / var_q)', 'torch.log10(var_p / var_q)', explain="The log term uses log10: the Gaussians' log-densities, and so the KL in nats, use the natural logarithm (torch.log)."),
        M('vlb_kl_swapped', 'kl = 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0)', 'kl = 0.5 * (torch.log(var_q / var_p) + (var_p + (mean_q - mean_p) ** 2) / var_q - 1.0)', explain="The KL's arguments are swapped: the expectation is under q(x_{t-1} | x_t, x_0), the target, so KL = 1/2 (log(v_p / v_q) + (v_q + (m_q - m_p)^2) / v_p - 1)."),
        M('vlb_variance_as_std', 'var_p = var_q if variance == "posterior" else betas_t', 'var_p = var_q.sqrt() if variance == "posterior" else betas_t.sqrt()', explain="A variance was used as a standard deviation: beta~_t and beta_t are variances; the KL needs them as they are, not their square roots.", pitfall='posterior variance used as a standard deviation (missing sqrt)'),
        M('vlb_no_log_term', 'torch.log(var_p / var_q) + ', '', explain="The term log(v_p / v_q) is missing (it is 0 only when the two variances are equal)."),
        M('vlb_no_half', 'kl = 0.5 * (', 'kl = (', explain="The KL of two Gaussians has a factor 1/2 in front."),
        M('vlb_variance_ignored', 'var_p = var_q if variance == "posterior" else betas_t', 'var_p = var_q', explain="variance='beta' asks for sigma_t^2 = beta_t as p_theta's variance, not beta~_t (the posterior variance)."),
        M('vlb_model_on_x0', 'eps_theta = model(x_t, t)', 'eps_theta = model(x_0, t)', explain="The model predicts the noise in x_t: call model(x_t, t), not model(x_0, t)."),
        M('vlb_recip_alpha_no_sqrt', 'mean_p = extract(schedule.sqrt_recip_alphas, t, x_t.shape) *', 'mean_p = 1.0 / extract(schedule.alphas, t, x_t.shape) *', explain="p_theta's mean uses 1/alpha_t where eq. 11 has 1/sqrt(alpha_t): take schedule.sqrt_recip_alphas.", pitfall='1/alpha_t instead of 1/sqrt(alpha_t)'),
    ),
}
# fmt: on
