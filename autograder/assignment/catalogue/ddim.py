"""The catalogue's known mistakes of ``solutions/ddim.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'ddim_step': (
        M('ddim_no_rederive', '    eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)', '    pass', explain=""),
        M('ddim_sigma_no_sqrt', '* torch.sqrt(1.0 - abar / abar_prev)', '* (1.0 - abar / abar_prev)', explain=""),
        M('ddim_direction_no_sigma', 'torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0))', 'torch.sqrt(1.0 - abar_prev)', explain=""),
        M('ddim_variance_not_std', 'return torch.sqrt(abar_prev) * x0_hat + direction + noise', 'return abar_prev * x0_hat + direction + noise', explain=""),
    ),
}
# fmt: on
