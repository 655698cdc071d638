"""Classifier-free guidance (Ho & Salimans 2022): one network, trained with and without the class label.

Notebook 10. The model is a class-conditional ``Unet(..., num_classes=K)`` called as
``model(x_t, t, class_labels)``: labels ``0 ... K-1`` are the classes, label ``K`` is the "no class"
token ∅, and ``class_labels=None`` means ∅ for the whole batch.

Convention. Ho & Salimans (eq. 6) write the guided noise estimate with a guidance *weight* ``w``:

    eps~ = (1 + w) * eps(x_t, t, c) - w * eps(x_t, t, ∅),

so ``w = 0`` is the plain conditional model. Other papers and libraries (GLIDE, diffusers'
``guidance_scale``) write it with a *scale* ``s = 1 + w``:
``eps~ = eps(x_t, t, ∅) + s * (eps(x_t, t, c) - eps(x_t, t, ∅))``. Same thing, shifted by one: this
course uses ``w``.
"""

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .forward import q_sample
from .sampling import p_sample


def null_labels(model, labels):
    """``labels`` replaced everywhere by the ∅ token (index ``model.num_classes``)."""
    return torch.full_like(labels, model.num_classes)


def p_losses_cfg(model, schedule, x_0, t, labels, p_uncond=0.1, noise=None, drop_mask=None):
    """The noise-prediction loss with label dropout (Ho & Salimans 2022, Algorithm 1).

    Each example's label is replaced by the ∅ token with probability ``p_uncond``, so one network
    learns both ``eps(x_t, t, c)`` (most of the time) and ``eps(x_t, t, ∅)`` (the rest), which
    guidance combines at sampling time.

    Args:
        model: ``eps_theta`` called as ``model(x_t, t, class_labels)``; ``model.num_classes`` is K,
            the index of the ∅ token.
        schedule: a ``DiffusionSchedule``.
        x_0: clean images ``(B, C, H, W)`` in ``[-1, 1]``.
        t: LongTensor ``(B,)`` of 0-based step indices.
        labels: LongTensor ``(B,)`` of class labels in ``0 ... K-1``.
        p_uncond: probability of dropping each label (Ho & Salimans use 0.1 or 0.2).
        noise: optional standard normal tensor shaped like ``x_0``.
        drop_mask: optional BoolTensor ``(B,)``: True where the label is dropped (replaced by ∅).
            None: draw it, each entry True with probability ``p_uncond``, independently.

    Returns:
        a scalar tensor: the mean squared error between ``noise`` and the model's estimate (eq. 14).

    Hints:
        1. ``torch.rand(B, device=labels.device) < p_uncond`` is True with probability ``p_uncond``.
        2. ``torch.where(mask, a, b)`` picks ``a`` where the mask is True; ``null_labels(model, labels)``
           is a tensor of ∅ tokens shaped like ``labels``.
        3. Then as in ``p_losses``: noise ``x_0`` with ``q_sample`` and the *same* noise, predict, compare.
    """
    if noise is None:
        noise = torch.randn_like(x_0)
    # BEGIN SOLUTION: draw the drop mask if none is given, replace the dropped labels by ∅, then the eps loss
    if drop_mask is None:
        drop_mask = torch.rand(labels.shape[0], device=labels.device) < p_uncond
    labels = torch.where(drop_mask, null_labels(model, labels), labels)
    x_noisy = q_sample(schedule, x_0, t, noise=noise)
    return F.mse_loss(model(x_noisy, t, labels), noise)
    # END SOLUTION


class _Estimate(torch.nn.Module):
    """A "model" that returns a noise estimate computed beforehand, so ``p_sample`` can take the step."""

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x_t, t):
        return self.eps


@torch.no_grad()
def p_sample_guided(model, schedule, x_t, t, t_index, labels, w, clip_denoised=False):
    """One reverse step with classifier-free guidance (Ho & Salimans 2022, Algorithm 2).

    Args:
        model: ``eps_theta`` called as ``model(x_t, t, class_labels)`` (None: ∅ for the whole batch).
        schedule: a ``DiffusionSchedule`` on ``x_t``'s device.
        x_t: ``(B, C, H, W)`` current noisy images.
        t: LongTensor ``(B,)`` filled with ``t_index``.
        t_index: the 0-based step index as a Python int.
        labels: LongTensor ``(B,)``: the class each image should become.
        w: the guidance weight, a float >= 0 (0: the conditional model alone).
        clip_denoised: passed on to ``p_sample``.

    Returns:
        x_{t-1} shaped like ``x_t``: the course's ancestral step (``p_sample``, provided below)
        taken with the guided estimate (eq. 6 of Ho & Salimans)

            ``eps~ = (1 + w) * eps(x_t, t, c) - w * eps(x_t, t, ∅)``

        in place of ``eps_theta(x_t, t)``.

    Hints:
        1. Two calls of the model on the same ``x_t`` and ``t``: one with ``labels``, one with ∅ for
           every image. No label dropout here: dropout is a training device only.
        2. The ∅ estimate is *subtracted*: guidance pushes away from what the model would draw anyway.
    """
    # BEGIN SOLUTION: the conditional and the unconditional estimates, combined with weights (1 + w) and -w
    eps_cond = model(x_t, t, labels)
    eps_uncond = model(x_t, t, None)
    eps = (1.0 + w) * eps_cond - w * eps_uncond
    # END SOLUTION
    return p_sample(_Estimate(eps), schedule, x_t, t, t_index, clip_denoised=clip_denoised)


@torch.no_grad()
def sample_guided(model, schedule, labels, w, shape=None, clip_denoised=True, progress=True, generator=None):
    """Algorithm 2 with guidance: from x_T ~ N(0, I) down to index 0, one ``p_sample_guided`` per step.

    Args:
        labels: LongTensor ``(B,)``: one class per image.
        w: the guidance weight.
        shape: ``(B, C, H, W)`` (default: ``(B, model.channels, 28, 28)``).
    Returns ``(B, C, H, W)`` on the model's device.
    """
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    labels = torch.as_tensor(labels, device=device).long()
    shape = shape or (labels.shape[0], model.channels, 28, 28)
    img = torch.randn(shape, generator=generator, device="cpu").to(device)
    steps = reversed(range(schedule.timesteps))
    for t_index in tqdm(steps, total=schedule.timesteps, desc=f"sampling, w = {w:g}", disable=not progress):
        t = torch.full_like(labels, t_index)  # (B,), on the model's device
        img = p_sample_guided(model, schedule, img, t, t_index, labels, w, clip_denoised=clip_denoised)
    return img


def class_accuracy(samples, labels, fast=None):
    """``(accuracy, predicted)``: the share of ``samples`` that the course's Fashion-MNIST classifier
    (``evaluate.classifier``) puts in the class they were drawn for, and its predictions ``(N,)``."""
    from . import evaluate  # loads (or trains once, then caches) the classifier

    model = evaluate.classifier(fast=fast)
    with torch.no_grad():
        predicted = model(samples.detach().float().cpu().clamp(-1, 1)).argmax(1)
    labels = torch.as_tensor(labels).cpu()
    return float((predicted == labels).float().mean()), predicted
