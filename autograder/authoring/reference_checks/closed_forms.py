"""What the reference checks share: the papers' closed forms in float64 numpy, a schedule and
stand-in models built from them (so that no check depends on another exercise's solution), the
comparison that turns a disagreement into one problem line, and diffusers where it is installed."""

import importlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from autograder.assignment import exercises


def qualified(exercise: str) -> str:
    """``solutions.<module>.<exercise>``: how a problem line names what it is about."""
    return f"solutions.{exercises.BY_ID[exercise].module}.{exercise}"


def solution(exercise: str) -> tuple[Any, Any]:
    """The solution's module (any ``solutions`` module: typed loosely) and the exercise's object in it."""
    module = importlib.import_module(f"solutions.{exercises.BY_ID[exercise].module}")
    return module, getattr(module, exercise)


# ---------------------------------------------------------------- comparison


def as_array(value: Any) -> np.ndarray:
    """A tensor or array-like as a float64 numpy array."""
    if torch.is_tensor(value):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _where(index, shape, axis_name):
    if not shape:
        return ""
    if len(shape) == 1:
        return f" at {axis_name}={index[0]}"
    return f" at index {tuple(int(i) for i in index)}"


def differs(
    name: str, what: str, got: Any, expected: Any, *, rtol: float = 1e-9, atol: float = 1e-12, axis_name: str = "t"
) -> list[str]:
    """``[]`` when ``got`` matches ``expected`` elementwise, else one problem line."""
    got = as_array(got)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return [f"{name}: {what}: got shape {tuple(got.shape)}, expected {tuple(expected.shape)}"]
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(got - expected)
        bad = ~np.isfinite(got) | (error > atol + rtol * np.abs(expected))
    if not bad.any():
        return []
    error = np.where(np.isfinite(error), error, np.inf)
    index = np.unravel_index(int(np.argmax(np.where(bad, error, -1.0))), got.shape) if got.shape else ()
    worst = float(error[index]) if got.shape else float(error)
    return [f"{name}: {what} (max error {worst:.3g}{_where(index, got.shape, axis_name)})"]


def fit_scale(noise: Any, z: Any) -> float:
    """The least-squares c in ``noise ~ c * z`` (per call, z fixed): the noise's measured scale."""
    noise, z = as_array(noise).ravel(), as_array(z).ravel()
    return float(noise @ z / (z @ z))


# ---------------------------------------------------------------- closed forms (float64 numpy)


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal eq. 17 on the course's grid t = 0 ... T, betas clipped above at max_beta."""
    grid = np.arange(timesteps + 1, dtype=np.float64) / timesteps
    f = np.cos((grid + s) / (1.0 + s) * (math.pi / 2.0)) ** 2
    abar = f / f[0]
    return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


def linear_betas(timesteps: int, start: float = 1e-4, end: float = 0.02) -> np.ndarray:
    """Ho et al.'s linear schedule (1e-4 to 0.02 by default)."""
    return np.linspace(start, end, timesteps, dtype=np.float64)


def constants(betas: Any) -> dict[str, np.ndarray]:
    """Every schedule constant of Ho et al. 2020 (above eq. 4, eqs. 7 and 11), index t = paper step t + 1."""
    betas = np.asarray(betas, dtype=np.float64)
    alphas = 1.0 - betas
    abar = np.cumprod(alphas)
    abar_prev = np.concatenate(([1.0], abar[:-1]))
    return {
        "betas": betas,
        "alphas": alphas,
        "alphas_cumprod": abar,
        "alphas_cumprod_prev": abar_prev,
        "sqrt_recip_alphas": 1.0 / np.sqrt(alphas),
        "sqrt_alphas_cumprod": np.sqrt(abar),
        "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - abar),
        "posterior_variance": betas * (1.0 - abar_prev) / (1.0 - abar),
    }


CONSTANT_SOURCES = {
    "alphas": "alpha_t = 1 - beta_t",
    "alphas_cumprod": "abar_t = prod_{s<=t} alpha_s (Ho et al., above eq. 4)",
    "alphas_cumprod_prev": "abar_{t-1} with 1.0 at index 0",
    "sqrt_recip_alphas": "1 / sqrt(alpha_t) (Ho et al. eq. 11)",
    "sqrt_alphas_cumprod": "sqrt(abar_t) (Ho et al. eq. 4)",
    "sqrt_one_minus_alphas_cumprod": "sqrt(1 - abar_t) (Ho et al. eq. 4)",
    "posterior_variance": "beta~long_t = beta_t (1 - abar_{t-1}) / (1 - abar_t) (Ho et al. eq. 7)",
}


