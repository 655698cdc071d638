# Generated from solutions/runtime.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""Device choice, seeding and smoke mode: the small things every notebook needs."""

import os
import random
import time

import numpy as np
import torch


def get_device():
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed=0):
    """Seed ``random``, ``numpy`` and ``torch`` (all devices) for reproducible runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fast_mode():
    """True in smoke mode (``DDPM_FAST=1``, set by CI): long cells shrink to seconds."""
    return os.environ.get("DDPM_FAST", "").strip().lower() not in ("", "0", "false", "no")


def train_seconds():
    """The cap on each training cell's wall time from ``DDPM_TRAIN_SECONDS``, or None (no cap: the normal case).

    CI sets it to run the notebooks at the configuration a student gets (the true T, schedules, image sizes and
    sample counts) with training cut to seconds; claims about a trained model are then not checked."""
    value = os.environ.get("DDPM_TRAIN_SECONDS", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"DDPM_TRAIN_SECONDS must be a number of seconds, got {value!r}; unset it to train fully") from None
    if seconds <= 0:
        raise ValueError(f"DDPM_TRAIN_SECONDS must be > 0, got {value!r}; unset it to train fully")
    return seconds


def training_minutes(minutes):
    """A training cell's budget: ``minutes``, or fewer when ``DDPM_TRAIN_SECONDS`` caps training (see ``train_seconds``)."""
    cap = train_seconds()
    return minutes if cap is None or minutes is None else min(minutes, cap / 60)


def capped(steps):
    """The items of ``steps`` (a hand-written training loop's), cut short once ``DDPM_TRAIN_SECONDS`` have passed."""
    cap = train_seconds()
    deadline = None if cap is None else time.monotonic() + cap
    for step in steps:
        if deadline is not None and time.monotonic() >= deadline:
            return
        yield step
