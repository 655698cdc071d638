"""Check the reference solutions against the papers, independently of the reference itself.

``python -m autograder validate`` proves that the reference scores full marks on the hidden
tests, but the hidden tests compare a student with the reference: a wrong reference formula
would pass. This module recomputes what every exercise must return from the papers' closed
forms (float64 numpy; plain torch functional ops from the module's own ``state_dict`` for the
network pieces) and compares it with whatever ``solutions`` package is importable now.

``problems()`` returns one line per disagreement, each naming the function or class, e.g.
``solutions.schedules.cosine_beta_schedule: betas ... differ from eq. 17 of Nichol & Dhariwal
(max error 0.3 at t=999)``; an empty list means every check passed. ``CHECKS`` maps each
exercise id to its check. Where ``diffusers`` is installed, the schedules and one DDPM step are
also compared with its ``DDPMScheduler``; without it those comparisons are skipped.
"""

import importlib
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

MODULES = {
    "cosine_beta_schedule": "schedules",
    "DiffusionSchedule": "schedules",
    "extract": "schedules",
    "q_sample": "forward",
    "p_losses": "losses",
    "q_posterior": "posterior",
    "SinusoidalPositionEmbeddings": "unet",
    "Block": "unet",
    "ResnetBlock": "unet",
    "p_sample": "sampling",
    "p_sample_loop": "sampling",
    "ddim_step": "ddim",
    "vlb_term": "likelihood",
    "p_losses_cfg": "guidance",
    "p_sample_guided": "guidance",
}

GROUPNORM_EPS = 1e-5  # torch's default, which the reference's nn.GroupNorm uses


def _qualified(exercise):
    return f"solutions.{MODULES[exercise]}.{exercise}"


def _solution(exercise):
    """The solution's module and the exercise's object in it."""
    module = importlib.import_module(f"solutions.{MODULES[exercise]}")
    return module, getattr(module, exercise)


# ---------------------------------------------------------------- comparison


def _as_array(value):
    if torch.is_tensor(value):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _where(index, shape, axis_name):
    if not shape:
        return ""
    if len(shape) == 1:
        return f" at {axis_name}={index[0]}"
    return f" at index {tuple(int(i) for i in index)}"


def _differs(name, what, got, expected, *, rtol=1e-9, atol=1e-12, axis_name="t"):
    """``[]`` when ``got`` matches ``expected`` elementwise, else one problem line."""
    got = _as_array(got)
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


def _fit_scale(noise, z):
    """The least-squares c in ``noise ~ c * z`` (per call, z fixed): the noise's measured scale."""
    noise, z = _as_array(noise).ravel(), _as_array(z).ravel()
    return float(noise @ z / (z @ z))


# ---------------------------------------------------------------- closed forms (float64 numpy)


def _cosine_betas(timesteps, s=0.008, max_beta=0.999):
    """Nichol & Dhariwal eq. 17 on the course's grid t = 0 ... T, betas clipped above at max_beta."""
    grid = np.arange(timesteps + 1, dtype=np.float64) / timesteps
    f = np.cos((grid + s) / (1.0 + s) * (math.pi / 2.0)) ** 2
    abar = f / f[0]
    return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


def _linear_betas(timesteps, start=1e-4, end=0.02):
    return np.linspace(start, end, timesteps, dtype=np.float64)


def _constants(betas):
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
    "posterior_variance": "beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t) (Ho et al. eq. 7)",
}


class _Schedule:
    """A stand-in ``DiffusionSchedule`` built from the closed forms, so that the checks of the
    sampling and loss exercises do not depend on the solution's ``DiffusionSchedule``."""

    def __init__(self, betas, sigma_squared="posterior_variance"):
        self.np = _constants(betas)
        # Ho et al. Section 3.2 allow sigma_t^2 = beta_t too: there index 0's variance is not 0
        self.np["posterior_variance"] = self.np[sigma_squared]
        self.timesteps = len(self.np["betas"])
        for key, value in self.np.items():
            setattr(self, key, torch.tensor(value, dtype=torch.float64))

    def to(self, device):
        for key in self.np:
            setattr(self, key, getattr(self, key).to(device))
        return self


class _ToyEps(torch.nn.Module):
    """A fixed, cheap eps_theta(x, t) = 0.6 x + 0.2 tanh(x) + 0.01 (t + 1), with a closed form below."""

    def __init__(self):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(0.6, dtype=torch.float64))

    def forward(self, x, t):
        shift = 0.01 * (t.to(x.dtype) + 1.0).reshape(-1, *([1] * (x.ndim - 1)))
        return self.gain * x + 0.2 * torch.tanh(x) + shift


