"""The tolerance rule (solutions/tolerance.py) on the real graded computations.

(a) Correct implementations written here in other algebraic arrangements (float32 literal,
    float64 then cast, other op orders, the posterior-mean route of p_sample, DDIM orderings)
    get every hidden-test part on the hidden tests' own randomized inputs.
(b) Every mutant of autograder/assignment/mutants.py still loses a part of its exercise.
(c) The self-checks and the hidden tests compare with the same function.

The student side runs in this process: solution text (varied or mutated) is imported as a
throw-away package and driven by the sandbox's own interpreter of the table's call specs
(autograder/sandbox/box/calls.py), with the reference dependencies patched in as the sandbox does.
"""

import importlib
import sys

import numpy as np
import pytest
import torch

from autograder.assignment import exercises, mutants
from autograder.assignment.hidden_tests import common, per_run
from autograder.paths import ROOT
from autograder.sandbox.box import calls, standins
from solutions import tolerance

MODULES = tuple(exercises.MODULES)
PROVIDED = ("checks", "checks_expected", "tolerance")
SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------- the in-process student side


def load_package(tmp_path, name, changes=(), texts=None):
    """The solution modules with text ``changes`` [(module, old, new)] applied (or a module's whole text from
    ``texts``), imported as package ``name``."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module in MODULES + PROVIDED:
        text = (texts or {}).get(module) or (ROOT / "solutions" / f"{module}.py").read_text()
        for target, old, new in changes:
            if target == module:
                assert old in text, f"{name}: {old!r} not in solutions/{module}.py"
                text = text.replace(old, new)
        (folder / f"{module}.py").write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        return {module: importlib.import_module(f"{name}.{module}") for module in MODULES}
    finally:
        sys.path.remove(str(tmp_path))


def install_dependency(mods, source):
    namespace = {"__name__": "dep"}
    exec(compile(source.replace("from standins import", "from autograder.sandbox.box.standins import"), "dep", "exec"), namespace)
    for module, dotted, obj in namespace["__targets__"]:
        target = mods[module]
        *path, attr = dotted.split(".")
        for part in path:
            target = getattr(target, part)
        setattr(target, attr, namespace[obj])


def student_outputs(mods, inputs):
    """``{task: {"status", "outputs"}}`` as the sandbox returns them, computed in this process."""
    deps = per_run.dep_sources()
    results = {}
    for task in exercises.TASKS:
        saved = {m: dict(vars(mod)) for m, mod in mods.items()}
        saved_block = dict(vars(mods["unet"].Block))
        for dep in task.deps:
            install_dependency(mods, deps[dep])
        out = calls.run_cases(task.call, inputs[task.name], mods, standins)
        results[task.name] = {"status": "ok", "outputs": out, "detail": ""}
        for m, mod in mods.items():  # undo the patched dependencies
            for key, value in saved[m].items():
                setattr(mod, key, value)
        for key, value in saved_block.items():
            if key not in ("__dict__", "__weakref__"):
                setattr(mods["unet"].Block, key, value)
    return results


def worst_ratios(inputs, references, results):
    """``{part name: (ok, worst error / tolerance over its comparisons)}``."""
    ratios = {}
    original = tolerance.check
    for part in exercises.PARTS:
        seen = []

        def recording(got, want, scale=None, seen=seen):
            ok, err, tol = original(got, want, scale)
            seen.append(err / tol if tol else (0.0 if err == 0 else np.inf))
            return ok, err, tol

        tolerance.check = recording
        try:
            ok, _ = part.check(inputs[part.task], references[part.task], results[part.task]["outputs"])
        finally:
            tolerance.check = original
        ratios[(part.exercise, part.name)] = (ok, max(seen, default=0.0))
    return ratios


@pytest.fixture(scope="module")
def runs():
    out = {}
    for seed in SEEDS:
        inputs = per_run.make_inputs(seed, exercises.TASKS)
        out[seed] = (inputs, per_run.make_references(inputs, exercises.TASKS))
    return out


# --------------------------------------------------------------------------- (a) correct variants

SCHEDULE_REGION = """        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)
        self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1.0 - self.alphas_cumprod)
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
"""
COSINE_REGION = """    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    betas = torch.clamp(betas, max=max_beta)
"""
EMBED_REGION = """        scale = math.log(10000) / (half_dim - 1)
        freqs = torch.exp(torch.arange(half_dim, device=time.device, dtype=torch.float32) * -scale)
        args = time.float()[:, None] * freqs[None, :]
        return torch.cat((args.sin(), args.cos()), dim=-1)
