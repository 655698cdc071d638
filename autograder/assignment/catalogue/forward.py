"""The catalogue's known mistakes of ``solutions/forward.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'q_sample': (
        M('q_sample_variance_not_std', 'sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)', 'sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)', explain="", pitfall='(1-abar) instead of sqrt(1-abar) in q_sample'),
        M('q_sample_alphas_not_cumprod', 'sqrt_alphas_cumprod_t = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)', 'sqrt_alphas_cumprod_t = torch.sqrt(extract(schedule.alphas, t, x_0.shape))', explain="", pitfall='alphas instead of alphas_cumprod'),
        M('q_sample_ignores_noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * torch.randn_like(x_0)', explain=""),
    ),
}
# fmt: on
