"""Reference checks of notebooks 05 and 08: ``p_sample`` (and diffusers' DDPM step), ``p_sample_loop``,
``ddim_step`` and ``vlb_term``."""

import math
import warnings

import numpy as np
import torch

from autograder.authoring.reference_checks.closed_forms import (
    ClosedFormSchedule,
    ToyEps,
    ZeroEps,
    as_array,
    constants,
    cosine_betas,
    differs,
    diffusers_scheduler,
    f64,
    fit_scale,
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


def _ddpm_mean_np(c, t_index, x_t, clip):
    """Ho et al. eq. 11 (clip False) or eq. 7's posterior mean at the clamped x0_hat (clip True)."""
    eps = toy_eps(x_t, [t_index] * len(x_t))
    abar = c["alphas_cumprod"][t_index]
    if not clip:
        return (x_t - c["betas"][t_index] / np.sqrt(1.0 - abar) * eps) / np.sqrt(c["alphas"][t_index])
    x0 = np.clip((x_t - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar), -1.0, 1.0)
    return posterior_mean_np(c, t_index, x_t, x0)


def check_p_sample() -> list[str]:
    name = qualified("p_sample")
    _, p_sample = solution("p_sample")
    rng = np.random.default_rng(6)
    schedule = ClosedFormSchedule(cosine_betas(40))
    c = schedule.np
    found = []
    for clip in (False, True):
        x_t = (3.0 if clip else 1.0) * rng.normal(size=(3, 2, 4, 4))
        zeros = torch.zeros(x_t.shape, dtype=torch.float64)
        for t_index in (0, 1, 20, 39):
            t = long_t([t_index] * len(x_t))
            label = f"t_index={t_index}, clip_denoised={clip}"
            expected_mean = _ddpm_mean_np(c, t_index, x_t, clip)
            formula = "eq. 7's posterior mean at the clamped x0_hat" if clip else "Ho et al. eq. 11"
            mean, noise = noise_and_mean(
                lambda: p_sample(ToyEps(), schedule, f64(x_t), t, t_index, clip_denoised=clip),  # noqa: B023
                lambda: p_sample(ZeroEps(), schedule, zeros, t, t_index, clip_denoised=clip),  # noqa: B023
                seed=100 + t_index,
            )
            found += differs(name, f"{label}: the mean differs from {formula}", mean, expected_mean)
            z = seeded_z(100 + t_index, zeros)
            std = 0.0 if t_index == 0 else math.sqrt(c["posterior_variance"][t_index])
            if differs(name, "", noise, std * z.numpy()):
                rule = "no noise at index 0 (Algorithm 2: z = 0 at t = 1)" if t_index == 0 else "sqrt(posterior_variance_t) * z"
                measured = fit_scale(noise, z)
                found.append(f"{name}: {label}: the noise term is not {rule}: measured scale {measured:.4g}, expected {std:.4g}")
    # beta~ at index 0 is 0, which hides a noise term added there: repeat index 0 with sigma_t^2 = beta_t
    large = ClosedFormSchedule(cosine_betas(40), sigma_squared="betas")
    for clip in (False, True):
        x_t = 2.0 * rng.normal(size=(2, 1, 4, 4))
        torch.manual_seed(99)
        got = p_sample(ToyEps(), large, f64(x_t), long_t([0, 0]), 0, clip_denoised=clip)
        what = f"t_index=0, clip_denoised={clip}, with sigma_t^2 = beta_t: not the mean alone (Algorithm 2: z = 0 at t = 1)"
        found += differs(name, what, got, _ddpm_mean_np(large.np, 0, x_t, clip))
    scheduler = diffusers_scheduler(1000, clip_sample=False, variance_type="fixed_small")
    if scheduler is not None:
        found += _p_sample_vs_diffusers(name, p_sample, scheduler, rng)
    return found


def _p_sample_vs_diffusers(name, p_sample, scheduler, rng):
    """One DDPM step's mean against diffusers' DDPMScheduler.step (which goes through x0_hat and eq. 7)."""
    found = []
    schedule = ClosedFormSchedule(as_array(scheduler.betas))
    x_t = rng.normal(size=(2, 1, 4, 4))
    zeros = torch.zeros(x_t.shape, dtype=torch.float64)
    for t_index in (0, 1, 500, 900):
        t = long_t([t_index] * len(x_t))
        eps = ToyEps()(f64(x_t), t).detach()

        def step(output, sample, t_index=t_index):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                generator = torch.Generator().manual_seed(7)
                return scheduler.step(output, t_index, sample, generator=generator).prev_sample

        expected = step(eps, f64(x_t)) - step(torch.zeros_like(eps), zeros)
        mean, _ = noise_and_mean(
            lambda: p_sample(ToyEps(), schedule, f64(x_t), t, t_index),  # noqa: B023
            lambda: p_sample(ZeroEps(), schedule, zeros, t, t_index),  # noqa: B023
            seed=200 + t_index,
        )
        what = f"t_index={t_index}: the mean differs from diffusers DDPMScheduler.step (cosine, T=1000)"
        # diffusers works in float32 (3e-5 off at t_index=1, where 1 - abar_t / abar_{t-1} cancels)
        found += differs(name, what, mean, expected.numpy(), rtol=1e-4, atol=1e-4)
    return found


def check_p_sample_loop() -> list[str]:
    name = qualified("p_sample_loop")
    module, p_sample_loop = solution("p_sample_loop")
    schedule = ClosedFormSchedule(linear_betas(6, 0.05, 0.3))
    shape = (2, 1, 3, 3)
    calls = []

    def recording_p_sample(model, schedule_, x, t, t_index, clip_denoised=False):
        calls.append((t.detach().clone(), t_index, clip_denoised))
        return 0.5 * x + (t_index + 1.0)

    def run(**kwargs):
        calls.clear()
        original = module.p_sample
        module.p_sample = recording_p_sample
        try:
            generator = torch.Generator().manual_seed(11)
            return p_sample_loop(ToyEps(), schedule, shape, progress=False, generator=generator, **kwargs)
        finally:
            module.p_sample = original

    found = []
    order = list(range(schedule.timesteps - 1, -1, -1))
    start = torch.randn(shape, generator=torch.Generator().manual_seed(11), dtype=torch.float32).double().numpy()
    chain = [start]
    for t_index in order:
        chain.append(0.5 * chain[-1] + (t_index + 1.0))
    for clip in (False, True):
        final = run(clip_denoised=clip)
        seen = [call[1] for call in calls]
        if seen != order:
            found.append(f"{name}: clip_denoised={clip}: called p_sample with t_index {seen}, expected {order} (Algorithm 2)")
        for t, t_index, passed_clip in calls:
            if t.dtype != torch.long or tuple(t.shape) != (shape[0],) or bool((t != t_index).any()):
                found.append(f"{name}: t given with t_index={t_index} is {t.tolist()} ({t.dtype}), expected (B,) long")
                break
            if passed_clip != clip:
                found.append(f"{name}: clip_denoised={clip} reached p_sample as {passed_clip!r}")
                break
        what = f"clip_denoised={clip}: the result is not x_0 after the chain of p_sample calls"
        found += differs(name, what, final, chain[-1], rtol=1e-6)
    history = run(return_all=True)
    if not isinstance(history, (list, tuple)) or len(history) != len(chain):
        count = len(history) if isinstance(history, (list, tuple)) else type(history).__name__
        found.append(f"{name}: return_all=True gave {count} items, expected T + 1 = {len(chain)} (x_T ... x_0)")
    else:
        for step, (got, expected) in enumerate(zip(history, chain)):
            found += differs(name, f"return_all=True: item {step} is not x at that step (x_T first)", got, expected, rtol=1e-6)
    return found


def _ddim_np(c, x_t, t, t_prev, eta, clip):
    """Song et al. 2021 eq. 12 with sigma of eq. 16: the deterministic part and sigma."""
    eps = toy_eps(x_t, [t] * len(x_t))
    abar = c["alphas_cumprod"][t]
    abar_prev = c["alphas_cumprod"][t_prev] if t_prev >= 0 else 1.0
    x0 = (x_t - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar)
    if clip:
        x0 = np.clip(x0, -1.0, 1.0)
        eps = (x_t - np.sqrt(abar) * x0) / np.sqrt(1.0 - abar)
    sigma = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar) * (1.0 - abar / abar_prev))
    direction = np.sqrt(max(1.0 - abar_prev - sigma**2, 0.0)) * eps
    return np.sqrt(abar_prev) * x0 + direction, sigma


