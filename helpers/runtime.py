# Generated from solutions/runtime.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""Device choice, seeding and smoke mode: the small things every notebook needs."""

import os
import random

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
