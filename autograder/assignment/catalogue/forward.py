"""The catalogue's known mistakes of ``solutions/forward.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# the two coefficient lines of the reference, which several mistakes change together
_COEFS = "sqrt_alphas_cumprod_t = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)\n    sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)"

# fmt: off
ENTRIES = {
    'q_sample': (
        M('q_sample_variance_not_std', 'sqrt_one_minus_alphas_cumprod_t = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)', 'sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)', explain="You scaled the noise by (1 - abar_t), a variance; use its square root sqrt(1 - abar_t) (schedule.sqrt_one_minus_alphas_cumprod).", pitfall='(1-abar) instead of sqrt(1-abar) in q_sample'),
        M('q_sample_no_sqrt', _COEFS, 'sqrt_alphas_cumprod_t = extract(schedule.alphas_cumprod, t, x_0.shape)\n    sqrt_one_minus_alphas_cumprod_t = 1.0 - extract(schedule.alphas_cumprod, t, x_0.shape)', explain="Both coefficients lack their square roots: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise."),
        M('q_sample_alphas_not_cumprod', _COEFS, 'sqrt_alphas_cumprod_t = torch.sqrt(extract(schedule.alphas, t, x_0.shape))\n    sqrt_one_minus_alphas_cumprod_t = torch.sqrt(1.0 - extract(schedule.alphas, t, x_0.shape))', explain="You used alphas instead of alphas_cumprod: q(x_t | x_0) jumps from x_0 to x_t in one step, with the running product abar_t.", pitfall='alphas instead of alphas_cumprod'),
        M('q_sample_t_minus_1', ', t, x_0.shape)', ', t - 1, x_0.shape)', count=0, explain="Off by one: you used the constants at t - 1. t is already the 0-based index (index 0 is the paper's step 1)."),
        M('q_sample_t_plus_1', ', t, x_0.shape)', ', t + 1, x_0.shape)', count=0, explain="Off by one: you used the constants at t + 1. t is already the 0-based index (index 0 is the paper's step 1)."),
        M('q_sample_swapped', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise', 'return sqrt_alphas_cumprod_t * noise + sqrt_one_minus_alphas_cumprod_t * x_0', explain="The coefficients are swapped: sqrt(abar_t) multiplies x_0, sqrt(1 - abar_t) the noise."),
        M('q_sample_ignores_noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise', 'return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * torch.randn_like(x_0)', explain="You drew fresh noise although noise was given: use the noise argument, and draw torch.randn_like(x_0) only when noise is None. The training loss compares the network's prediction with exactly this noise."),
    ),
}
# fmt: on