def check_ddim_step() -> list[str]:
    name = qualified("ddim_step")
    _, ddim_step = solution("ddim_step")
    rng = np.random.default_rng(8)
    schedule = ClosedFormSchedule(cosine_betas(50))
    c = schedule.np
    x_t = 1.5 * rng.normal(size=(3, 2, 4, 4))
    zeros = torch.zeros(x_t.shape, dtype=torch.float64)
    found = []
    for t_index, t_prev in ((49, 37), (20, 19), (5, -1), (1, 0)):
        t = long_t([t_index] * len(x_t))
        for eta in (0.0, 0.5, 1.0):
            for clip in (False, True):
                label = f"t={t_index} -> t_prev={t_prev}, eta={eta}, clip_denoised={clip}"
                seed = 300 + t_index
                mean, noise = noise_and_mean(
                    lambda: ddim_step(ToyEps(), schedule, f64(x_t), t, t_prev, eta=eta, clip_denoised=clip),  # noqa: B023
                    lambda: ddim_step(ZeroEps(), schedule, zeros, t, t_prev, eta=eta, clip_denoised=clip),  # noqa: B023
                    seed=seed,
                )
                expected, sigma = _ddim_np(c, x_t, t_index, t_prev, eta, clip)
                what = f"{label}: sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps differs from Song et al. eq. 12"
                found += differs(name, what, mean, expected)
                z = seeded_z(seed, zeros)
                if differs(name, "", noise, sigma * z.numpy()):
                    found.append(
                        f"{name}: {label}: the noise term is not sigma * z with sigma of Song et al. eq. 16: "
                        f"measured scale {fit_scale(noise, z):.4g}, expected {sigma:.4g}"
                    )
                if eta == 1.0 and t_prev == t_index - 1 and t_prev >= 0:
                    ddpm_std = math.sqrt(c["posterior_variance"][t_index])
                    measured = fit_scale(noise, z)
                    if abs(measured - ddpm_std) > 1e-9 * max(ddpm_std, 1.0):
                        found.append(
                            f"{name}: {label}: eta=1 on consecutive steps should give DDPM's noise std "
                            f"sqrt(posterior_variance) = {ddpm_std:.4g} (Song et al. Section 4.1), got {measured:.4g}"
                        )
    return found


