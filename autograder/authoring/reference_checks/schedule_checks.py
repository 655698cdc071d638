"""Reference checks of notebooks 01-03: the schedules, ``extract``, ``q_sample``, ``p_losses`` and the posterior."""

import numpy as np
import torch

from autograder.authoring.reference_checks.closed_forms import (
    CONSTANT_SOURCES,
    ClosedFormSchedule,
    ToyEps,
    as_array,
    constants,
    cosine_betas,
    differs,
    diffusers_scheduler,
    f64,
    linear_betas,
    long_t,
    per_sample,
    qualified,
    solution,
    toy_eps,
)


def check_cosine_beta_schedule() -> list[str]:
    name = qualified("cosine_beta_schedule")
    _, cosine_beta_schedule = solution("cosine_beta_schedule")
    found = []
    for timesteps, s, max_beta in ((1000, 0.008, 0.999), (50, 0.008, 0.999), (20, 0.02, 0.3)):
        betas = cosine_beta_schedule(timesteps, s=s, max_beta=max_beta)
        if not torch.is_tensor(betas) or betas.dtype != torch.float32:
            found.append(f"{name}: returned {type(betas).__name__} {getattr(betas, 'dtype', '')}, expected a float32 tensor")
            continue
        what = (
            f"betas for T={timesteps}, s={s}, max_beta={max_beta} differ from eq. 17 of Nichol & Dhariwal "
            "(f(t) = cos^2(((t/T) + s) / (1 + s) * pi/2), beta_t = 1 - abar_{t+1}/abar_t, clipped at max_beta)"
        )
        found += differs(name, what, betas, cosine_betas(timesteps, s, max_beta), rtol=2e-6, atol=1e-9)
    scheduler = diffusers_scheduler(1000)
    if scheduler is not None:
        found += differs(
            name,
            "betas for T=1000 differ from diffusers DDPMScheduler(beta_schedule='squaredcos_cap_v2')",
            cosine_beta_schedule(1000),
            as_array(scheduler.betas),
            rtol=1e-5,
            atol=1e-7,
        )
    return found


def check_DiffusionSchedule() -> list[str]:  # noqa: N802 - named after the exercise
    name = qualified("DiffusionSchedule")
    _, DiffusionSchedule = solution("DiffusionSchedule")  # noqa: N806
    rng = np.random.default_rng(1)
    cases = {
        "cosine T=1000": cosine_betas(1000),
        "linear T=50": linear_betas(50),
        "random T=12": rng.uniform(0.001, 0.5, size=12),
    }
    found = []
    for label, betas in cases.items():
        schedule = DiffusionSchedule(f64(betas))
        if schedule.timesteps != len(betas):
            found.append(f"{name}: timesteps is {schedule.timesteps!r} for {label}, expected {len(betas)}")
        for key, expected in constants(betas).items():
            if key == "betas":
                continue
            if not hasattr(schedule, key):
                found.append(f"{name}: has no attribute {key} ({CONSTANT_SOURCES[key]})")
                continue
            found += differs(name, f"{key} for {label} differs from {CONSTANT_SOURCES[key]}", getattr(schedule, key), expected)
    scheduler = diffusers_scheduler(1000)
    if scheduler is not None:
        schedule = DiffusionSchedule(scheduler.betas.clone())
        found += differs(
            name,
            "alphas_cumprod differs from diffusers DDPMScheduler (cosine, T=1000)",
            schedule.alphas_cumprod,
            as_array(scheduler.alphas_cumprod),
            rtol=1e-5,
            atol=1e-7,
        )
        if hasattr(scheduler, "_get_variance"):
            variance = np.array([float(scheduler._get_variance(t)) for t in range(1000)])
            found += differs(
                name,
                "posterior_variance differs from diffusers DDPMScheduler's fixed_small variance (cosine, T=1000)",
                schedule.posterior_variance,
                variance,
                rtol=1e-4,
                atol=1e-6,
            )
    return found


def check_extract() -> list[str]:
    name = qualified("extract")
    _, extract = solution("extract")
    a = np.linspace(0.25, 3.5, 9) ** 2
    t = np.array([0, 8, 3, 3, 5])
    found = []
    for x_shape in ((5, 2), (5, 1, 4, 4), (5, 2, 3, 1, 2), torch.Size((5, 3, 2, 2))):
        for dtype in (torch.int64, torch.int32):
            got = extract(f64(a), torch.tensor(t, dtype=dtype), x_shape)
            expected = a[t].reshape(len(t), *([1] * (len(x_shape) - 1)))
            what = f"a[t] reshaped to (B, 1, ..., 1) for x_shape {tuple(x_shape)} and t {dtype}: wrong values"
            found += differs(name, what, got, expected, rtol=0, atol=0, axis_name="batch")
    return found


def check_q_sample() -> list[str]:
    name = qualified("q_sample")
    _, q_sample = solution("q_sample")
    rng = np.random.default_rng(2)
    schedule = ClosedFormSchedule(cosine_betas(50))
    x_0 = rng.uniform(-1, 1, size=(4, 2, 3, 3))
    noise = rng.normal(size=x_0.shape)
    t = np.array([0, 17, 49, 30])
    abar = per_sample(schedule.np["alphas_cumprod"][t], x_0.ndim)
    expected = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
    got = q_sample(schedule, f64(x_0), long_t(t), noise=f64(noise))
    what = "x_t differs from Ho et al. eq. 4 (sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise)"
    return differs(name, what, got, expected)


