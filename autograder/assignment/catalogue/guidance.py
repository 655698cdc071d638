"""The catalogue's known mistakes of ``solutions/guidance.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'p_losses_cfg': (
        M('cfg_mask_inverted', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(~drop_mask, null_labels(model, labels), labels)', explain=""),
        M('cfg_p_inverted', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < 1 - p_uncond', explain=""),
        M('cfg_no_dropout', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = labels', explain=""),
        M('cfg_null_is_class_0', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(drop_mask, torch.zeros_like(labels), labels)', explain=""),
        M('cfg_fresh_noise', 'x_noisy = q_sample(schedule, x_0, t, noise=noise)', 'x_noisy = q_sample(schedule, x_0, t)', explain=""),
        M('cfg_target_x0', 'return F.mse_loss(model(x_noisy, t, labels), noise)', 'return F.mse_loss(model(x_noisy, t, labels), x_0)', explain=""),
    ),
    'p_sample_guided': (
        M('guidance_sign_flipped', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = (1.0 - w) * eps_cond + w * eps_uncond', explain=""),
        M('guidance_w_on_uncond', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_cond + w * eps_uncond', explain=""),
        M('guidance_scale_convention', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_uncond + w * (eps_cond - eps_uncond)', explain=""),
        M('guidance_uncond_real_label', 'eps_uncond = model(x_t, t, None)', 'eps_uncond = model(x_t, t, labels)', explain=""),
        M('guidance_dropout_at_sampling', 'eps_cond = model(x_t, t, labels)', 'eps_cond = model(x_t, t, torch.where(torch.rand(labels.shape[0]) < 0.1, model.num_classes, labels))', explain=""),
        M('guidance_conditional_only', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_cond', explain=""),
    ),
}
# fmt: on