def _gaussian_kl_bits_np(m_q, v_q, m_p, v_p):
    """KL(N(m_q, v_q) || N(m_p, v_p)) per dimension, by numerical integration over a grid (not the
    closed form), averaged over the non-batch axes, in bits."""
    grid = np.linspace(-12.0, 12.0, 4001)  # in units of q's standard deviation
    x = m_q[..., None] + np.sqrt(v_q)[..., None] * grid
    log_q = -0.5 * np.log(2 * math.pi * v_q)[..., None] - 0.5 * grid**2
    log_p = -0.5 * np.log(2 * math.pi * v_p)[..., None] - (x - m_p[..., None]) ** 2 / (2 * v_p[..., None])
    weight = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi) * (grid[1] - grid[0])
    kl = ((log_q - log_p) * weight).sum(-1)
    return kl.reshape(kl.shape[0], -1).mean(1) / math.log(2.0)


def check_vlb_term() -> list[str]:
    """Ho et al. eq. 5's L_{t-1}: eq. 4 for x_t, eqs. 6-7 for q(x_{t-1} | x_t, x_0), eq. 11 for p_theta's
    mean, sigma_t^2 = beta~long_t or beta_t, and the KL integrated numerically."""
    name = qualified("vlb_term")
    _, vlb_term = solution("vlb_term")
    rng = np.random.default_rng(12)
    found = []
    for betas in (linear_betas(100), cosine_betas(40)):
        schedule, c = ClosedFormSchedule(betas), constants(betas)
        T = len(betas)
        x_0 = rng.uniform(-1.0, 1.0, size=(3, 2, 3, 3))
        noise = rng.normal(size=x_0.shape)
        t = np.array([1, T // 2, T - 1])
        nd = x_0.ndim
        abar = per_sample(c["alphas_cumprod"][t], nd)
        x_t = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
        abar_prev, beta, alpha = (per_sample(c[key][t], nd) for key in ("alphas_cumprod_prev", "betas", "alphas"))
        mean_q = np.sqrt(abar_prev) * beta / (1.0 - abar) * x_0 + np.sqrt(alpha) * (1.0 - abar_prev) / (1.0 - abar) * x_t
        var_q = per_sample(c["posterior_variance"][t], nd) * np.ones_like(x_0)
        eps = toy_eps(x_t, t)
        mean_p = (x_t - beta / np.sqrt(1.0 - abar) * eps) / np.sqrt(alpha)
        for variance, var_p in (("posterior", var_q), ("beta", beta * np.ones_like(x_0))):
            expected = _gaussian_kl_bits_np(mean_q, var_q, mean_p, var_p)
            got = vlb_term(ToyEps(), schedule, f64(x_0), long_t(t), noise=f64(noise), variance=variance)
            what = f"T={T}, t={t.tolist()}, variance={variance!r}: differs from the KL of eq. 5's L_(t-1) in bits/dim"
            found += differs(name, what, got, expected, rtol=1e-6, atol=1e-9, axis_name="image")
    return found
