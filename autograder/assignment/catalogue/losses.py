"""The catalogue's known mistakes of ``solutions/losses.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'p_losses': (
        M('losses_target_x0', 'return F.mse_loss(predicted_noise, noise)', 'return F.mse_loss(predicted_noise, x_0)', explain=""),
        M('losses_per_image_sum', 'return F.mse_loss(predicted_noise, noise)', 'return F.mse_loss(predicted_noise, noise, reduction="none").flatten(1).sum(1).mean()', explain=""),
        M('losses_clean_input', 'predicted_noise = model(x_noisy, t)', 'predicted_noise = model(x_0, t)', explain=""),
        M('losses_l1_l2_swapped', 'F.l1_loss(predicted_noise, noise)', 'F.mse_loss(predicted_noise, noise)', explain=""),
        M('losses_fresh_noise', 'x_noisy = q_sample(schedule, x_0, t, noise=noise)', 'x_noisy = q_sample(schedule, x_0, t)', explain=""),
    ),
}
# fmt: on