def _huber(d):
    return np.where(np.abs(d) < 1.0, 0.5 * d**2, np.abs(d) - 0.5)


def check_p_losses() -> list[str]:
    name = qualified("p_losses")
    _, p_losses = solution("p_losses")
    rng = np.random.default_rng(3)
    schedule = ClosedFormSchedule(linear_betas(50))
    x_0 = rng.uniform(-1, 1, size=(3, 2, 4, 4))
    noise = 1.5 * rng.normal(size=x_0.shape)
    t = np.array([0, 25, 49])
    abar = per_sample(schedule.np["alphas_cumprod"][t], x_0.ndim)
    x_t = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
    d = toy_eps(x_t, t) - noise
    assert (np.abs(d) > 1).any() and (np.abs(d) < 1).any(), "the Huber case must see both branches"
    expected = {"l2": np.mean(d**2), "l1": np.mean(np.abs(d)), "huber": np.mean(_huber(d))}
    formulas = {"l2": "mean (eps_theta - eps)^2", "l1": "mean |eps_theta - eps|", "huber": "mean smooth-L1(eps_theta - eps)"}
    found = []
    for loss_type, value in expected.items():
        got = p_losses(ToyEps(), schedule, f64(x_0), long_t(t), noise=f64(noise), loss_type=loss_type)
        if not torch.is_tensor(got) or got.ndim != 0:
            shape = tuple(getattr(got, "shape", ()))
            found.append(f"{name}: loss_type={loss_type!r} returned {type(got).__name__} {shape}, expected a scalar tensor")
            continue
        what = f"loss_type={loss_type!r} differs from Ho et al. eq. 14 ({formulas[loss_type]} at x_t of eq. 4)"
        found += differs(name, what, got, value)
    got = p_losses(ToyEps(), schedule, f64(x_0), long_t(t), noise=f64(noise))
    found += differs(name, "the default loss_type is not the paper's mean squared error (eq. 14)", got, expected["l2"])
    return found


def check_q_posterior() -> list[str]:
    """Bayes' rule done numerically: on a grid of x_{t-1}, the product q(x_t | x_{t-1}) q(x_{t-1} | x_0),
    normalised, has the mean and variance the solution returns (eqs. 6-7 without using their formulas);
    index 0, where q(x_{t-1} | x_0) is the point x_0, must return x_0 and variance 0."""
    name = qualified("q_posterior")
    _, q_posterior = solution("q_posterior")
    found = []
    for label, betas in (("linear T=1000", linear_betas(1000)), ("cosine T=50", cosine_betas(50))):
        schedule = ClosedFormSchedule(betas)
        c = schedule.np
        T = len(betas)
        rng = np.random.default_rng(T)
        t = np.array([1, 2, T // 3, T // 2, T - 2, T - 1])
        x_0 = rng.uniform(-1, 1, size=(len(t), 1, 1, 1))
        x_t = rng.normal(size=(len(t), 1, 1, 1))
        mean, variance = q_posterior(schedule, f64(x_0), f64(x_t), long_t(t))
        grid_mean, grid_var = [], []
        for i, step in enumerate(t):
            prior_m, prior_v = np.sqrt(c["alphas_cumprod_prev"][step]) * x_0[i, 0, 0, 0], 1.0 - c["alphas_cumprod_prev"][step]
            sd = np.sqrt(min(prior_v, c["betas"][step] / c["alphas"][step]))
            centre = x_t[i, 0, 0, 0] / np.sqrt(c["alphas"][step]) if c["betas"][step] < prior_v else prior_m
            grid = centre + sd * np.linspace(-40, 40, 400001)
            log_density = -((x_t[i, 0, 0, 0] - np.sqrt(c["alphas"][step]) * grid) ** 2) / (2 * c["betas"][step])
            log_density = log_density - (grid - prior_m) ** 2 / (2 * prior_v)
            density = np.exp(log_density - log_density.max())
            density /= density.sum()
            m = float((grid * density).sum())
            grid_mean.append(m)
            grid_var.append(float(((grid - m) ** 2 * density).sum()))
        shape = (len(t), 1, 1, 1)
        what = f"{label}: the posterior mean differs from the normalised product of its two Gaussian factors"
        found += differs(name, what, mean, np.reshape(grid_mean, shape), rtol=1e-6, atol=1e-9, axis_name="case")
        what = f"{label}: the posterior variance differs from the normalised product of its two Gaussian factors"
        found += differs(name, what, variance, np.reshape(grid_var, shape), rtol=1e-5, atol=1e-12, axis_name="case")
        mean0, variance0 = q_posterior(schedule, f64(x_0), f64(x_t), long_t(np.zeros(len(t), dtype=np.int64)))
        found += differs(name, f"{label}: at index 0 the mean is not x_0", mean0, x_0)
        found += differs(name, f"{label}: at index 0 the variance is not 0", variance0, np.zeros(shape), atol=1e-15)
    return found
