"""The catalogue's known mistakes of ``solutions/guidance.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'p_losses_cfg': (
        M('cfg_mask_inverted', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(~drop_mask, null_labels(model, labels), labels)', explain="You dropped the labels where drop_mask is False: True means 'drop' (replace the label by the 'no class' token)."),
        M('cfg_mask_ignored', '    if drop_mask is None:\n        drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond\n', '    drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond\n', explain="The given drop_mask was ignored: draw a mask only when drop_mask is None; when one is given, drop exactly the labels where it is True."),
        M('cfg_p_inverted', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < 1 - p_uncond', explain="The dropout probability is inverted: drop each label with probability p_uncond (torch.rand(B) < p_uncond), not 1 - p_uncond."),
        M('cfg_first_labels_dropped', 'drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond', 'drop_mask = torch.arange(labels.shape[0], device=labels.device) < p_uncond * labels.shape[0]', explain="The drop mask is not random: it drops the first p_uncond * B labels of every batch. Draw it, each label dropped independently with probability p_uncond: torch.rand(B) < p_uncond."),
        M('cfg_no_dropout', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = labels', explain="No label was dropped: where drop_mask is True, pass the 'no class' token (model.num_classes) instead of the label."),
        M('cfg_null_is_class_0', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(drop_mask, torch.zeros_like(labels), labels)', explain="Dropped labels became class 0: the 'no class' token is model.num_classes (null_labels(model, labels)), one past the last class."),
        M('cfg_null_is_last_class', 'labels = torch.where(drop_mask, null_labels(model, labels), labels)', 'labels = torch.where(drop_mask, torch.full_like(labels, model.num_classes - 1), labels)', explain="Dropped labels became model.num_classes - 1, the last real class: the 'no class' token is model.num_classes itself (null_labels(model, labels)), one past the last class."),
        M('cfg_fresh_noise', 'x_noisy = q_sample(schedule, x_0, t, noise=noise)', 'x_noisy = q_sample(schedule, x_0, t)', explain="q_sample drew its own noise although noise was given: pass the same noise to q_sample and to the loss (q_sample(schedule, x_0, t, noise=noise))."),
        M('cfg_model_on_x0', 'return F.mse_loss(model(x_noisy, t, labels), noise)', 'return F.mse_loss(model(x_0, t, labels), noise)', explain="The model saw the clean x_0: feed it the noisy x_t from q_sample."),
        M('cfg_target_x0', 'return F.mse_loss(model(x_noisy, t, labels), noise)', 'return F.mse_loss(model(x_noisy, t, labels), x_0)', explain="The target should be the noise, not x_0: the network predicts the noise that q_sample added."),
    ),
    'p_sample_guided': (
        M('guidance_sign_flipped', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = (1.0 - w) * eps_cond + w * eps_uncond', explain="The guidance sign is flipped: (1 + w) goes with eps(c) and -w with eps(no class), so that the step moves towards the class and away from the unconditional estimate."),
        M('guidance_weights_swapped', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = (1.0 + w) * eps_uncond - w * eps_cond', explain="The two estimates are swapped: (1 + w) multiplies the conditional estimate eps(x_t, t, c) and -w the unconditional one eps(x_t, t, no class)."),
        M('guidance_uncond_added', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = (1.0 + w) * eps_cond + w * eps_uncond', explain="The unconditional estimate is added: guidance subtracts it, (1 + w) * eps(c) - w * eps(no class), to push away from what the model would draw without the class."),
        M('guidance_w_on_uncond', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_cond + w * eps_uncond', explain="You computed eps(c) + w * eps(no class): guidance is (1 + w) * eps(c) - w * eps(no class)."),
        A('guidance_scale_convention', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_uncond + w * (eps_cond - eps_uncond)', explain="You used the other convention, eps(no class) + w * (eps(c) - eps(no class)), where the scale is s = 1 + w (the guidance scale of many libraries; both conventions give the same samples with s = 1 + w). This exercise takes the weight w: (1 + w) * eps(c) - w * eps(no class)."),
        M('guidance_uncond_real_label', 'eps_uncond = model(x_t, t, None)', 'eps_uncond = model(x_t, t, labels)', explain="The unconditional pass was given the real labels: eps(x_t, t, no class) needs model(x_t, t, None), or the token model.num_classes for every image. (With the labels, (1 + w) * eps(c) - w * eps(c) is eps(c) alone.)"),
        M('guidance_dropout_at_sampling', 'eps_cond = model(x_t, t, labels)', 'eps_cond = model(x_t, t, torch.where(torch.rand(labels.shape[0]) < 0.1, model.num_classes, labels))', explain="Label dropout applied at sampling time: dropout is for training only; at sampling, call the model once with the labels and once with 'no class' for every image."),
        M('guidance_conditional_only', 'eps = (1.0 + w) * eps_cond - w * eps_uncond', 'eps = eps_cond', explain="This is the conditional estimate alone: either w was ignored, or the unconditional pass got the real labels ((1 + w) * eps(c) - w * eps(c) = eps(c))."),
    ),
}
# fmt: on
