"""Reference checks of notebook 10, classifier-free guidance (Ho & Salimans 2022): ``p_losses_cfg`` and
``p_sample_guided``."""

import math

import numpy as np
import torch

from autograder.authoring.reference_checks.closed_forms import (
    ClosedFormSchedule,
    ToyEps,
    ZeroEps,
    cosine_betas,
    differs,
    f64,
    linear_betas,
    long_t,
    noise_and_mean,
    per_sample,
    posterior_mean_np,
    qualified,
    seeded_z,
    solution,
    toy_eps,
)

TOY_OFFSETS = np.array([0.3, -0.5, 0.8, -0.2])  # classes 0, 1, 2 and, last, the "no class" token 3


class _ToyClassEps(torch.nn.Module):
    """``ToyEps`` plus a fixed offset per label (None: the no-class token); records the labels of every call."""

    num_classes = len(TOY_OFFSETS) - 1

    def __init__(self, zero=False):
        super().__init__()
        self.base = ZeroEps() if zero else ToyEps()
        self.calls = []

    def forward(self, x, t, class_labels=None):
        if class_labels is None:
            class_labels = torch.full((x.shape[0],), self.num_classes, dtype=torch.long)
        labels = torch.as_tensor(class_labels).long()
        self.calls.append(labels.clone())
        if isinstance(self.base, ZeroEps):
            return torch.zeros_like(x)
        return self.base(x, t) + f64(TOY_OFFSETS)[labels].reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)


def _toy_class_eps(x, t, labels):
    return toy_eps(x, t) + per_sample(TOY_OFFSETS[np.asarray(labels)], x.ndim)


def check_p_losses_cfg() -> list[str]:
    name = qualified("p_losses_cfg")
    _, p_losses_cfg = solution("p_losses_cfg")
    rng = np.random.default_rng(12)
    schedule = ClosedFormSchedule(linear_betas(50))
    K = _ToyClassEps.num_classes
    x_0 = rng.uniform(-1, 1, size=(4, 2, 3, 3))
    noise = rng.normal(size=x_0.shape)
    t, labels = np.array([0, 10, 30, 49]), np.array([2, 0, 1, 1])
    abar = per_sample(schedule.np["alphas_cumprod"][t], x_0.ndim)
    x_t = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
    found = []
    for mask in ([True, False, False, True], [False] * 4, [True] * 4):
        used = np.where(mask, K, labels)
        expected = np.mean((_toy_class_eps(x_t, t, used) - noise) ** 2)
        got = p_losses_cfg(
            _ToyClassEps(),
            schedule,
            f64(x_0),
            long_t(t),
            long_t(labels),
            0.5,
            f64(noise),
            torch.tensor(mask),
        )
        what = f"drop_mask={mask}: the mean squared error with dropped labels replaced by the no-class token {K} differs"
        found += differs(name, what, got, expected)
    n = 20000
    big = long_t(np.arange(n) % K)
    for p in (0.0, 0.3, 1.0):
        model = _ToyClassEps()
        torch.manual_seed(5)
        p_losses_cfg(model, schedule, torch.zeros(n, 1, 1, 1, dtype=torch.float64), long_t([3] * n), big, p)
        seen = model.calls[-1]
        dropped = seen == K
        share = float(dropped.double().mean())
        if not torch.equal(seen[~dropped], big[~dropped]):
            found.append(f"{name}: p_uncond={p}: labels that were not dropped reached the model changed")
        if abs(share - p) > (5.0 * math.sqrt(p * (1.0 - p) / n) if 0 < p < 1 else 0.0):
            found.append(
                f"{name}: p_uncond={p}: {share:.4f} of {n} labels dropped (Ho & Salimans Algorithm 1: each with p_uncond)"
            )
    return found


def check_p_sample_guided() -> list[str]:
    name = qualified("p_sample_guided")
    _, p_sample_guided = solution("p_sample_guided")
    rng = np.random.default_rng(13)
    schedule = ClosedFormSchedule(cosine_betas(40))
    c = schedule.np
    K = _ToyClassEps.num_classes
    labels = np.array([2, 0, 1])
    found = []
    for clip in (False, True):
        x_t = (3.0 if clip else 1.0) * rng.normal(size=(3, 2, 4, 4))
        zeros = torch.zeros(x_t.shape, dtype=torch.float64)
        for t_index in (0, 1, 20, 39):
            t = long_t([t_index] * len(x_t))
            for w in (0.0, 1.5, 7.0):
                label = f"t_index={t_index}, w={w}, clip_denoised={clip}"
                seed = 700 + t_index
                mean, noise = noise_and_mean(
                    lambda: p_sample_guided(_ToyClassEps(), schedule, f64(x_t), t, t_index, long_t(labels), w, clip),  # noqa: B023
                    lambda: p_sample_guided(_ToyClassEps(zero=True), schedule, zeros, t, t_index, long_t(labels), w, clip),  # noqa: B023
                    seed=seed,
                )
                steps = [t_index] * len(x_t)
                eps = (1.0 + w) * _toy_class_eps(x_t, steps, labels) - w * _toy_class_eps(x_t, steps, [K] * len(x_t))
                abar = c["alphas_cumprod"][t_index]
                if clip:
                    x0 = np.clip((x_t - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar), -1.0, 1.0)
                    expected = posterior_mean_np(c, t_index, x_t, x0)
                else:
                    expected = (x_t - c["betas"][t_index] / np.sqrt(1.0 - abar) * eps) / np.sqrt(c["alphas"][t_index])
                what = f"{label}: the mean of Ho et al. eq. 11 (eq. 7 when clipped) with (1 + w) eps(c) - w eps(no class) differs"
                found += differs(name, what, mean, expected)
                std = math.sqrt(c["posterior_variance"][t_index]) if t_index > 0 else 0.0
                found += differs(
                    name, f"{label}: the noise term is not sqrt(posterior_variance) z", noise, std * seeded_z(seed, zeros)
                )
    return found
