"""The catalogue's known mistakes of ``solutions/losses.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# the arguments of the reference's three loss calls (l1, l2, huber): count=0 changes all three
_ARGS = "(predicted_noise, noise)"

# fmt: off
ENTRIES = {
    'p_losses': (
        A('losses_target_x0', _ARGS, '(predicted_noise, x_0)', count=0, explain="Your target is x_0: a network may be trained to predict x_0 (Ho et al., Section 3.2, tried it and found worse samples), but in this course the network predicts the noise, which the sampler (eq. 11) relies on. The target should be the noise."),
        A('losses_per_image_sum', _ARGS, '(predicted_noise, noise, reduction="none").flatten(1).sum(1).mean()', count=0, explain="You summed over each image's pixels and averaged over the batch, as the squared norm of eq. 14 reads: a constant factor (the number of pixels) away from the mean. This exercise asks for the mean over every element, the default reduction of torch's loss functions."),
        M('losses_sum', _ARGS, '(predicted_noise, noise, reduction="sum")', count=0, explain="You summed instead of averaging: use the mean over every element (the default reduction of F.mse_loss, F.l1_loss and F.smooth_l1_loss)."),
        M('losses_clean_input', 'predicted_noise = model(x_noisy, t)', 'predicted_noise = model(x_0, t)', explain="The model saw the clean x_0: feed it the noisy x_t from q_sample."),
        M('losses_t_plus_one', 'predicted_noise = model(x_noisy, t)', 'predicted_noise = model(x_noisy, t + 1)', explain="The model got t + 1: pass it the same 0-based index t that q_sample used. Counting steps from 1 here shifts every time embedding by one step, and the sampler (which passes t) no longer matches training."),
        M('losses_l1_l2_swapped', 'F.l1_loss(predicted_noise, noise)', 'F.mse_loss(predicted_noise, noise)', explain="That is the l2 loss (the mean squared error): loss_type='l1' asks for the mean absolute error, F.l1_loss."),
        M('losses_l2_is_l1', 'F.mse_loss(predicted_noise, noise)', 'F.l1_loss(predicted_noise, noise)', explain="That is the l1 loss (the mean absolute error): loss_type='l2' asks for the mean squared error, F.mse_loss."),
        M('losses_huber_is_l1', 'F.smooth_l1_loss(predicted_noise, noise)', 'F.l1_loss(predicted_noise, noise)', explain="That is the l1 loss (the mean absolute error): loss_type='huber' asks for F.smooth_l1_loss."),
        M('losses_huber_is_l2', 'F.smooth_l1_loss(predicted_noise, noise)', 'F.mse_loss(predicted_noise, noise)', explain="That is the l2 loss (the mean squared error): loss_type='huber' asks for F.smooth_l1_loss."),
        M('losses_fresh_noise', 'x_noisy = q_sample(schedule, x_0, t, noise=noise)', 'x_noisy = q_sample(schedule, x_0, t)', explain="q_sample drew its own noise although noise was given: pass the same noise to q_sample (noise=noise) and use it as the target. The loss compares the network's prediction with exactly the noise that made x_t."),
    ),
}
# fmt: on