def _toy_eps(x, t):
    return 0.6 * x + 0.2 * np.tanh(x) + 0.01 * (np.asarray(t, dtype=np.float64) + 1.0).reshape(-1, *([1] * (x.ndim - 1)))


class _ZeroEps(torch.nn.Module):
    """eps_theta = 0: with x_t = 0 every sampler's mean is 0, so its output is its noise term alone."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x, t):
        return torch.zeros_like(x)


def _t(values):
    return torch.tensor(values, dtype=torch.long)


def _tensor(array):
    return torch.tensor(array, dtype=torch.float64)


def _bcast(values, ndim):
    return np.asarray(values, dtype=np.float64).reshape(-1, *([1] * (ndim - 1)))


def _diffusers_scheduler(timesteps, **config):
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


# ---------------------------------------------------------------- one check per exercise


def check_cosine_beta_schedule():
    name = _qualified("cosine_beta_schedule")
    _, cosine_beta_schedule = _solution("cosine_beta_schedule")
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
        found += _differs(name, what, betas, _cosine_betas(timesteps, s, max_beta), rtol=2e-6, atol=1e-9)
    scheduler = _diffusers_scheduler(1000)
    if scheduler is not None:
        found += _differs(
            name,
            "betas for T=1000 differ from diffusers DDPMScheduler(beta_schedule='squaredcos_cap_v2')",
            cosine_beta_schedule(1000),
            _as_array(scheduler.betas),
            rtol=1e-5,
            atol=1e-7,
        )
    return found


def check_DiffusionSchedule():  # noqa: N802 - named after the exercise
    name = _qualified("DiffusionSchedule")
    _, DiffusionSchedule = _solution("DiffusionSchedule")  # noqa: N806
    rng = np.random.default_rng(1)
    cases = {
        "cosine T=1000": _cosine_betas(1000),
        "linear T=50": _linear_betas(50),
        "random T=12": rng.uniform(0.001, 0.5, size=12),
    }
    found = []
    for label, betas in cases.items():
        schedule = DiffusionSchedule(_tensor(betas))
        if schedule.timesteps != len(betas):
            found.append(f"{name}: timesteps is {schedule.timesteps!r} for {label}, expected {len(betas)}")
        for key, expected in _constants(betas).items():
            if key == "betas":
                continue
            if not hasattr(schedule, key):
                found.append(f"{name}: has no attribute {key} ({CONSTANT_SOURCES[key]})")
                continue
            found += _differs(name, f"{key} for {label} differs from {CONSTANT_SOURCES[key]}", getattr(schedule, key), expected)
    scheduler = _diffusers_scheduler(1000)
    if scheduler is not None:
        schedule = DiffusionSchedule(scheduler.betas.clone())
        found += _differs(
            name,
            "alphas_cumprod differs from diffusers DDPMScheduler (cosine, T=1000)",
            schedule.alphas_cumprod,
            _as_array(scheduler.alphas_cumprod),
            rtol=1e-5,
            atol=1e-7,
        )
        if hasattr(scheduler, "_get_variance"):
            variance = np.array([float(scheduler._get_variance(t)) for t in range(1000)])
            found += _differs(
                name,
                "posterior_variance differs from diffusers DDPMScheduler's fixed_small variance (cosine, T=1000)",
                schedule.posterior_variance,
                variance,
                rtol=1e-4,
                atol=1e-6,
            )
    return found


def check_extract():
    name = _qualified("extract")
    _, extract = _solution("extract")
    a = np.linspace(0.25, 3.5, 9) ** 2
    t = np.array([0, 8, 3, 3, 5])
    found = []
    for x_shape in ((5, 2), (5, 1, 4, 4), (5, 2, 3, 1, 2), torch.Size((5, 3, 2, 2))):
        for dtype in (torch.int64, torch.int32):
            got = extract(_tensor(a), torch.tensor(t, dtype=dtype), x_shape)
            expected = a[t].reshape(len(t), *([1] * (len(x_shape) - 1)))
            what = f"a[t] reshaped to (B, 1, ..., 1) for x_shape {tuple(x_shape)} and t {dtype}: wrong values"
            found += _differs(name, what, got, expected, rtol=0, atol=0, axis_name="batch")
    return found


def check_q_sample():
    name = _qualified("q_sample")
    _, q_sample = _solution("q_sample")
    rng = np.random.default_rng(2)
    schedule = _Schedule(_cosine_betas(50))
    x_0 = rng.uniform(-1, 1, size=(4, 2, 3, 3))
    noise = rng.normal(size=x_0.shape)
    t = np.array([0, 17, 49, 30])
    abar = _bcast(schedule.np["alphas_cumprod"][t], x_0.ndim)
    expected = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
    got = q_sample(schedule, _tensor(x_0), _t(t), noise=_tensor(noise))
    what = "x_t differs from Ho et al. eq. 4 (sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise)"
    return _differs(name, what, got, expected)


def _huber(d):
    return np.where(np.abs(d) < 1.0, 0.5 * d**2, np.abs(d) - 0.5)


def check_p_losses():
    name = _qualified("p_losses")
    _, p_losses = _solution("p_losses")
    rng = np.random.default_rng(3)
    schedule = _Schedule(_linear_betas(50))
    x_0 = rng.uniform(-1, 1, size=(3, 2, 4, 4))
    noise = 1.5 * rng.normal(size=x_0.shape)
    t = np.array([0, 25, 49])
    abar = _bcast(schedule.np["alphas_cumprod"][t], x_0.ndim)
    x_t = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
    d = _toy_eps(x_t, t) - noise
    assert (np.abs(d) > 1).any() and (np.abs(d) < 1).any(), "the Huber case must see both branches"
    expected = {"l2": np.mean(d**2), "l1": np.mean(np.abs(d)), "huber": np.mean(_huber(d))}
    formulas = {"l2": "mean (eps_theta - eps)^2", "l1": "mean |eps_theta - eps|", "huber": "mean smooth-L1(eps_theta - eps)"}
    found = []
    for loss_type, value in expected.items():
        got = p_losses(_ToyEps(), schedule, _tensor(x_0), _t(t), noise=_tensor(noise), loss_type=loss_type)
        if not torch.is_tensor(got) or got.ndim != 0:
            shape = tuple(getattr(got, "shape", ()))
            found.append(f"{name}: loss_type={loss_type!r} returned {type(got).__name__} {shape}, expected a scalar tensor")
            continue
        what = f"loss_type={loss_type!r} differs from Ho et al. eq. 14 ({formulas[loss_type]} at x_t of eq. 4)"
        found += _differs(name, what, got, value)
    got = p_losses(_ToyEps(), schedule, _tensor(x_0), _t(t), noise=_tensor(noise))
    found += _differs(name, "the default loss_type is not the paper's mean squared error (eq. 14)", got, expected["l2"])
    return found


def check_q_posterior():
    """Bayes' rule done numerically: on a grid of x_{t-1}, the product q(x_t | x_{t-1}) q(x_{t-1} | x_0),
    normalised, has the mean and variance the solution returns (eqs. 6-7 without using their formulas);
    index 0, where q(x_{t-1} | x_0) is the point x_0, must return x_0 and variance 0."""
    name = _qualified("q_posterior")
    _, q_posterior = _solution("q_posterior")
    found = []
    for label, betas in (("linear T=1000", _linear_betas(1000)), ("cosine T=50", _cosine_betas(50))):
        schedule = _Schedule(betas)
        c = schedule.np
        T = len(betas)
        rng = np.random.default_rng(T)
        t = np.array([1, 2, T // 3, T // 2, T - 2, T - 1])
        x_0 = rng.uniform(-1, 1, size=(len(t), 1, 1, 1))
        x_t = rng.normal(size=(len(t), 1, 1, 1))
        mean, variance = q_posterior(schedule, _tensor(x_0), _tensor(x_t), _t(t))
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
        found += _differs(name, what, mean, np.reshape(grid_mean, shape), rtol=1e-6, atol=1e-9, axis_name="case")
        what = f"{label}: the posterior variance differs from the normalised product of its two Gaussian factors"
        found += _differs(name, what, variance, np.reshape(grid_var, shape), rtol=1e-5, atol=1e-12, axis_name="case")
        mean0, variance0 = q_posterior(schedule, _tensor(x_0), _tensor(x_t), _t(np.zeros(len(t), dtype=np.int64)))
        found += _differs(name, f"{label}: at index 0 the mean is not x_0", mean0, x_0)
        found += _differs(name, f"{label}: at index 0 the variance is not 0", variance0, np.zeros(shape), atol=1e-15)
    return found


def _sinusoidal(time, dim):
    half = dim // 2
    freqs = 10000.0 ** (-np.arange(half, dtype=np.float64) / (half - 1))
    args = np.asarray(time, dtype=np.float64)[:, None] * freqs[None, :]
    return np.concatenate((np.sin(args), np.cos(args)), axis=1)


def check_SinusoidalPositionEmbeddings():  # noqa: N802 - named after the exercise
    name = _qualified("SinusoidalPositionEmbeddings")
    _, Embeddings = _solution("SinusoidalPositionEmbeddings")  # noqa: N806
    found = []
    times = {"int": torch.tensor([0, 1, 5, 250, 999]), "float": torch.tensor([0.5, 3.25, 42.0])}
    for dim in (4, 10, 32):
        module = Embeddings(dim)
        for kind, time in times.items():
            with torch.no_grad():
                got = module(time)
            what = (
                f"dim={dim}, {kind} times: differs from [sin(t w_i), cos(t w_i)], w_i = 10000^(-i/(half-1)) "
                "(Vaswani et al. 3.5, the course's layout: sines first)"
            )
            # float32 arithmetic: t * w_i carries a relative error ~1e-7, ~1e-5 at t = 999 (mistakes are O(1))
            found += _differs(name, what, got, _sinusoidal(time.numpy(), dim), rtol=0, atol=1e-4)
    return found


def _group_norm(h, groups, weight, bias):
    b, c = h.shape[:2]
    grouped = h.reshape(b, groups, -1)
    mean = grouped.mean(dim=-1, keepdim=True)
    var = ((grouped - mean) ** 2).mean(dim=-1, keepdim=True)
    normed = ((grouped - mean) / torch.sqrt(var + GROUPNORM_EPS)).reshape(h.shape)
    return normed * weight.reshape(1, c, 1, 1) + bias.reshape(1, c, 1, 1)


def _block(params, prefix, x, groups, scale_shift=None):
    """Block as its docstring says: conv3x3 (padding 1) -> GroupNorm -> x (scale + 1) + shift -> SiLU."""
    h = F.conv2d(x, params[f"{prefix}proj.weight"], params[f"{prefix}proj.bias"], padding=1)
    h = _group_norm(h, groups, params[f"{prefix}norm.weight"], params[f"{prefix}norm.bias"])
    if scale_shift is not None:
        scale, shift = scale_shift
        h = h * (scale + 1.0) + shift
    return h * torch.sigmoid(h)


def _randomize(module, rng):
    """Give every parameter a random float64 value (GroupNorm's default 1 / 0 would hide mistakes)."""
    module.double()
    params = {}
    for key, value in module.state_dict().items():
        base = 1.0 if key.endswith("norm.weight") else 0.0
        params[key] = _tensor(base + 0.4 * rng.normal(size=tuple(value.shape)))
    module.load_state_dict(params)
    return params


def check_Block():  # noqa: N802 - named after the exercise
    name = _qualified("Block")
    _, Block = _solution("Block")  # noqa: N806
    rng = np.random.default_rng(4)
    found = []
    for dim, dim_out, groups in ((3, 8, 4), (4, 6, 3)):
        block = Block(dim, dim_out, groups=groups)
        params = _randomize(block, rng)
        missing = sorted({"proj.weight", "proj.bias", "norm.weight", "norm.bias"} - set(params))
        if missing:
            return [f"{name}: state_dict lacks {missing} (the docstring's self.proj, self.norm, self.act)"]
        x = _tensor(rng.normal(size=(2, dim, 5, 6)))
        scale_shift = tuple(_tensor(0.5 * rng.normal(size=(2, dim_out, 1, 1))) for _ in range(2))
        for label, film in (("without scale_shift", None), ("with scale_shift", scale_shift)):
            with torch.no_grad():
                got = block(x, scale_shift=film) if film is not None else block(x)
            expected = _block(params, "", x, groups, film)
            what = (
                f"Block({dim}, {dim_out}, groups={groups}) {label} differs from "
                "conv3x3 -> GroupNorm -> x * (scale + 1) + shift -> SiLU"
            )
            found += _differs(name, what, got, expected.numpy(), rtol=1e-9, atol=1e-10)
    return found


def check_ResnetBlock():  # noqa: N802 - named after the exercise
    name = _qualified("ResnetBlock")
    _, ResnetBlock = _solution("ResnetBlock")  # noqa: N806
    rng = np.random.default_rng(5)
    found = []
    groups = 4
    for dim, dim_out, time_emb_dim in ((4, 8, 6), (8, 8, 6), (4, 8, None)):
        block = ResnetBlock(dim, dim_out, time_emb_dim=time_emb_dim, groups=groups)
        params = _randomize(block, rng)
        x = _tensor(rng.normal(size=(3, dim, 4, 5)))
        time_emb = _tensor(rng.normal(size=(3, time_emb_dim or 6)))
        for label, emb in (("with time_emb", time_emb), ("with time_emb=None", None)):
            with torch.no_grad():
                got = block(x, emb)
            film = None
            if time_emb_dim and emb is not None:
                # the provided self.mlp: SiLU, then Linear to 2 * dim_out; first half scale, second shift
                out = F.linear(emb * torch.sigmoid(emb), params["mlp.1.weight"], params["mlp.1.bias"])
                film = (out[:, :dim_out, None, None], out[:, dim_out:, None, None])
            h = _block(params, "block1.", x, groups, film)
            h = _block(params, "block2.", h, groups)
            residual = F.conv2d(x, params["res_conv.weight"], params["res_conv.bias"]) if dim != dim_out else x
            what = (
                f"ResnetBlock({dim}, {dim_out}, time_emb_dim={time_emb_dim}) {label} differs from "
                "block2(block1(x, FiLM scale/shift of mlp(time_emb))) + res_conv(x) (1x1 conv, or identity when dim == dim_out)"
            )
            found += _differs(name, what, got, (h + residual).numpy(), rtol=1e-9, atol=1e-10)
    return found


def _noise_and_mean(call_model, call_zero, seed):
    """Split a sampler's output in its mean and noise term: with the same seed it draws the same z,
    and on (eps = 0, x_t = 0) its mean is 0, so that call returns the noise term alone."""
    torch.manual_seed(seed)
    full = call_model()
    torch.manual_seed(seed)
    noise = call_zero()
    return full - noise, noise


def _seeded_z(seed, like):
    torch.manual_seed(seed)
    return torch.randn_like(like)


def _posterior_mean_np(c, t, x_t, x0):
    abar, abar_prev = c["alphas_cumprod"][t], c["alphas_cumprod_prev"][t]
    coef_x0 = np.sqrt(abar_prev) * c["betas"][t] / (1.0 - abar)
    coef_xt = np.sqrt(c["alphas"][t]) * (1.0 - abar_prev) / (1.0 - abar)
    return coef_x0 * x0 + coef_xt * x_t


def _ddpm_mean_np(c, t_index, x_t, clip):
    """Ho et al. eq. 11 (clip False) or eq. 7's posterior mean at the clamped x0_hat (clip True)."""
    eps = _toy_eps(x_t, [t_index] * len(x_t))
    abar = c["alphas_cumprod"][t_index]
    if not clip:
        return (x_t - c["betas"][t_index] / np.sqrt(1.0 - abar) * eps) / np.sqrt(c["alphas"][t_index])
    x0 = np.clip((x_t - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar), -1.0, 1.0)
    return _posterior_mean_np(c, t_index, x_t, x0)


def check_p_sample():
    name = _qualified("p_sample")
    _, p_sample = _solution("p_sample")
    rng = np.random.default_rng(6)
    schedule = _Schedule(_cosine_betas(40))
    c = schedule.np
    found = []
    for clip in (False, True):
        x_t = (3.0 if clip else 1.0) * rng.normal(size=(3, 2, 4, 4))
        zeros = torch.zeros(x_t.shape, dtype=torch.float64)
        for t_index in (0, 1, 20, 39):
            t = _t([t_index] * len(x_t))
            label = f"t_index={t_index}, clip_denoised={clip}"
            expected_mean = _ddpm_mean_np(c, t_index, x_t, clip)
            formula = "eq. 7's posterior mean at the clamped x0_hat" if clip else "Ho et al. eq. 11"
            mean, noise = _noise_and_mean(
                lambda: p_sample(_ToyEps(), schedule, _tensor(x_t), t, t_index, clip_denoised=clip),  # noqa: B023
                lambda: p_sample(_ZeroEps(), schedule, zeros, t, t_index, clip_denoised=clip),  # noqa: B023
                seed=100 + t_index,
            )
            found += _differs(name, f"{label}: the mean differs from {formula}", mean, expected_mean)
            z = _seeded_z(100 + t_index, zeros)
            std = 0.0 if t_index == 0 else math.sqrt(c["posterior_variance"][t_index])
            if _differs(name, "", noise, std * z.numpy()):
                rule = "no noise at index 0 (Algorithm 2: z = 0 at t = 1)" if t_index == 0 else "sqrt(posterior_variance_t) * z"
                measured = _fit_scale(noise, z)
                found.append(f"{name}: {label}: the noise term is not {rule}: measured scale {measured:.4g}, expected {std:.4g}")
    # beta~ at index 0 is 0, which hides a noise term added there: repeat index 0 with sigma_t^2 = beta_t
    large = _Schedule(_cosine_betas(40), sigma_squared="betas")
    for clip in (False, True):
        x_t = 2.0 * rng.normal(size=(2, 1, 4, 4))
        torch.manual_seed(99)
        got = p_sample(_ToyEps(), large, _tensor(x_t), _t([0, 0]), 0, clip_denoised=clip)
        what = f"t_index=0, clip_denoised={clip}, with sigma_t^2 = beta_t: not the mean alone (Algorithm 2: z = 0 at t = 1)"
        found += _differs(name, what, got, _ddpm_mean_np(large.np, 0, x_t, clip))
    scheduler = _diffusers_scheduler(1000, clip_sample=False, variance_type="fixed_small")
    if scheduler is not None:
        found += _p_sample_vs_diffusers(name, p_sample, scheduler, rng)
    return found


def _p_sample_vs_diffusers(name, p_sample, scheduler, rng):
    """One DDPM step's mean against diffusers' DDPMScheduler.step (which goes through x0_hat and eq. 7)."""
    found = []
    schedule = _Schedule(_as_array(scheduler.betas))
    x_t = rng.normal(size=(2, 1, 4, 4))
    zeros = torch.zeros(x_t.shape, dtype=torch.float64)
    for t_index in (0, 1, 500, 900):
        t = _t([t_index] * len(x_t))
        eps = _ToyEps()(_tensor(x_t), t).detach()

        def step(output, sample, t_index=t_index):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                generator = torch.Generator().manual_seed(7)
                return scheduler.step(output, t_index, sample, generator=generator).prev_sample

        expected = step(eps, _tensor(x_t)) - step(torch.zeros_like(eps), zeros)
        mean, _ = _noise_and_mean(
            lambda: p_sample(_ToyEps(), schedule, _tensor(x_t), t, t_index),  # noqa: B023
            lambda: p_sample(_ZeroEps(), schedule, zeros, t, t_index),  # noqa: B023
            seed=200 + t_index,
        )
        what = f"t_index={t_index}: the mean differs from diffusers DDPMScheduler.step (cosine, T=1000)"
        # diffusers works in float32 (3e-5 off at t_index=1, where 1 - abar_t / abar_{t-1} cancels)
        found += _differs(name, what, mean, expected.numpy(), rtol=1e-4, atol=1e-4)
    return found


def check_p_sample_loop():
    name = _qualified("p_sample_loop")
    module, p_sample_loop = _solution("p_sample_loop")
    schedule = _Schedule(_linear_betas(6, 0.05, 0.3))
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
            return p_sample_loop(_ToyEps(), schedule, shape, progress=False, generator=generator, **kwargs)
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
        found += _differs(name, what, final, chain[-1], rtol=1e-6)
    history = run(return_all=True)
    if not isinstance(history, (list, tuple)) or len(history) != len(chain):
        count = len(history) if isinstance(history, (list, tuple)) else type(history).__name__
        found.append(f"{name}: return_all=True gave {count} items, expected T + 1 = {len(chain)} (x_T ... x_0)")
    else:
        for step, (got, expected) in enumerate(zip(history, chain)):
            found += _differs(name, f"return_all=True: item {step} is not x at that step (x_T first)", got, expected, rtol=1e-6)
    return found


def _ddim_np(c, x_t, t, t_prev, eta, clip):
    """Song et al. 2021 eq. 12 with sigma of eq. 16: the deterministic part and sigma."""
    eps = _toy_eps(x_t, [t] * len(x_t))
    abar = c["alphas_cumprod"][t]
    abar_prev = c["alphas_cumprod"][t_prev] if t_prev >= 0 else 1.0
    x0 = (x_t - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar)
    if clip:
        x0 = np.clip(x0, -1.0, 1.0)
        eps = (x_t - np.sqrt(abar) * x0) / np.sqrt(1.0 - abar)
    sigma = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar) * (1.0 - abar / abar_prev))
    direction = np.sqrt(max(1.0 - abar_prev - sigma**2, 0.0)) * eps
    return np.sqrt(abar_prev) * x0 + direction, sigma