"""
MEAN_REGION = """        model_mean = sqrt_recip_alphas_t * (x_t - betas_t / sqrt_one_minus_alphas_cumprod_t * eps)
"""
NOISE_LINE = "return model_mean + torch.sqrt(posterior_variance_t) * torch.randn_like(x_t)"
DDIM_REGION = """    x0_hat = (x_t - torch.sqrt(1.0 - abar) * eps) / torch.sqrt(abar)
    x0_hat = x0_hat.clamp(-1.0, 1.0) if clip_denoised else x0_hat
    eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)  # unchanged unless x0_hat was clamped
    sigma = eta * torch.sqrt((1.0 - abar_prev) / (1.0 - abar)) * torch.sqrt(1.0 - abar / abar_prev)
    direction = torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0)) * eps
    noise = sigma * torch.randn_like(x_t) if eta > 0 else torch.zeros_like(x_t)
    return torch.sqrt(abar_prev) * x0_hat + direction + noise
"""
Q_LINE = "return sqrt_alphas_cumprod_t * x_0 + sqrt_one_minus_alphas_cumprod_t * noise"
BLOCK_REGION = """        x = self.proj(x)
        x = self.norm(x)
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)
"""
RESNET_REGION = """        scale_shift = None
        if self.mlp is not None and time_emb is not None:
            scale_shift = rearrange(self.mlp(time_emb), "b c -> b c 1 1").chunk(2, dim=1)
        h = self.block1(x, scale_shift=scale_shift)
        h = self.block2(h)
        return h + self.res_conv(x)
"""
LOSS_REGION = """    if loss_type == "l1":
        return F.l1_loss(predicted_noise, noise)
    if loss_type == "l2":
        return F.mse_loss(predicted_noise, noise)
    return F.smooth_l1_loss(predicted_noise, noise)
"""

POSTERIOR_REGION = """    coef_x0 = torch.sqrt(abar_prev) * beta_t / (1.0 - abar_t)
    coef_xt = torch.sqrt(alpha_t) * (1.0 - abar_prev) / (1.0 - abar_t)
    mean = coef_x0 * x_0 + coef_xt * x_t
    variance = beta_t * (1.0 - abar_prev) / (1.0 - abar_t)
"""


VARIANTS = {
    "posterior_precisions": [
        (
            "posterior",
            POSTERIOR_REGION,
            """    # precisions add; the mean is the precision-weighted average; index 0 (abar_prev = 1) is the point x_0
    point = abar_prev == 1.0
    precision = alpha_t / (1.0 - alpha_t) + 1.0 / torch.where(point, torch.ones_like(abar_prev), 1.0 - abar_prev)
    variance = torch.where(point, torch.zeros_like(precision), 1.0 / precision)
    weighted = torch.sqrt(alpha_t) / (1.0 - alpha_t) * x_t + torch.sqrt(abar_prev) / (1.0 - abar_prev) * x_0
    mean = torch.where(point, x_0, variance * weighted)
""",
        ),
    ],
    "posterior_float64": [
        (
            "posterior",
            POSTERIOR_REGION,
            """    b, a, ab, prev = (v.double() for v in (beta_t, alpha_t, abar_t, abar_prev))
    mean = ((prev.sqrt() * b * x_0.double() + a.sqrt() * (1 - prev) * x_t.double()) / (1 - ab)).to(x_t.dtype)
    variance = (b / (1 - ab) * (1 - prev)).float()
""",
        ),
    ],
    "float64_everywhere": [
        (
            "schedules",
            SCHEDULE_REGION,
            """        b = betas.double()
        a = 1.0 - b
        abar = torch.cumprod(a, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        self.alphas = a.float()
        self.alphas_cumprod = abar.float()
        self.alphas_cumprod_prev = prev.float()
        self.sqrt_recip_alphas = (1.0 / a.sqrt()).float()
        self.sqrt_alphas_cumprod = abar.sqrt().float()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - abar).sqrt().float()
        self.posterior_variance = (b * (1.0 - prev) / (1.0 - abar)).float()
