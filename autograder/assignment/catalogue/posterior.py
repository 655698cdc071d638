"""The catalogue's known mistakes of ``solutions/posterior.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'q_posterior': (
        M('posterior_variance_beta', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = beta_t', explain="You returned beta_t. That is the other choice of sigma_t^2 for the model's step p_theta (Ho et al. section 3.2), not the variance of this posterior: add the two factors' precisions."),
        M('posterior_abar_t_for_prev', 'abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)', 'abar_prev = extract(schedule.alphas_cumprod, t, x_t.shape)', explain="You used abar_t where abar_{t-1} belongs: q(x_{t-1} | x_0) is eq. 4 at step t - 1, with mean sqrt(abar_{t-1}) x_0 and variance 1 - abar_{t-1} (schedule.alphas_cumprod_prev)."),
        M('posterior_abar_t_in_mean', 'coef_x0 = torch.sqrt(abar_prev) * beta_t', 'coef_x0 = torch.sqrt(abar_t) * beta_t', explain="The x_0 coefficient uses abar_t where abar_{t-1} belongs: the mean of q(x_{t-1} | x_0) is sqrt(abar_{t-1}) x_0."),
        M('posterior_abar_prev_no_sqrt', 'coef_x0 = torch.sqrt(abar_prev) * beta_t', 'coef_x0 = abar_prev * beta_t', explain="The x_0 coefficient lacks a square root: the mean of q(x_{t-1} | x_0) is sqrt(abar_{t-1}) x_0."),
        M('posterior_alpha_no_sqrt', 'coef_xt = torch.sqrt(alpha_t) *', 'coef_xt = alpha_t *', explain="The x_t coefficient has alpha_t where sqrt(alpha_t) belongs: the forward step is x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) noise."),
        M('posterior_abar_t_in_xt_coef', 'coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_prev)', 'coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_t)', explain="The x_t coefficient uses 1 - abar_t where 1 - abar_{t-1} belongs: the second factor's variance is 1 - abar_{t-1} (schedule.alphas_cumprod_prev)."),
        M('posterior_coefs_swapped', 'mean = coef_x0 * x_0 + coef_xt * x_t', 'mean = coef_x0 * x_t + coef_xt * x_0', explain="The two coefficients are swapped: check which one multiplies x_0 and which one x_t."),
        M('posterior_variance_weights', 'mean = coef_x0 * x_0 + coef_xt * x_t', 'mean = ((beta_t / alpha_t) * x_t / torch.sqrt(alpha_t) + (1.0 - abar_prev) * torch.sqrt(abar_prev) * x_0) / (beta_t / alpha_t + 1.0 - abar_prev)', explain="You weighted the two factors' means by their variances; weight them by their precisions (1 / variance): the surer factor pulls the mean harder."),
        M('posterior_prev_off_by_one', 'abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)', 'abar_prev = extract(schedule.alphas_cumprod, t - 1, x_t.shape)', explain="Off by one: you took alphas_cumprod at t - 1, which does not exist at index 0. abar_{t-1} is schedule.alphas_cumprod_prev at index t, with 1.0 at index 0.", pitfall='alphas_cumprod_prev not starting at 1.0'),
        M('posterior_variance_std', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = torch.sqrt(beta_t * (1.0 - abar_prev) / (1.0 - abar_t))', explain="You returned a standard deviation (a square root); return the variance."),
        M('posterior_precision_no_alpha', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = beta_t * (1.0 - abar_prev) / (beta_t + 1.0 - abar_prev)', explain="As a Gaussian in x_{t-1}, q(x_t | x_{t-1}) has precision alpha_t / beta_t, not 1 / beta_t: x_{t-1} enters it multiplied by sqrt(alpha_t)."),
        M('posterior_variances_added', 'variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)', 'variance = 1.0 - abar_t', explain="You returned 1 - abar_t, the variance of q(x_t | x_0): going forward the variances add; conditioning on both x_t and x_0 adds the precisions instead."),
    ),
}
# fmt: on