def check_ddim_step():
    name = _qualified("ddim_step")
    _, ddim_step = _solution("ddim_step")
    rng = np.random.default_rng(8)
    schedule = _Schedule(_cosine_betas(50))
    c = schedule.np
    x_t = 1.5 * rng.normal(size=(3, 2, 4, 4))
    zeros = torch.zeros(x_t.shape, dtype=torch.float64)
    found = []
    for t_index, t_prev in ((49, 37), (20, 19), (5, -1), (1, 0)):
        t = _t([t_index] * len(x_t))
        for eta in (0.0, 0.5, 1.0):
            for clip in (False, True):
                label = f"t={t_index} -> t_prev={t_prev}, eta={eta}, clip_denoised={clip}"
                seed = 300 + t_index
                mean, noise = _noise_and_mean(
                    lambda: ddim_step(_ToyEps(), schedule, _tensor(x_t), t, t_prev, eta=eta, clip_denoised=clip),  # noqa: B023
                    lambda: ddim_step(_ZeroEps(), schedule, zeros, t, t_prev, eta=eta, clip_denoised=clip),  # noqa: B023
                    seed=seed,
                )
                expected, sigma = _ddim_np(c, x_t, t_index, t_prev, eta, clip)
                what = f"{label}: sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps differs from Song et al. eq. 12"
                found += _differs(name, what, mean, expected)
                z = _seeded_z(seed, zeros)
                if _differs(name, "", noise, sigma * z.numpy()):
                    found.append(
                        f"{name}: {label}: the noise term is not sigma * z with sigma of Song et al. eq. 16: "
                        f"measured scale {_fit_scale(noise, z):.4g}, expected {sigma:.4g}"
                    )
                if eta == 1.0 and t_prev == t_index - 1 and t_prev >= 0:
                    ddpm_std = math.sqrt(c["posterior_variance"][t_index])
                    measured = _fit_scale(noise, z)
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