""",
        ),
        (
            "forward",
            Q_LINE,
            """abar = extract(schedule.alphas_cumprod.double(), t, x_0.shape)
    return (abar.sqrt() * x_0.double() + (1 - abar).sqrt() * noise.double()).float()""",
        ),
        (
            "unet",
            EMBED_REGION,
            """        i = torch.arange(half_dim, dtype=torch.float64)
        w = torch.exp(-i * math.log(10000.0) / (half_dim - 1))
        args = time.double()[:, None] * w[None, :]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1).float()
""",
        ),
        (
            "sampling",
            MEAN_REGION,
            """        b = extract(schedule.betas.double(), t, x_t.shape)
        abar = extract(schedule.alphas_cumprod.double(), t, x_t.shape)
        model_mean = ((x_t.double() - b / (1 - abar).sqrt() * eps.double()) / (1 - b).sqrt()).float()
""",
        ),
        (
            "ddim",
            DDIM_REGION,
            """    x, e, a, ap = x_t.double(), eps.double(), abar.double(), abar_prev.double()
    x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
    if clip_denoised:
        x0 = x0.clamp(-1, 1)
        e = (x - a.sqrt() * x0) / (1 - a).sqrt()
    var = eta**2 * (1 - ap) / (1 - a) * (1 - a / ap)
    out = ap.sqrt() * x0 + (1 - ap - var).clamp(min=0).sqrt() * e
    if eta > 0:
        out = out + var.sqrt() * torch.randn_like(x_t).double()
    return out.float()
""",
        ),
    ],
    "float32_literal": [
        (
            "unet",
            BLOCK_REGION,
            """        h = self.proj(x)
        B, C = h.shape[:2]
        g = h.reshape(B, self.norm.num_groups, -1)
        mean = g.sum(-1, keepdim=True) / g.shape[-1]
        var = ((g - mean) ** 2).sum(-1, keepdim=True) / g.shape[-1]
        h = ((g - mean) / torch.sqrt(var + self.norm.eps)).reshape(h.shape)
        h = h * self.norm.weight[None, :, None, None] + self.norm.bias[None, :, None, None]
        if scale_shift is not None:
            h = h * (1 + scale_shift[0]) + scale_shift[1]
        return h * torch.sigmoid(h)
""",
        ),
        (
            "unet",
            RESNET_REGION,
            """        out = self.res_conv(x)
        film = None
        if time_emb is not None and self.mlp is not None:
            emb = self.mlp(time_emb)[:, :, None, None]
            film = (emb[:, : emb.shape[1] // 2], emb[:, emb.shape[1] // 2 :])
        return out + self.block2(self.block1(x, film))
""",
        ),
        (
            "losses",
            LOSS_REGION,
            """    d = predicted_noise - noise
    if loss_type == "l1":
        return d.abs().sum() / d.numel()
    if loss_type == "l2":
        return (d * d).mean()
    return torch.where(d.abs() < 1, 0.5 * d**2, d.abs() - 0.5).mean()
""",
        ),
        (
            "schedules",
            COSINE_REGION,
            """    steps = torch.arange(timesteps + 1, dtype=torch.float32)
    f = torch.cos((steps / timesteps + s) / (1 + s) * (math.pi / 2)) ** 2
    abar = f / f[0]
    betas = (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)
""",
        ),
        (
            "schedules",
            SCHEDULE_REGION,
            """        self.alphas = 1 - betas
        self.alphas_cumprod = self.alphas.cumprod(0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1), self.alphas_cumprod[:-1]])
        self.sqrt_recip_alphas = 1 / self.alphas.sqrt()
        self.sqrt_alphas_cumprod = self.alphas.sqrt().cumprod(0)
        self.sqrt_one_minus_alphas_cumprod = (1 - self.alphas_cumprod) ** 0.5
        self.posterior_variance = (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod) * betas
