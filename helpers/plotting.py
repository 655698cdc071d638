# Generated from solutions/plotting.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""Figures: image grids, schedule curves, loss curves and the reverse-process GIF."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from .data import from_model_range


def image_grid(images, nrow=8, padding=2):
    """``(B, C, H, W)`` in [-1, 1] -> an ``(H', W', 3)`` uint8 numpy grid (gray images are repeated over RGB)."""
    images = torch.as_tensor(images).detach().float().cpu()
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    grid = make_grid(from_model_range(images), nrow=nrow, padding=padding, pad_value=1.0)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def show_images(images, nrow=8, title=None, ax=None):
    """Draw a grid of ``(B, C, H, W)`` images in [-1, 1]; returns the matplotlib Axes."""
    grid = image_grid(images, nrow=nrow)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(12, 1.2 * nrow), min(12, 1.2 * np.ceil(len(images) / nrow))))
    ax.imshow(grid)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def save_image_grid(images, path, nrow=8):
    """Write a grid of ``(B, C, H, W)`` images in [-1, 1] to a PNG file; returns the path."""
    grid = image_grid(images, nrow=nrow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    return path


def plot_schedules(schedules, axes=None):
    """Plot beta_t, abar_t and log10 SNR(t) = log10(abar_t / (1 - abar_t)) for named schedules.

    ``schedules``: a dict ``{name: DiffusionSchedule}``. Returns the axes.
    """
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name, schedule in schedules.items():
        steps = np.arange(1, schedule.timesteps + 1)
        abar = schedule.alphas_cumprod.double().cpu().numpy()
        axes[0].plot(steps, schedule.betas.cpu().numpy(), label=name)
        axes[1].plot(steps, abar, label=name)
        axes[2].plot(steps, np.log10(abar / (1 - abar)), label=name)
    for ax, label in zip(axes, (r"$\beta_t$", r"$\bar\alpha_t$", r"$\log_{10}\,\mathrm{SNR}(t)$")):
        ax.set_xlabel("paper step $t$")
        ax.set_ylabel(label)
        ax.legend()
    return axes


def plot_losses(losses, ax=None, smooth=50):
    """Raw and moving-average training loss."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    losses = np.asarray(losses, dtype=float)
    ax.plot(losses, alpha=0.3, label="loss")
    if len(losses) >= smooth:
        ax.plot(
            np.arange(smooth - 1, len(losses)), np.convolve(losses, np.ones(smooth) / smooth, "valid"), label=f"mean of {smooth}"
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    return ax


def save_denoising_gif(frames, path, nrow=4, max_frames=100, duration_ms=40):
    """Animate the reverse process. ``frames``: list of ``(B, C, H, W)`` tensors
    from x_T to x_0 (as ``p_sample_loop(..., return_all=True)`` returns).
    Keeps at most ``max_frames`` evenly spaced frames and holds the last one."""
    if not frames:
        raise ValueError("frames is empty: pass p_sample_loop(..., return_all=True)")
    keep = np.unique(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int))
    images = [Image.fromarray(image_grid(frames[i], nrow=nrow)) for i in keep]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    durations = [duration_ms] * (len(images) - 1) + [1500]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path