class ClosedFormSchedule:
    """A stand-in ``DiffusionSchedule`` built from the closed forms, so that the checks of the
    sampling and loss exercises do not depend on the solution's ``DiffusionSchedule``."""

    def __init__(self, betas: Any, sigma_squared: str = "posterior_variance") -> None:
        self.np = constants(betas)
        # Ho et al. Section 3.2 allow sigma_t^2 = beta_t too: there index 0's variance is not 0
        self.np["posterior_variance"] = self.np[sigma_squared]
        self.timesteps = len(self.np["betas"])
        for key, value in self.np.items():
            setattr(self, key, torch.tensor(value, dtype=torch.float64))

    def to(self, device: Any) -> "ClosedFormSchedule":
        for key in self.np:
            setattr(self, key, getattr(self, key).to(device))
        return self


class ToyEps(torch.nn.Module):
    """A fixed, cheap eps_theta(x, t) = 0.6 x + 0.2 tanh(x) + 0.01 (t + 1), with a closed form below."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(0.6, dtype=torch.float64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shift = 0.01 * (t.to(x.dtype) + 1.0).reshape(-1, *([1] * (x.ndim - 1)))
        return self.gain * x + 0.2 * torch.tanh(x) + shift


def toy_eps(x: np.ndarray, t: Any) -> np.ndarray:
    """``ToyEps`` in float64 numpy."""
    return 0.6 * x + 0.2 * np.tanh(x) + 0.01 * (np.asarray(t, dtype=np.float64) + 1.0).reshape(-1, *([1] * (x.ndim - 1)))


class ZeroEps(torch.nn.Module):
    """eps_theta = 0: with x_t = 0 every sampler's mean is 0, so its output is its noise term alone."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def long_t(values: Any) -> torch.Tensor:
    """Timesteps as the exercises take them: a long tensor."""
    return torch.tensor(values, dtype=torch.long)


def f64(array: Any) -> torch.Tensor:
    """A float64 tensor of ``array``."""
    return torch.tensor(array, dtype=torch.float64)


def per_sample(values: Any, ndim: int) -> np.ndarray:
    """One value per sample, shaped ``(B, 1, ..., 1)`` to broadcast over an ``ndim``-dimensional batch."""
    return np.asarray(values, dtype=np.float64).reshape(-1, *([1] * (ndim - 1)))


def diffusers_scheduler(timesteps: int, **config: Any) -> Any:
    """diffusers' ``DDPMScheduler`` with the cosine schedule, or None when diffusers is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from diffusers import DDPMScheduler
    except Exception:  # not installed, or an install that cannot load: no independent second opinion then
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DDPMScheduler(num_train_timesteps=timesteps, beta_schedule="squaredcos_cap_v2", **config)


def noise_and_mean(
    call_model: Callable[[], torch.Tensor], call_zero: Callable[[], torch.Tensor], seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a sampler's output in its mean and noise term: with the same seed it draws the same z,
    and on (eps = 0, x_t = 0) its mean is 0, so that call returns the noise term alone."""
    torch.manual_seed(seed)
    full = call_model()
    torch.manual_seed(seed)
    noise = call_zero()
    return full - noise, noise


def seeded_z(seed: int, like: torch.Tensor) -> torch.Tensor:
    """The z that ``torch.randn_like(like)`` draws right after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.randn_like(like)


def posterior_mean_np(c: dict[str, np.ndarray], t: int, x_t: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Ho et al. eq. 7's posterior mean from the closed-form constants ``c`` at index ``t``."""
    abar, abar_prev = c["alphas_cumprod"][t], c["alphas_cumprod_prev"][t]
    coef_x0 = np.sqrt(abar_prev) * c["betas"][t] / (1.0 - abar)
    coef_xt = np.sqrt(c["alphas"][t]) * (1.0 - abar_prev) / (1.0 - abar)
    return coef_x0 * x0 + coef_xt * x_t