""",
        ),
        (
            "forward",
            Q_LINE,
            """abar = extract(schedule.alphas_cumprod, t, x_0.shape)
    return abar.sqrt() * x_0 + (1 - abar).sqrt() * noise""",
        ),
        (
            "unet",
            EMBED_REGION,
            """        i = torch.arange(half_dim).float()
        w = 1.0 / (10000 ** (i / (half_dim - 1)))
        args = time[:, None] * w[None, :]
        return torch.cat((torch.sin(args), torch.cos(args)), -1)
""",
        ),
        (
            "sampling",
            MEAN_REGION,
            """        alpha = extract(schedule.alphas, t, x_t.shape)
        abar = extract(schedule.alphas_cumprod, t, x_t.shape)
        model_mean = (x_t - (1 - alpha) / torch.sqrt(1 - abar) * eps) / torch.sqrt(alpha)
""",
        ),
        ("sampling", NOISE_LINE, "return model_mean + posterior_variance_t ** 0.5 * torch.randn_like(x_t)"),
        (
            "ddim",
            DDIM_REGION,
            """    sa, sb = abar.sqrt(), (1 - abar).sqrt()
    x0 = (x_t - sb * eps) / sa
    if clip_denoised:
        x0 = torch.clamp(x0, -1, 1)
        eps = (x_t - sa * x0) / sb
    sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).sqrt()
    c = (1 - abar_prev - sigma * sigma).clamp(min=0).sqrt()
    x_prev = abar_prev.sqrt() * x0 + c * eps
    if eta > 0:
        x_prev = x_prev + sigma * torch.randn_like(x_t)
    return x_prev
""",
        ),
    ],
    "other_orders": [
        (
            "unet",
            BLOCK_REGION,
            """        norm = self.norm
        h = torch.nn.functional.group_norm(self.proj(x), norm.num_groups, norm.weight, norm.bias, norm.eps)
        if scale_shift is not None:
            h = torch.addcmul(scale_shift[1], h, scale_shift[0] + 1)
        return torch.nn.functional.silu(h)
""",
        ),
        (
            "losses",
            LOSS_REGION,
            """    d = (predicted_noise.double() - noise.double())
    if loss_type == "l1":
        return d.abs().mean().float()
    if loss_type == "l2":
        return d.pow(2).mean().float()
    return F.huber_loss(predicted_noise.double(), noise.double(), delta=1.0).float()
""",
        ),
        (
            "schedules",
            COSINE_REGION,
            """    t = torch.linspace(0, 1, timesteps + 1, dtype=torch.float64)
    abar = torch.cos((t + s) / (1 + s) * torch.pi / 2) ** 2 / math.cos(s / (1 + s) * math.pi / 2) ** 2
    betas = torch.minimum((abar[:-1] - abar[1:]) / abar[:-1], torch.tensor(max_beta, dtype=torch.float64))
""",
        ),
        (
            "schedules",
            SCHEDULE_REGION,
            """        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.exp(torch.cumsum(torch.log(self.alphas.double()), 0)).float()
        self.alphas_cumprod_prev = torch.ones_like(self.alphas_cumprod)
        self.alphas_cumprod_prev[1:] = self.alphas_cumprod[:-1]
        self.sqrt_recip_alphas = torch.rsqrt(self.alphas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod.double()).float()
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(-torch.expm1(torch.log(self.alphas_cumprod)))
        self.posterior_variance = betas / (1.0 - self.alphas_cumprod) * (1.0 - self.alphas_cumprod_prev)
""",
        ),
        (
            "forward",
            Q_LINE,
            """a = extract(schedule.sqrt_alphas_cumprod, t, x_0.shape)
    b = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_0.shape)
    return torch.addcmul(b * noise, a, x_0)""",
        ),
        (
            "unet",
            EMBED_REGION,
            """        exponent = torch.arange(half_dim, dtype=torch.float32) / (half_dim - 1)
        w = torch.pow(torch.tensor(1e-4), exponent)
        args = torch.outer(time.to(torch.float32), w)
        return torch.stack([args.sin(), args.cos()], 1).reshape(len(time), -1)
""",
        ),
        (
            "sampling",
            MEAN_REGION,
            """        model_mean = posterior_mean(schedule, x_t, t, predict_x0(schedule, x_t, t, eps))