def check_vlb_term():
    """Ho et al. eq. 5's L_{t-1}: eq. 4 for x_t, eqs. 6-7 for q(x_{t-1} | x_t, x_0), eq. 11 for p_theta's
    mean, sigma_t^2 = beta~_t or beta_t, and the KL integrated numerically."""
    name = _qualified("vlb_term")
    _, vlb_term = _solution("vlb_term")
    rng = np.random.default_rng(12)
    found = []
    for betas in (_linear_betas(100), _cosine_betas(40)):
        schedule, c = _Schedule(betas), _constants(betas)
        T = len(betas)
        x_0 = rng.uniform(-1.0, 1.0, size=(3, 2, 3, 3))
        noise = rng.normal(size=x_0.shape)
        t = np.array([1, T // 2, T - 1])
        nd = x_0.ndim
        abar = _bcast(c["alphas_cumprod"][t], nd)
        x_t = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
        abar_prev, beta, alpha = (_bcast(c[key][t], nd) for key in ("alphas_cumprod_prev", "betas", "alphas"))
        mean_q = np.sqrt(abar_prev) * beta / (1.0 - abar) * x_0 + np.sqrt(alpha) * (1.0 - abar_prev) / (1.0 - abar) * x_t
        var_q = _bcast(c["posterior_variance"][t], nd) * np.ones_like(x_0)
        eps = _toy_eps(x_t, t)
        mean_p = (x_t - beta / np.sqrt(1.0 - abar) * eps) / np.sqrt(alpha)
        for variance, var_p in (("posterior", var_q), ("beta", beta * np.ones_like(x_0))):
            expected = _gaussian_kl_bits_np(mean_q, var_q, mean_p, var_p)
            got = vlb_term(_ToyEps(), schedule, _tensor(x_0), _t(t), noise=_tensor(noise), variance=variance)
            what = f"T={T}, t={t.tolist()}, variance={variance!r}: differs from the KL of eq. 5's L_(t-1) in bits/dim"
            found += _differs(name, what, got, expected, rtol=1e-6, atol=1e-9, axis_name="image")
    return found


# ---------------------------------------------------------------- classifier-free guidance (Ho & Salimans 2022)

TOY_OFFSETS = np.array([0.3, -0.5, 0.8, -0.2])  # classes 0, 1, 2 and, last, the "no class" token 3


class _ToyClassEps(torch.nn.Module):
    """``_ToyEps`` plus a fixed offset per label (None: the no-class token); records the labels of every call."""

    num_classes = len(TOY_OFFSETS) - 1

    def __init__(self, zero=False):
        super().__init__()
        self.base = _ZeroEps() if zero else _ToyEps()
        self.calls = []

    def forward(self, x, t, class_labels=None):
        if class_labels is None:
            class_labels = torch.full((x.shape[0],), self.num_classes, dtype=torch.long)
        labels = torch.as_tensor(class_labels).long()
        self.calls.append(labels.clone())
        if isinstance(self.base, _ZeroEps):
            return torch.zeros_like(x)
        return self.base(x, t) + _tensor(TOY_OFFSETS)[labels].reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)


def _toy_class_eps(x, t, labels):
    return _toy_eps(x, t) + _bcast(TOY_OFFSETS[np.asarray(labels)], x.ndim)


def check_p_losses_cfg():
    name = _qualified("p_losses_cfg")
    _, p_losses_cfg = _solution("p_losses_cfg")
    rng = np.random.default_rng(12)
    schedule = _Schedule(_linear_betas(50))
    K = _ToyClassEps.num_classes
    x_0 = rng.uniform(-1, 1, size=(4, 2, 3, 3))
    noise = rng.normal(size=x_0.shape)
    t, labels = np.array([0, 10, 30, 49]), np.array([2, 0, 1, 1])
    abar = _bcast(schedule.np["alphas_cumprod"][t], x_0.ndim)
    x_t = np.sqrt(abar) * x_0 + np.sqrt(1.0 - abar) * noise
    found = []
    for mask in ([True, False, False, True], [False] * 4, [True] * 4):
        used = np.where(mask, K, labels)
        expected = np.mean((_toy_class_eps(x_t, t, used) - noise) ** 2)
        got = p_losses_cfg(_ToyClassEps(), schedule, _tensor(x_0), _t(t), _t(labels), 0.5, _tensor(noise), torch.tensor(mask))
        what = f"drop_mask={mask}: the mean squared error with dropped labels replaced by the no-class token {K} differs"
        found += _differs(name, what, got, expected)
    n = 20000
    big = _t(np.arange(n) % K)
    for p in (0.0, 0.3, 1.0):
        model = _ToyClassEps()
        torch.manual_seed(5)
        p_losses_cfg(model, schedule, torch.zeros(n, 1, 1, 1, dtype=torch.float64), _t([3] * n), big, p)
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


def check_p_sample_guided():
    name = _qualified("p_sample_guided")
    _, p_sample_guided = _solution("p_sample_guided")
    rng = np.random.default_rng(13)
    schedule = _Schedule(_cosine_betas(40))
    c = schedule.np
    K = _ToyClassEps.num_classes
    labels = np.array([2, 0, 1])
    found = []
    for clip in (False, True):
        x_t = (3.0 if clip else 1.0) * rng.normal(size=(3, 2, 4, 4))
        zeros = torch.zeros(x_t.shape, dtype=torch.float64)
        for t_index in (0, 1, 20, 39):
            t = _t([t_index] * len(x_t))
            for w in (0.0, 1.5, 7.0):
                label = f"t_index={t_index}, w={w}, clip_denoised={clip}"
                seed = 700 + t_index
                mean, noise = _noise_and_mean(
                    lambda: p_sample_guided(_ToyClassEps(), schedule, _tensor(x_t), t, t_index, _t(labels), w, clip),  # noqa: B023
                    lambda: p_sample_guided(_ToyClassEps(zero=True), schedule, zeros, t, t_index, _t(labels), w, clip),  # noqa: B023
                    seed=seed,
                )
                steps = [t_index] * len(x_t)
                eps = (1.0 + w) * _toy_class_eps(x_t, steps, labels) - w * _toy_class_eps(x_t, steps, [K] * len(x_t))
                abar = c["alphas_cumprod"][t_index]
                if clip:
                    x0 = np.clip((x_t - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar), -1.0, 1.0)
                    expected = _posterior_mean_np(c, t_index, x_t, x0)
                else:
                    expected = (x_t - c["betas"][t_index] / np.sqrt(1.0 - abar) * eps) / np.sqrt(c["alphas"][t_index])
                what = f"{label}: the mean of Ho et al. eq. 11 (eq. 7 when clipped) with (1 + w) eps(c) - w eps(no class) differs"
                found += _differs(name, what, mean, expected)
                std = math.sqrt(c["posterior_variance"][t_index]) if t_index > 0 else 0.0
                found += _differs(
                    name, f"{label}: the noise term is not sqrt(posterior_variance) z", noise, std * _seeded_z(seed, zeros)
                )
    return found


CHECKS = {
    "cosine_beta_schedule": check_cosine_beta_schedule,
    "DiffusionSchedule": check_DiffusionSchedule,
    "extract": check_extract,
    "q_sample": check_q_sample,
    "p_losses": check_p_losses,
    "q_posterior": check_q_posterior,
    "SinusoidalPositionEmbeddings": check_SinusoidalPositionEmbeddings,
    "Block": check_Block,
    "ResnetBlock": check_ResnetBlock,
    "p_sample": check_p_sample,
    "p_sample_loop": check_p_sample_loop,
    "vlb_term": check_vlb_term,
    "ddim_step": check_ddim_step,
    "p_losses_cfg": check_p_losses_cfg,
    "p_sample_guided": check_p_sample_guided,
}


def problems():
    """Every disagreement between the importable ``solutions`` package and the independent
    computations, one line each naming the function or class; ``[]`` when all agree."""
    found = []
    rng_state = torch.get_rng_state()
    try:
        for exercise, check in CHECKS.items():
            try:
                found += check()
            except Exception as error:  # a broken reference must be reported, not crash the report
                message = " ".join(str(error).split())
                found.append(f"{_qualified(exercise)}: check raised {type(error).__name__}: {message}")
    finally:
        torch.set_rng_state(rng_state)
    return found


def main():
    found = problems()
    for line in found:
        print(line)
    print(f"reference check: {len(found)} problem(s) in {len(CHECKS)} exercises")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
