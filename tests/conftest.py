import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from solutions import schedules

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def ci_outputs():
    """The folder where CI keeps what the slow tests make (``DDPM_CI_OUTPUTS``, set by .ci/run), else None."""
    folder = os.environ.get("DDPM_CI_OUTPUTS")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder).resolve()


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same seeds (contract §4)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(params=["linear", "cosine"])
def schedule_name(request):
    return request.param


@pytest.fixture
def schedule64(schedule_name):
    """A T=1000 schedule in float64, for numerics."""
    return schedules.DiffusionSchedule(schedules.BETA_SCHEDULES[schedule_name](1000).double())


class LinearEps(torch.nn.Module):
    """A fixed stand-in for eps_theta: a 1x1 conv plus a time-dependent bias.
    Deterministic and cheap, so sampler tests compare numbers, not training luck."""

    def __init__(self, channels=1, dtype=torch.float64):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 1, dtype=dtype)
        with torch.no_grad():
            self.conv.weight.fill_(0.3)
            self.conv.bias.fill_(-0.05)

    def forward(self, x, t):
        return self.conv(x) + 1e-3 * t.to(x.dtype)[:, None, None, None]


@pytest.fixture
def linear_eps():
    return LinearEps()