""",
        ),
        ("sampling", NOISE_LINE, "return torch.randn_like(x_t) * posterior_variance_t.sqrt() + model_mean"),
        (
            "ddim",
            DDIM_REGION,
            """    x0_hat = (x_t - torch.sqrt(1.0 - abar) * eps) / torch.sqrt(abar)
    if clip_denoised:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        eps = (x_t - torch.sqrt(abar) * x0_hat) / torch.sqrt(1.0 - abar)
    sigma2 = eta**2 * (1.0 - abar_prev) / (1.0 - abar) * (1.0 - abar / abar_prev)
    dir_coef = torch.sqrt(torch.clamp((1.0 - abar_prev) - sigma2, min=0.0))
    out = abar_prev.sqrt() * x0_hat + dir_coef * eps
    return out + sigma2.sqrt() * torch.randn_like(x_t) if eta > 0 else out
""",
        ),
    ],
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_correct_variants_get_every_part(variant, runs, tmp_path):
    mods = load_package(tmp_path, f"variant_{variant}", VARIANTS[variant])
    for seed, (inputs, references) in runs.items():
        ratios = worst_ratios(inputs, references, student_outputs(mods, inputs))
        failed = {part: ratio for part, (ok, ratio) in ratios.items() if not ok}
        assert not failed, f"seed {seed}: correct variant {variant} fails {failed}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_correct_variants_pass_the_self_checks(variant, tmp_path, capsys):
    mods = load_package(tmp_path, f"checked_{variant}", VARIANTS[variant])
    checks = importlib.import_module(f"checked_{variant}.checks")
    for name in checks.__all__[1:]:
        getattr(checks, name)()
    assert mods["schedules"].__name__.startswith("checked_")


def test_reference_float32_gets_every_part(runs, tmp_path):
    mods = load_package(tmp_path, "reference")
    for seed, (inputs, references) in runs.items():
        ratios = worst_ratios(inputs, references, student_outputs(mods, inputs))
        assert all(ok for ok, _ in ratios.values()), f"seed {seed}: {ratios}"


# --------------------------------------------------------------------------- (b) every mutant still fails


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m.id for m in mutants.MUTANTS])
def test_every_mutant_loses_a_part(mutant, runs, tmp_path):
    mods = load_package(tmp_path, f"mutant_{mutant.id}", [(mutant.module, mutant.old, mutant.new)])
    inputs, references = runs[SEEDS[0]]
    ratios = worst_ratios(inputs, references, student_outputs(mods, inputs))
    lost = [part for (exercise, part), (ok, _) in ratios.items() if exercise == mutant.exercise and not ok]
    assert lost, f"mutant {mutant.id} survives every part of {mutant.exercise}"


# --------------------------------------------------------------------------- (c) one rule


def test_self_checks_and_hidden_tests_share_the_rule(monkeypatch):
    from solutions import checks

    calls = []
    original = tolerance.check

    def spy(got, want, scale=None):
        calls.append(1)
        return original(got, want, scale)

    monkeypatch.setattr(tolerance, "check", spy)
    assert checks._close(torch.ones(3), torch.ones(3))
    assert common.compare(np.ones(3), np.ones(3))[0]
    assert len(calls) == 2
    assert checks.tolerance is tolerance and common.tolerance is tolerance


def test_rule_units():
    assert tolerance.close(1.0 + 4 * tolerance.EPS, 1.0)
    assert not tolerance.close(1.0 + 100 * tolerance.EPS, 1.0)
    assert tolerance.close(0.0, 0.0) and not tolerance.close(1e-30, 0.0)
    assert tolerance.close(np.sin(1000.0) + 1e-4, np.sin(1000.0), tolerance.trig_scale(1000.0 * 20))
    assert not tolerance.close([1.0, np.nan], [1.0, 1.0])
    assert tolerance.condition_one_minus(1.0) == 0 and tolerance.condition_one_minus(0.9999) > 9000
    ok, err, tol = tolerance.check([1.0, 2.5], [1.0, 2.0])
    assert not ok and err == 0.5 and tol == pytest.approx(tolerance.SAFETY * tolerance.EPS * 2.0)
