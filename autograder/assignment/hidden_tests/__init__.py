"""Hidden tests: the trusted half of grading. Never shipped to students, never run in their kernel.

For every exercise, randomized inputs (seeded per grading run) are generated here,
the *reference* outputs are computed here from ``solutions/``, and the student's
outputs, produced by ``sandbox_runner.py`` in a separate unprivileged process from
the same inputs, are compared here. Only plain arrays cross the boundary
(``.npz`` read with ``allow_pickle=False``).

A *task* is one sandbox call (one set of inputs -> outputs); a *part* is a unit of
credit. Each part is all-or-nothing over its cases and worth a share of its
exercise's points. Fairness policy: every task runs with the *reference*
implementation of its dependencies patched into the student's module (``deps``):
a wrong ``extract`` costs the ``extract`` points only, not ``q_sample``'s.
A dependency's reference code enters the sandbox only after that dependency's own
task has been answered, so it cannot be borrowed to pass its own test.
"""

import inspect
import math
import textwrap
from dataclasses import dataclass

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from autograder.sandbox.box import standins
from solutions import tolerance

# Tolerances: ``solutions/tolerance.py`` (shared with the self-checks). Each reference returns,
# next to every graded array ``key``, its error scale ``key.scale`` computed here in float64.


@dataclass
class Part:
    exercise: str
    name: str
    weight: float
    task: str
    check: object  # check(inputs, reference, student) -> (ok, message)


@dataclass
class Task:
    name: str
    exercise: str
    module: str
    deps: tuple = ()
    make: object = None  # make(rng) -> {key: array}
    reference: object = None  # reference(inputs) -> {key: array}
    call: object = None  # how the sandbox calls the student: a runner name (None: the task's name) or a function spec


# ----------------------------------------------------------------------------- helpers


def _np(x):
    return np.asarray(x.detach().cpu().double().numpy() if torch.is_tensor(x) else x)


def _tensor(a, dtype=None):
    t = torch.from_numpy(np.array(a))
    return t.to(dtype) if dtype is not None else t


def cases_of(inputs):
    return sorted({k.split("/")[0] for k in inputs}, key=lambda c: int(c[1:]))


def case_inputs(inputs, case):
    p = case + "/"
    return {k[len(p) :]: v for k, v in inputs.items() if k.startswith(p)}


def compare(student, reference, scale=None):
    """(ok, message) for one student array against its float64 reference and error scale
    (the rule of ``solutions/tolerance.py``; ``scale`` None: ``|reference|``)."""
    if student is None:
        return False, "no output"
    s, r = np.asarray(student), np.asarray(reference)
    if s.shape != r.shape:
        return False, f"shape {tuple(s.shape)}, expected {tuple(r.shape)}"
    if s.dtype.kind not in "fiub":
        return False, f"not numeric ({s.dtype})"
    s = s.astype(np.float64)
    if not np.isfinite(s).all() and np.isfinite(r).all():
        return False, "non-finite values"
    ok, err, tol = tolerance.check(s, r, scale)
    if not ok:
        return False, f"wrong values (max error {err:.3g} where the tolerance is {tol:.3g})"
    return True, ""


class Float64(TorchFunctionMode):
    """Run reference code in float64 on float64 copies of the student's float32 inputs: casts to
    float32 written in the reference become float64, and random draws are made in float32 (the
    numbers the student's code draws from the same seed) and then widened."""

    RANDOM = (torch.randn, torch.randn_like, torch.rand, torch.rand_like)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.RANDOM:
            like = func in (torch.randn_like, torch.rand_like)
            if kwargs.get("dtype") in (None, torch.float32, torch.float64) and (not like or args[0].is_floating_point()):
                kwargs["dtype"] = torch.float32
                return func(*args, **kwargs).to(torch.float64)
            return func(*args, **kwargs)
        if func is torch.Tensor.float:
            return args[0].to(torch.float64)
        if kwargs.get("dtype") is torch.float32:
            kwargs["dtype"] = torch.float64
        if func is torch.Tensor.to:
            args = tuple(torch.float64 if a is torch.float32 else a for a in args)
        return func(*args, **kwargs)


def _f64(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))


def _abs(x):
    return np.abs(_np(x))


def _schedule_arrays(kind, T):
    from solutions.schedules import DiffusionSchedule

    sched = DiffusionSchedule.from_name(kind, T)
    return {name: _np(getattr(sched, name)).astype(np.float32) for name in standins.SCHEDULE_ATTRS}


SCHEDULE_CHOICES = (("linear", 1000), ("cosine", 1000), ("linear", 50), ("cosine", 50), ("cosine", 10))


def _put_schedule(out, case, kind, T):
    for name, arr in _schedule_arrays(kind, T).items():
        out[f"{case}/sched.{name}"] = arr
    out[f"{case}/label"] = np.array(f"{kind} schedule, T={T}")


def schedule_from(ci):
    return standins.ScheduleData({n: ci[f"sched.{n}"] for n in standins.SCHEDULE_ATTRS})


def _timesteps(rng, B, T):
    """B step indices that always include 0 and T-1 (when B >= 2)."""
    t = rng.integers(0, T, size=B)
    if B >= 2:
        t[0], t[1] = 0, T - 1
    return t.astype(np.int64)


def _image_shape(rng):
    return (int(rng.integers(2, 6)), int(rng.choice([1, 3])), int(rng.integers(3, 9)), int(rng.integers(3, 9)))


def _state_dict_arrays(module, out, case):
    for key, value in module.state_dict().items():
        out[f"{case}/sd.{key}"] = _np(value).astype(np.float32)


def _raised(err):
    """What a case's error says in feedback: a stub's own ``NotImplementedError`` is the one line
    "not implemented yet" (where to write it), anything else the error, shortened."""
    text = str(err)
    stub = text.split("NotImplementedError: COMPLETE THIS: ", 1)
    if text.startswith("NotImplementedError: COMPLETE THIS: ") and len(stub) == 2:
        from solutions.checks_expected import REGIONS

        found = REGIONS.get(stub[1].strip())
        where = f" in helpers/{found[1]}.py" if found else ""
        return f"not implemented yet (COMPLETE THIS{where})"
    return f"raised {text[:200]}"


def all_cases_check(key="out", select=None):
    """A part check: every case (optionally those ``select(case_inputs)`` keeps) matches the reference
    within the tolerance of its error scale ``reference[case/key.scale]``."""

    def check(inputs, reference, student):
        n_ok = n = 0
        first = first_msg = ""
        for case in cases_of(inputs):
            ci = case_inputs(inputs, case)
            if select is not None and not select(ci):
                continue
            n += 1
            err = student.get(f"{case}/error")
            if err is not None:
                ok, msg = False, _raised(err)
            else:
                scale = reference.get(f"{case}/{key}.scale")
                ok, msg = compare(student.get(f"{case}/{key}"), reference[f"{case}/{key}"], scale)
            n_ok += ok
            if not ok and not first:
                label = str(ci.get("label", case))
                first, first_msg = f"{label}: {msg}", msg
        if n_ok == 0 and n and first_msg.startswith("not implemented yet"):
            return False, first_msg  # a stub left as it is: one line, no case list
        return n_ok == n and n > 0, ("" if n_ok == n else f"{n - n_ok} of {n} cases fail; e.g. {first}")

    return check


# ----------------------------------------------------------------------------- cosine_beta_schedule


def make_cosine(rng):
    out = {}
    configs = [(1000, 0.008, 0.999), (10, 0.008, 0.999), (int(rng.integers(20, 300)), float(rng.uniform(0.002, 0.02)), 0.999)]
    configs += [(int(rng.integers(5, 40)), 0.008, float(rng.uniform(0.2, 0.6))), (1, 0.008, 0.999)]
    for i, (T, s, mb) in enumerate(configs):
        out[f"c{i}/T"], out[f"c{i}/s"], out[f"c{i}/max_beta"] = np.array(T), np.array(s), np.array(mb)
        out[f"c{i}/label"] = np.array(f"T={T}, s={s:.4g}, max_beta={mb:.3g}")
    return out


def cosine_scale(T, s, max_beta, betas):
    """Error scale of the cosine betas ``1 - r_t``, ``r_t = f(t+1) / f(t)``, ``f = cos(x)**2``: a relative
    rounding error of ``x`` (4 roundings) is amplified by ``|d ln f / d ln x| = 2 |x tan x|``, and
    ``1 - r`` turns the relative errors of ``r`` into absolute ones. A clipped beta is ``max_beta``
    whatever the rounding when its unclipped value exceeds ``max_beta`` by more than that error."""
    x = (np.arange(T + 1) / T + s) / (1 + s) * math.pi / 2
    with np.errstate(all="ignore"):
        f = np.cos(x) ** 2
        cond = 3.0 + 8.0 * np.abs(x * np.tan(x))
        r = f[1:] / f[:-1]
        unclipped = np.abs(1.0 - r) + np.abs(r) * (2.0 + cond[1:] + cond[:-1])
        clear = (1.0 - r) - tolerance.tolerance(unclipped) > max_beta
    return np.where(clear, np.abs(betas), np.abs(betas) + np.nan_to_num(unclipped, posinf=1.0))


def ref_cosine(inputs):
    from solutions.schedules import cosine_beta_schedule

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        T, s, max_beta = int(ci["T"]), float(ci["s"]), float(ci["max_beta"])
        with Float64():
            betas = _np(cosine_beta_schedule(T, s=s, max_beta=max_beta))
        out[f"{c}/out"], out[f"{c}/out.scale"] = betas, cosine_scale(T, s, max_beta, betas)
    return out


# ----------------------------------------------------------------------------- DiffusionSchedule


def make_diffusion_schedule(rng):
    from solutions.schedules import cosine_beta_schedule, linear_beta_schedule

    out = {}
    betas = [
        ("linear T=1000", linear_beta_schedule(1000)),
        ("cosine T=1000", cosine_beta_schedule(1000)),
        ("linear T=random", linear_beta_schedule(int(rng.integers(5, 80)))),
        ("cosine T=random", cosine_beta_schedule(int(rng.integers(5, 80)))),
    ]
    for i, (label, b) in enumerate(betas):
        out[f"c{i}/betas"] = _np(b).astype(np.float32)
        out[f"c{i}/label"] = np.array(label)
    return out


def ref_diffusion_schedule(inputs):
    from solutions.schedules import DiffusionSchedule

    out = {}
    for c in cases_of(inputs):
        with Float64():
            sched = DiffusionSchedule(_f64(case_inputs(inputs, c)["betas"]))
        for name in standins.SCHEDULE_ATTRS:
            out[f"{c}/{name}"] = _np(getattr(sched, name))
    return out


def schedule_part(names, derive):
    """Check the attributes ``names``: each must match ``derive(up, betas)[name]``, where ``up(key)`` is the
    float64 reference value of an upstream attribute, never the student's own: constants that agree only
    with each other earn nothing, and a wrong upstream line costs the parts it makes wrong."""

    def check(inputs, reference, student):
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            err = student.get(f"{c}/error")
            if err is not None:
                message = _raised(err)
                return False, message if message.startswith("not implemented yet") else f"{ci['label']}: {message}"
            ref_c = {n: np.asarray(reference[f"{c}/{n}"], dtype=np.float64) for n in standins.SCHEDULE_ATTRS}
            expected, scales = derive(ref_c.__getitem__, ci["betas"].astype(np.float64))
            for name in names:
                value = student.get(f"{c}/{name}")
                if value is None:
                    return False, f"{ci['label']}: attribute {name} missing ({student.get(f'{c}/{name}.error', '')})"
                ok, msg = compare(value, expected[name], scales[name])
                if not ok:
                    return False, f"{ci['label']}: {name}: {msg}"
        return True, ""

    return check


# Error scales of the schedule constants: relative to the value, times the number of roundings
# ``n`` behind it (a running product of t + 1 factors, computed along any route: cumprod of the
# alphas, of their square roots, in float64 then cast), times the condition number of ``1 - abar``.


def _steps(T):
    return 2.0 * np.arange(1, T + 1)


def derive_alphas(up, betas):
    alphas = 1.0 - betas
    abar = np.cumprod(alphas)
    return {"alphas": alphas, "alphas_cumprod": abar}, {"alphas": 1.0 + betas, "alphas_cumprod": abar * _steps(len(betas))}


def derive_prev(up, betas):
    abar = up("alphas_cumprod")
    prev = np.concatenate([[1.0], abar[:-1]])
    return {"alphas_cumprod_prev": prev}, {"alphas_cumprod_prev": prev * _steps(len(betas))}


def derive_sqrt(up, betas):
    alphas, abar = up("alphas"), up("alphas_cumprod")
    n = _steps(len(betas))
    with np.errstate(all="ignore"):
        values = {
            "sqrt_recip_alphas": 1.0 / np.sqrt(alphas),
            "sqrt_alphas_cumprod": np.sqrt(abar),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - abar),
        }
        scales = {
            "sqrt_recip_alphas": values["sqrt_recip_alphas"] * (3.0 + tolerance.condition_one_minus(betas)),
            "sqrt_alphas_cumprod": values["sqrt_alphas_cumprod"] * (3.0 + n),
            "sqrt_one_minus_alphas_cumprod": values["sqrt_one_minus_alphas_cumprod"]
            * (3.0 + n * tolerance.condition_one_minus(abar)),
        }
    return values, scales


def derive_posterior(up, betas):
    abar, prev = up("alphas_cumprod"), up("alphas_cumprod_prev")
    n = _steps(len(betas))
    with np.errstate(all="ignore"):
        value = betas * (1.0 - prev) / (1.0 - abar)
        cond = 4.0 + n * (tolerance.condition_one_minus(prev) + tolerance.condition_one_minus(abar))
    return {"posterior_variance": value}, {"posterior_variance": value * cond}


# ----------------------------------------------------------------------------- extract


def make_extract(rng):
    out = {}
    for i, rank in enumerate([1, 2, 3, 4, 4, 5]):
        T = int(rng.integers(2, 1001))
        B = int(rng.integers(2, 7))
        shape = (B, *[int(rng.integers(1, 5)) for _ in range(rank - 1)])
        dtype = np.float64 if i == 4 else np.float32
        out[f"c{i}/a"] = rng.standard_normal(T).astype(dtype)
        out[f"c{i}/t"] = _timesteps(rng, B, T)
        out[f"c{i}/x_shape"] = np.array(shape, dtype=np.int64)
        out[f"c{i}/label"] = np.array(f"T={T}, x_shape={shape}")
    return out


def ref_extract(inputs):
    from solutions.schedules import extract

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        out[f"{c}/out"] = _np(extract(_tensor(ci["a"]), _tensor(ci["t"]), tuple(int(v) for v in ci["x_shape"])))
    return out


# ----------------------------------------------------------------------------- q_sample, p_losses


def _noising_case(out, c, rng, kind, T):
    shape = _image_shape(rng)
    _put_schedule(out, c, kind, T)
    out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
    out[f"{c}/t"] = _timesteps(rng, shape[0], T)
    out[f"{c}/noise"] = rng.standard_normal(shape).astype(np.float32)


def make_q_sample(rng):
    out = {}
    for i, (kind, T) in enumerate(SCHEDULE_CHOICES[:4]):
        _noising_case(out, f"c{i}", rng, kind, T)
    return out


def schedule64(ci):
    """The case's (float32) schedule constants as float64 tensors."""
    with Float64():
        return schedule_from(ci)


def _at(array, t, ndim):
    return _np(array)[np.asarray(t)].reshape(-1, *([1] * (ndim - 1)))


def q_sample_scale(ci, x_0, t, noise):
    """Error scale of ``sqrt(abar) x_0 + sqrt(1 - abar) noise``: the sum of the terms, the noise term
    times the condition number of ``1 - abar`` (a route through ``alphas_cumprod`` is also correct)."""
    sched, nd = schedule_from(ci), np.ndim(x_0)
    abar = _at(sched.alphas_cumprod, t, nd)
    first = _at(sched.sqrt_alphas_cumprod, t, nd) * _abs(x_0)
    second = _at(sched.sqrt_one_minus_alphas_cumprod, t, nd) * _abs(noise)
    return 4.0 * first + (4.0 + tolerance.condition_one_minus(abar)) * second


def ref_q_sample(inputs):
    from solutions.forward import q_sample

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        with Float64():
            value = q_sample(schedule64(ci), _f64(ci["x_0"]), _tensor(ci["t"]), noise=_f64(ci["noise"]))
        out[f"{c}/out"] = _np(value)
        out[f"{c}/out.scale"] = q_sample_scale(ci, ci["x_0"], ci["t"], ci["noise"])
    return out


def model_scale(model, x, x_scale, t):
    """Error scale of the stand-in model ``tanh(W x + b) + 0.01 sin(0.37 t)`` on an input that
    carries rounding errors of scale ``x_scale`` (the channel sums, tanh and the sine's argument)."""
    w, b = _abs(model.weight), _abs(model.bias)[None, :, None, None]
    mixed = np.einsum("oc,bchw->bohw", w, _abs(x) + np.asarray(x_scale)) + b
    t = _abs(t).reshape(-1, 1, 1, 1)
    return mixed * w.shape[1] + 2.0 + 0.01 * (1.0 + 0.37 * t)


def loss_scale(loss_type, pred, noise, pred_scale, loss):
    d, n = _np(pred) - _np(noise), _np(noise).size
    weight = {"l2": 2.0 * np.abs(d), "l1": np.ones_like(d), "huber": np.minimum(np.abs(d), 1.0)}[loss_type]
    return float(np.mean(weight * (pred_scale + _abs(noise) + np.abs(d)))) + abs(loss) * (2.0 + math.log2(n))


def make_p_losses(rng):
    out = {}
    configs = [(kind_T, "l2") for kind_T in SCHEDULE_CHOICES[:4]]
    configs += [(SCHEDULE_CHOICES[i], lt) for i, lt in enumerate(("l1", "huber", "l1", "huber"))]
    for i, ((kind, T), loss_type) in enumerate(configs):
        _noising_case(out, f"c{i}", rng, kind, T)
        out[f"c{i}/loss_type"] = np.array(loss_type)
        out[f"c{i}/label"] = np.array(f"{kind} schedule, T={T}, loss_type={loss_type}")
    return out


def ref_p_losses(inputs):
    from solutions.forward import q_sample
    from solutions.losses import p_losses

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInModel(ci["x_0"].shape[1])
        t, loss_type = _tensor(ci["t"]), str(ci["loss_type"])
        with Float64():
            x_0, noise = _f64(ci["x_0"]), _f64(ci["noise"])
            loss = float(_np(p_losses(model, schedule64(ci), x_0, t, noise, loss_type)))
            x_t = q_sample(schedule64(ci), x_0, t, noise=noise)
            pred = model(x_t, t)
        x_scale = q_sample_scale(ci, ci["x_0"], ci["t"], ci["noise"])
        out[f"{c}/out"] = np.array(loss)
        out[f"{c}/out.scale"] = np.array(loss_scale(loss_type, pred, noise, model_scale(model, x_t, x_scale, t), loss))
    return out


# ----------------------------------------------------------------------------- q_posterior


def make_q_posterior(rng):
    out = {}
    for i, (kind, T) in enumerate(SCHEDULE_CHOICES):
        c = f"c{i}"
        shape = _image_shape(rng)
        _put_schedule(out, c, kind, T)
        out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
        out[f"{c}/x_t"] = (1.5 * rng.standard_normal(shape)).astype(np.float32)
        out[f"{c}/t"] = _timesteps(rng, shape[0], T)  # indices 0 and T - 1 always among them
    return out


def q_posterior_scales(sched, x_0, x_t, t):
    """Error scales of the posterior's mean and variance. Correct arrangements (eq. 7 over ``1 - abar_t``,
    precisions ``alpha_t / beta_t + 1 / (1 - abar_{t-1})``, ``1 - alpha_t`` for ``beta_t``, the stored
    ``posterior_variance``) agree only up to the schedule constants' own rounding, amplified where a
    formula takes ``1 - x`` of a constant near 1."""
    nd = np.ndim(x_t)
    g = {n: _at(getattr(sched, n), t, nd) for n in ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev")}
    cond = schedule_condition(sched, t, nd) + 2.0 + tolerance.condition_one_minus(g["alphas"])
    with np.errstate(all="ignore"):
        one_minus = 1.0 - g["alphas_cumprod"]
        coef_x0 = np.sqrt(g["alphas_cumprod_prev"]) * g["betas"] / one_minus
        coef_xt = np.sqrt(g["alphas"]) * (1.0 - g["alphas_cumprod_prev"]) / one_minus
        variance = g["betas"] * (1.0 - g["alphas_cumprod_prev"]) / one_minus
    return cond * (coef_x0 * _abs(x_0) + coef_xt * _abs(x_t)), cond * variance


def ref_q_posterior(inputs):
    from solutions.posterior import q_posterior

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        with Float64():
            mean, variance = q_posterior(schedule64(ci), _f64(ci["x_0"]), _f64(ci["x_t"]), _tensor(ci["t"]))
        out[f"{c}/mean"], out[f"{c}/variance"] = _np(mean), _np(variance)
        out[f"{c}/mean.scale"], out[f"{c}/variance.scale"] = q_posterior_scales(schedule_from(ci), ci["x_0"], ci["x_t"], ci["t"])
    return out


# ----------------------------------------------------------------------------- U-Net pieces


def make_embeddings(rng):
    out = {}
    dims = [4, 16, 32, 2 * int(rng.integers(3, 40))]
    for i, dim in enumerate(dims):
        B = int(rng.integers(2, 9))
        t = rng.integers(0, 1000, size=B)
        t[0], t[1] = 0, 999
        out[f"c{i}/dim"] = np.array(dim)
        out[f"c{i}/time"] = t.astype(np.int64) if i % 2 == 0 else (t + rng.uniform(0, 1, size=B)).astype(np.float32)
        out[f"c{i}/label"] = np.array(f"dim={dim}, {'integer' if i % 2 == 0 else 'float'} times")
    return out


def embedding_scale(time, dim):
    """Error scale of ``[sin(t w), cos(t w)]``: the argument ``t w`` carries the rounding error of
    ``w = exp(-i ln(10000) / (half - 1))`` (relative ``|ln w|`` from the exponential) and of the product."""
    half = dim // 2
    w = np.exp(-np.arange(half) * math.log(10000) / (half - 1))
    args = np.abs(np.asarray(time, dtype=np.float64))[:, None] * w[None, :]
    scale = tolerance.trig_scale(args * (3.0 + np.abs(np.log(w))))
    return np.concatenate([scale, scale], axis=1)


def ref_embeddings(inputs):
    from solutions.unet import SinusoidalPositionEmbeddings

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        with Float64():
            time = _tensor(ci["time"]) if ci["time"].dtype.kind in "iu" else _f64(ci["time"])
            out[f"{c}/out"] = _np(SinusoidalPositionEmbeddings(int(ci["dim"]))(time))
        out[f"{c}/out.scale"] = embedding_scale(ci["time"], int(ci["dim"]))
    return out


BLOCK_CONFIGS = ((4, 8, 4), (8, 8, 8), (6, 16, 8), (16, 8, 2))


def make_block(rng):
    from solutions.unet import Block

    out = {}
    for i, (dim, dim_out, groups) in enumerate(BLOCK_CONFIGS):
        torch.manual_seed(int(rng.integers(1 << 30)))
        block = Block(dim, dim_out, groups=groups)
        with torch.no_grad():  # non-trivial norm parameters
            block.norm.weight.normal_(1.0, 0.3)
            block.norm.bias.normal_(0.0, 0.3)
        _state_dict_arrays(block, out, f"c{i}")
        B, H, W = int(rng.integers(1, 4)), int(rng.integers(3, 8)), int(rng.integers(3, 8))
        out[f"c{i}/config"] = np.array([dim, dim_out, groups], dtype=np.int64)
        out[f"c{i}/x"] = rng.standard_normal((B, dim, H, W)).astype(np.float32)
        out[f"c{i}/scale"] = (0.5 * rng.standard_normal((B, dim_out, 1, 1))).astype(np.float32)
        out[f"c{i}/shift"] = (0.5 * rng.standard_normal((B, dim_out, 1, 1))).astype(np.float32)
        out[f"c{i}/label"] = np.array(f"Block({dim}, {dim_out}, groups={groups})")
    return out


def _load_block(ci, cls, *args, **kwargs):
    module = cls(*args, **kwargs)
    sd = {k[3:]: torch.from_numpy(np.array(v)) for k, v in ci.items() if k.startswith("sd.")}
    module.load_state_dict(sd, strict=True)
    return module.eval().double()


def block_scale(block, x, x_scale=None, scale_shift=None):
    """Error scale of ``Block`` (conv 3x3 -> GroupNorm -> scale/shift -> SiLU) on float64 ``x`` whose
    elements carry errors of scale ``x_scale``, elementwise in the units of the output: the
    convolution's sum of |w||x| (sqrt(fan-in) for a sum of mixed signs) plus the input's errors
    through |w|, divided by the group's standard deviation by the norm, whose mean and variance
    are sums over the group; then the affine terms."""
    conv, norm = block.proj, block.norm
    x = x.to(torch.float64)
    fan = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    h = conv(x)
    h_err = torch.nn.functional.conv2d(x.abs(), conv.weight.abs(), conv.bias.abs(), padding=conv.padding) * math.sqrt(fan)
    if x_scale is not None:
        h_err = h_err + torch.nn.functional.conv2d(torch.as_tensor(x_scale), conv.weight.abs(), padding=conv.padding)
    B = h.shape[0]
    groups = h.reshape(B, norm.num_groups, -1)
    std = torch.sqrt(groups.var(-1, unbiased=False) + norm.eps)[:, :, None]
    normed = ((groups - groups.mean(-1, keepdim=True)) / std).reshape(h.shape)
    normed_err = (h_err.reshape(B, norm.num_groups, -1) / std).reshape(h.shape)
    normed_err = normed_err + math.sqrt(groups.shape[-1]) * (normed.abs() + 1.0)
    gamma, beta = norm.weight.abs()[None, :, None, None], norm.bias.abs()[None, :, None, None]
    if scale_shift is None:
        mult, shift = torch.ones(()), torch.zeros(())
    else:
        mult, shift = (scale_shift[0].to(torch.float64) + 1.0).abs(), scale_shift[1].to(torch.float64).abs()
    y = gamma * (normed.abs() + normed_err) * mult + beta * mult + shift
    return _np(1.1 * y + 2.0 * block(x, scale_shift=scale_shift).abs())


def ref_block(inputs):
    from solutions.unet import Block

    out = {}
    with torch.no_grad():
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            dim, dim_out, groups = (int(v) for v in ci["config"])
            block = _load_block(ci, Block, dim, dim_out, groups=groups)
            x = _f64(ci["x"])
            ss = (_f64(ci["scale"]), _f64(ci["shift"]))
            with Float64():
                out[f"{c}/out"] = _np(block(x))
                out[f"{c}/out_scale_shift"] = _np(block(x, scale_shift=ss))
            out[f"{c}/out.scale"] = block_scale(block, x)
            out[f"{c}/out_scale_shift.scale"] = block_scale(block, x, scale_shift=ss)
    return out


RESNET_CONFIGS = ((8, 16, 12, 4, True), (8, 8, 20, 8, True), (4, 8, None, 4, False), (16, 8, 6, 2, False))


def make_resnet(rng):
    from solutions.unet import ResnetBlock

    out = {}
    for i, (dim, dim_out, temb, groups, pass_time) in enumerate(RESNET_CONFIGS):
        torch.manual_seed(int(rng.integers(1 << 30)))
        block = ResnetBlock(dim, dim_out, time_emb_dim=temb, groups=groups)
        _state_dict_arrays(block, out, f"c{i}")
        B, H, W = int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
        out[f"c{i}/config"] = np.array([dim, dim_out, temb or 0, groups, int(pass_time)], dtype=np.int64)
        out[f"c{i}/x"] = rng.standard_normal((B, dim, H, W)).astype(np.float32)
        out[f"c{i}/time_emb"] = rng.standard_normal((B, temb or 4)).astype(np.float32)
        out[f"c{i}/label"] = np.array(
            f"ResnetBlock({dim}, {dim_out}, time_emb_dim={temb}, groups={groups}), time_emb {'given' if pass_time else 'None'}"
        )
    return out


def resnet_scale(block, x, time_emb):
    """Error scale of ``ResnetBlock``: block1's with the FiLM scale and shift, plus the time MLP's
    sums (rounding of the scale acts on the normalized features, of the shift directly), carried
    through block2, plus the residual path's."""
    scale_shift = None
    if block.mlp is not None and time_emb is not None:
        linear = block.mlp[1]
        act = torch.nn.functional.silu(time_emb.to(torch.float64)).abs()
        mlp_abs = (act @ linear.weight.abs().T + linear.bias.abs()) * (math.sqrt(linear.in_features) + 2.0)
        scale_err, shift_err = mlp_abs[:, :, None, None].chunk(2, dim=1)
        scale_shift = block.mlp(time_emb.to(torch.float64))[:, :, None, None].chunk(2, dim=1)
    h_scale = torch.as_tensor(block_scale(block.block1, x, scale_shift=scale_shift))
    if scale_shift is not None:
        normed = block.block1.norm(block.block1.proj(x.to(torch.float64))).abs()
        h_scale = h_scale + scale_err * (normed + 1.0) + shift_err
    h = block.block1(x, scale_shift=scale_shift)
    out = block_scale(block.block2, h, h_scale)
    if isinstance(block.res_conv, torch.nn.Conv2d):
        conv = block.res_conv
        res = torch.nn.functional.conv2d(x.abs(), conv.weight.abs(), conv.bias.abs()) * (math.sqrt(conv.in_channels) + 1.0)
        return out + _np(res)
    return out + _np(x.abs())


def ref_resnet(inputs):
    from solutions.unet import ResnetBlock

    out = {}
    with torch.no_grad():
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            dim, dim_out, temb, groups, pass_time = (int(v) for v in ci["config"])
            block = _load_block(ci, ResnetBlock, dim, dim_out, time_emb_dim=temb or None, groups=groups)
            x, time_emb = _f64(ci["x"]), (_f64(ci["time_emb"]) if pass_time else None)
            with Float64():
                out[f"{c}/out"] = _np(block(x, time_emb))
            out[f"{c}/out.scale"] = resnet_scale(block, x, time_emb)
    return out


# ----------------------------------------------------------------------------- sampling


def make_p_sample(rng, zero_variance):
    out = {}
    configs = [("linear", 1000), ("cosine", 1000), ("cosine", 50), ("linear", 50)]
    i = 0
    for kind, T in configs:
        for t_index in (0, T - 1, int(rng.integers(1, T - 1))):
            c = f"c{i}"
            _put_schedule(out, c, kind, T)
            if zero_variance:  # the mean alone, whatever the noise step does
                out[f"{c}/sched.posterior_variance"] = np.zeros(T, dtype=np.float32)
            else:  # the true variance is 0 at index 0, which would hide noise added there. Not beta_0
                # (~1e-4): its sqrt (~1e-2) is within the mean's tolerance at index 0, where the mean is
                # ill-conditioned (1 - abar_0 ~ beta_0); a large variance makes noise there unmistakable.
                out[f"{c}/sched.posterior_variance"][0] = 0.25
            shape = _image_shape(rng)
            out[f"{c}/x_t"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/t_index"] = np.array(t_index)
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, t_index={t_index}")
            i += 1
    return out


def schedule_condition(sched, t, ndim, t_prev=None):
    """``4 + cond(1 - abar_t) + cond(1 - abar_prev)``: how much the schedule constants' own float32
    rounding is amplified where a step uses ``1 - abar`` (the constants are consistent with each
    other only up to their rounding, so equal formulas disagree by this much)."""
    abar = _at(sched.alphas_cumprod, t, ndim)
    prev = _at(sched.alphas_cumprod_prev, t, ndim) if t_prev is None else t_prev
    return 4.0 + tolerance.condition_one_minus(abar) + tolerance.condition_one_minus(prev)


def p_sample_scale(ci, x_t, t, t_index, eps, eps_scale, clip_denoised, z=None):
    """Error scale of one reverse step, over both ways of writing the mean: eq. 11
    ``sqrt_recip_alphas (x_t - beta / sqrt(1 - abar) eps)`` and the posterior mean of eq. 7 applied to
    ``x0_hat = (x_t - sqrt(1 - abar) eps) / sqrt(abar)`` (clamped or not), plus the noise term."""
    sched, nd = schedule_from(ci), np.ndim(x_t)
    g = {n: _at(getattr(sched, n), t, nd) for n in standins.SCHEDULE_ATTRS}
    ax, ae = _abs(x_t), _abs(eps) + eps_scale
    x0_hat = (_np(x_t) - g["sqrt_one_minus_alphas_cumprod"] * _np(eps)) / g["sqrt_alphas_cumprod"]
    x0 = np.clip(x0_hat, -1, 1) if clip_denoised else x0_hat
    coef_x0 = np.sqrt(g["alphas_cumprod_prev"]) * g["betas"] / (1.0 - g["alphas_cumprod"])
    coef_xt = np.sqrt(g["alphas"]) * (1.0 - g["alphas_cumprod_prev"]) / (1.0 - g["alphas_cumprod"])
    terms = g["sqrt_recip_alphas"] * (ax + g["betas"] / g["sqrt_one_minus_alphas_cumprod"] * ae)
    terms = terms + coef_x0 * (np.abs(x0) + (ax + g["sqrt_one_minus_alphas_cumprod"] * ae) / g["sqrt_alphas_cumprod"])
    terms = terms + coef_xt * ax
    scale = schedule_condition(sched, t, nd) * terms
    if z is not None and t_index > 0:
        scale = scale + 3.0 * np.sqrt(g["posterior_variance"]) * _abs(z)
    return scale


def _seeded_z(shape, seed):
    torch.manual_seed(int(seed))
    return torch.randn(shape)


def ref_p_sample(inputs, clip_denoised):
    from solutions.sampling import p_sample

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        t_index = int(ci["t_index"])
        t = torch.full((ci["x_t"].shape[0],), t_index, dtype=torch.long)
        model = standins.StandInModel(ci["x_t"].shape[1])
        with Float64():
            x_t = _f64(ci["x_t"])
            torch.manual_seed(int(ci["seed"]))
            out[f"{c}/out"] = _np(p_sample(model, schedule64(ci), x_t, t, t_index, clip_denoised=clip_denoised))
            eps = model(x_t, t)
        eps_scale = model_scale(model, x_t, 0.0, t)
        z = _seeded_z(x_t.shape, ci["seed"]) if clip_denoised else None
        out[f"{c}/out.scale"] = p_sample_scale(ci, x_t, t, t_index, eps, eps_scale, clip_denoised, z)
    return out


def make_p_sample_loop(rng):
    out = {}
    i = 0
    for kind, T in (("linear", 7), ("cosine", 12)):
        for return_all in (False, True):
            for clip in (False, True):
                c = f"c{i}"
                _put_schedule(out, c, kind, T)
                out[f"{c}/shape"] = np.array(_image_shape(rng), dtype=np.int64)
                out[f"{c}/return_all"] = np.array(int(return_all))
                out[f"{c}/clip"] = np.array(int(clip))
                out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
                out[f"{c}/label"] = np.array(f"{kind} T={T}, return_all={return_all}, clip_denoised={clip}")
                i += 1
    return out


def _standin_p_sample64(model, schedule, x_t, t, t_index, clip_denoised=False):
    return standins.standin_p_sample(model, schedule, x_t.to(torch.float64), t, t_index, clip_denoised)


def ref_p_sample_loop(inputs):
    import solutions.sampling as sampling

    out = {}
    saved = sampling.p_sample
    sampling.p_sample = _standin_p_sample64
    try:
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            shape = tuple(int(v) for v in ci["shape"])
            model = standins.StandInModel(shape[1])
            with Float64():
                result = sampling.p_sample_loop(
                    model,
                    schedule64(ci),
                    shape,
                    clip_denoised=bool(ci["clip"]),
                    return_all=bool(ci["return_all"]),
                    progress=False,
                    generator=torch.Generator().manual_seed(int(ci["seed"])),
                )
            value = _np(torch.stack(result) if isinstance(result, list) else result)
            # each stand-in step rounds 0.9 x + 0.01 (t + 1) + beta (+ clamp + 0.05): a few ulps per step taken
            steps = np.arange(len(value)).reshape(-1, *([1] * len(shape))) if bool(ci["return_all"]) else len(ci["sched.betas"])
            out[f"{c}/out"], out[f"{c}/out.scale"] = value, 4.0 * steps * (np.abs(value) + 1.0)
    finally:
        sampling.p_sample = saved
    return out


def make_ddim(rng):
    out = {}
    i = 0
    for kind, T in (("linear", 1000), ("cosine", 1000), ("cosine", 50)):
        mid = int(rng.integers(2, T - 1))
        for t_index, t_prev, eta, clip in (
            (T - 1, T - 1 - int(rng.integers(1, T // 2)), 0.0, False),
            (mid, mid - 1, 0.0, True),
            (int(rng.integers(1, T)), -1, 0.0, bool(i % 2)),
            # eta = 1 jumps between the middle indices: from T - 1, abar ~ 0 makes 1 - abar_prev - sigma^2
            # vanish (3e-10 for cosine T=50, t=49 -> 3, where correct orderings differ by 2e-4), and from
            # near 0, (1 - abar_prev)^2 does: sqrt of a difference of rounded terms, ill-conditioned.
            (int(rng.integers(T // 2, 5 * T // 8 + 1)), int(rng.integers(T // 8, T // 4 + 1)), 1.0, True),
            (mid, mid - 1, float(rng.uniform(0.3, 0.9)), False),
        ):
            c = f"c{i}"
            _put_schedule(out, c, kind, T)
            shape = _image_shape(rng)
            out[f"{c}/x_t"] = (1.5 * rng.standard_normal(shape)).astype(np.float32)
            out[f"{c}/t_index"], out[f"{c}/t_prev"] = np.array(t_index), np.array(t_prev)
            out[f"{c}/eta"], out[f"{c}/clip"] = np.array(eta), np.array(int(clip))
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            out[f"{c}/label"] = np.array(f"{kind} T={T}, t={t_index} -> t_prev={t_prev}, eta={eta:.2g}, clip_denoised={clip}")
            i += 1
    return out


def ddim_scale(ci, x_t, t, t_prev, eta, clip, eps, eps_scale, z):
    """Error scale of a DDIM step ``sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps' + sigma z``
    (eps' re-derived from the clamped x0_hat or not): the terms, times the schedule's condition
    number, plus the condition of the square root of the difference ``1 - abar_prev - sigma^2``."""
    sched, nd = schedule_from(ci), np.ndim(x_t)
    abar = _at(sched.alphas_cumprod, t, nd)
    prev = _np(sched.alphas_cumprod[t_prev]) if t_prev >= 0 else np.float64(1.0)
    sa, s1m = np.sqrt(abar), np.sqrt(1.0 - abar)
    ax, ae = _abs(x_t), _abs(eps) + eps_scale
    x0_hat = (_np(x_t) - s1m * _np(eps)) / sa
    x0 = np.clip(x0_hat, -1, 1) if clip else x0_hat
    sigma = eta * np.sqrt((1.0 - prev) / (1.0 - abar)) * np.sqrt(1.0 - abar / prev)
    rest = 1.0 - prev - sigma**2
    direction = np.sqrt(np.maximum(rest, 0.0))
    eps_used = ae + (ax + sa * np.abs(x0)) / s1m
    cond = schedule_condition(sched, t, nd, prev) + tolerance.condition_one_minus(abar / prev)
    with np.errstate(divide="ignore"):
        cond_direction = np.where(direction > 0, (1.0 + prev + sigma**2) / (2.0 * np.maximum(rest, 1e-300)), 0.0)
    terms = np.sqrt(prev) * (np.abs(x0) + (ax + s1m * ae) / sa) + direction * eps_used + sigma * _abs(z)
    return cond * terms + direction * eps_used * cond_direction * cond


def ref_ddim(inputs):
    from solutions.ddim import ddim_step

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        t = torch.full((ci["x_t"].shape[0],), int(ci["t_index"]), dtype=torch.long)
        model = standins.StandInModel(ci["x_t"].shape[1])
        t_prev, eta, clip = int(ci["t_prev"]), float(ci["eta"]), bool(ci["clip"])
        with Float64():
            x_t = _f64(ci["x_t"])
            torch.manual_seed(int(ci["seed"]))
            out[f"{c}/out"] = _np(ddim_step(model, schedule64(ci), x_t, t, t_prev, eta=eta, clip_denoised=clip))
            eps = model(x_t, t)
        z = _seeded_z(x_t.shape, ci["seed"]) if eta > 0 else torch.zeros(x_t.shape)
        out[f"{c}/out.scale"] = ddim_scale(ci, x_t, t, t_prev, eta, clip, eps, model_scale(model, x_t, 0.0, t), z)
    return out


# ----------------------------------------------------------------------------- vlb_term


def make_vlb_term(rng):
    out = {}
    i = 0
    for kind, T in (("linear", 1000), ("cosine", 1000), ("cosine", 50), ("linear", 50)):
        for variance in ("posterior", "beta"):
            c = f"c{i}"
            shape = _image_shape(rng)
            _put_schedule(out, c, kind, T)
            t = rng.integers(1, T, size=shape[0])
            t[0], t[1] = 1, T - 1  # the smallest posterior variance and the largest beta
            out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
            out[f"{c}/t"] = t.astype(np.int64)
            out[f"{c}/noise"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/variance"] = np.array(variance)
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, variance={variance!r}")
            i += 1
    return out


def vlb_term_scale(ci, x_0, t, noise, model, variance, eps_scale=None):
    """Error scale of the KL term in bits per dimension. The means' difference d = mu~ - mu_theta
    carries the rounding of either way of writing mu_theta (eq. 11 or eq. 7 at x0_hat) and of mu~,
    plus x_t's own rounding (directly and through the model); the KL per dimension
    ``(log(v_p / v_q) + (v_q + d^2) / v_p - 1) / 2`` then carries d's error times |d| / v_p, the
    variances' relative errors (the schedule's condition number) and the absolute rounding of the
    logarithms; the mean over n dimensions and the division by ln 2 add their own. ``eps_scale(x_t,
    x_scale, t)``: the model's error scale (default: the stand-in model's, ``model_scale``)."""
    from solutions.forward import q_sample

    sched, nd = schedule_from(ci), np.ndim(x_0)
    g = {n: _at(getattr(sched, n), t, nd) for n in standins.SCHEDULE_ATTRS}
    with Float64():
        x_t = q_sample(schedule64(ci), _f64(x_0), _tensor(t), noise=_f64(noise))
        eps = model(x_t, _tensor(t))
    x_scale = q_sample_scale(ci, x_0, t, noise)
    eps_scale = (eps_scale or (lambda x, xs, steps: model_scale(model, x, xs, steps)))(x_t, x_scale, _tensor(t))
    cond = schedule_condition(sched, t, nd)
    coef_x0 = np.sqrt(g["alphas_cumprod_prev"]) * g["betas"] / (1.0 - g["alphas_cumprod"])
    coef_xt = np.sqrt(g["alphas"]) * (1.0 - g["alphas_cumprod_prev"]) / (1.0 - g["alphas_cumprod"])
    mean_q = coef_x0 * _np(x_0) + coef_xt * _np(x_t)
    mean_p = g["sqrt_recip_alphas"] * (_np(x_t) - g["betas"] / g["sqrt_one_minus_alphas_cumprod"] * _np(eps))
    d = mean_q - mean_p
    err_d = p_sample_scale(ci, x_t, _tensor(t), 1, eps, eps_scale, False)
    err_d = err_d + cond * (coef_x0 * _abs(x_0) + coef_xt * _abs(x_t)) + (coef_xt + g["sqrt_recip_alphas"]) * x_scale
    var_q = g["betas"] * (1.0 - g["alphas_cumprod_prev"]) / (1.0 - g["alphas_cumprod"])
    var_p = var_q if variance == "posterior" else g["betas"]
    ratio = var_q / var_p
    per_dim = (np.abs(d) * err_d + tolerance.SAFETY * tolerance.EPS * err_d**2) / var_p
    per_dim = per_dim + d**2 / (2.0 * var_p) * cond
    per_dim = per_dim + 0.5 * (np.abs(np.log(var_p)) + np.abs(np.log(var_q)) + (ratio + 1.0) * cond)
    kl = 0.5 * (np.log(var_p / var_q) + (var_q + d**2) / var_p - 1.0)
    axes = tuple(range(1, nd))
    n = int(np.prod(np.shape(x_0)[1:]))
    return (per_dim.mean(axis=axes) + np.abs(kl).mean(axis=axes) * (2.0 + math.log2(n))) / math.log(2.0) * 1.5


def ref_vlb_term(inputs):
    from solutions.likelihood import vlb_term

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInModel(ci["x_0"].shape[1])
        t, variance = _tensor(ci["t"]), str(ci["variance"])
        with Float64():
            value = vlb_term(model, schedule64(ci), _f64(ci["x_0"]), t, noise=_f64(ci["noise"]), variance=variance)
        out[f"{c}/out"] = _np(value)
        out[f"{c}/out.scale"] = vlb_term_scale(ci, ci["x_0"], ci["t"], ci["noise"], model, variance)
    return out


# ----------------------------------------------------------------------------- dependencies (sent to the sandbox late)


def _fn_source(obj):
    return textwrap.dedent(inspect.getsource(obj))


def dep_sources():
    """``{dep name: python source}``; each source defines objects and ``__targets__``:
    ``[(module, dotted attribute, object name)]`` to patch into the student's modules."""
    import solutions.forward
    import solutions.posterior
    import solutions.sampling
    import solutions.schedules
    import solutions.unet

    extract = _fn_source(solutions.schedules.extract)
    q_sample = _fn_source(solutions.forward.q_sample)
    q_posterior = _fn_source(solutions.posterior.q_posterior)
    sampling = solutions.sampling
    p_sample = "\n".join(_fn_source(f) for f in (sampling.predict_x0, sampling.posterior_mean, sampling.p_sample))
    block_cls = _fn_source(solutions.unet.Block).replace("super().__init__()", "nn.Module.__init__(self)")
    block_init = _fn_source(solutions.unet.Block.__init__).replace("super().__init__()", "nn.Module.__init__(self)")
    head = "import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
    return {
        "extract": head
        + extract
        + "\n__targets__ = [(m, 'extract', 'extract') for m in ('forward', 'posterior', 'sampling', 'ddim', 'likelihood')]\n",
        "q_posterior": head
        + extract
        + "\n"
        + q_posterior
        + "\n__targets__ = [(m, 'q_posterior', 'q_posterior') for m in ('sampling', 'likelihood')]\n",
        "q_sample": head
        + extract
        + "\n"
        + q_sample
        + "\n__targets__ = [(m, 'q_sample', 'q_sample') for m in ('losses', 'likelihood')]\n",
        "Block.__init__": head + block_init + "\n__targets__ = [('unet', 'Block.__init__', '__init__')]\n",
        "Block": head + block_cls + "\n__targets__ = [('unet', 'Block', 'Block')]\n",
        "standin_p_sample": head
        + "from standins import standin_p_sample\n__targets__ = [('sampling', 'p_sample', 'standin_p_sample')]\n",
        # notebook 10: the guidance exercises build on q_sample and on the whole p_sample step
        "q_sample@guidance": head + extract + "\n" + q_sample + "\n__targets__ = [('guidance', 'q_sample', 'q_sample')]\n",
        "p_sample@guidance": head
        + extract
        + "\n"
        + q_posterior
        + "\n"
        + p_sample
        + "\n__targets__ = [('guidance', 'p_sample', 'p_sample')]\n",
    }


# ----------------------------------------------------------------------------- function exercises (generic)


def function_task(name, cases, roundings=16.0):
    """A task for an exercise that is a plain function of scalars and arrays (what ``new-exercise``
    scaffolds): ``cases(rng)`` gives a list of ``{argument: value}``; the sandbox calls
    ``helpers.<module>.<name>(**case)`` (arrays as tensors), the reference calls the solution the same
    way in float64, and a value passes within ``roundings`` float32 roundings of its own magnitude."""

    def make(rng):
        out = {}
        for i, case in enumerate(cases(rng)):
            for arg, value in case.items():
                value = np.asarray(value)
                out[f"c{i}/{arg}"] = value.astype(np.float32) if value.dtype.kind == "f" and value.ndim else value
            out[f"c{i}/label"] = np.array(", ".join(f"{k}={_short(v)}" for k, v in case.items()))
        return out

    def reference(inputs, module):
        out = {}
        for c in cases_of(inputs):
            ci = {k: v for k, v in case_inputs(inputs, c).items() if k != "label"}
            out[f"{c}/out"], out[f"{c}/out.scale"] = function_reference(module, name, ci, roundings)
        return out

    return Task(name, "", "", (), make, reference, call={"function": name, "roundings": roundings})


def function_reference(module, name, arguments, roundings):
    """``(value, error scale)`` of ``solutions.<module>.<name>(**arguments)`` in float64."""
    import importlib

    function = getattr(importlib.import_module(f"solutions.{module}"), name)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # tensors the reference creates itself are float64 too
    try:
        with Float64():
            value = _np(function(**{k: _argument(v) for k, v in arguments.items()}))
    finally:
        torch.set_default_dtype(default)
    return value, roundings * np.abs(value)


def _short(value):
    value = np.asarray(value)
    return f"array{tuple(value.shape)}" if value.ndim else f"{value.item():.4g}" if value.dtype.kind == "f" else str(value.item())


def _argument(value):
    """A case's input as the function receives it: a Python scalar, or a (float64, for the reference) tensor."""
    value = np.asarray(value)
    if value.ndim == 0:
        return value.item()
    return _f64(value) if value.dtype.kind == "f" else _tensor(value)


def block_forward_check(inputs, reference, student):
    ok1, msg1 = all_cases_check("out")(inputs, reference, student)
    ok2, msg2 = all_cases_check("out_scale_shift")(inputs, reference, student)
    return ok1 and ok2, (msg1 or ("with scale_shift: " + msg2 if msg2 else ""))


# ----------------------------------------------------------------------------- classifier-free guidance (notebook 10)


def _class_case(out, c, rng, kind, T, shape):
    """A noising case with class labels in 0 ... K-1 for a ``StandInClassModel`` with K classes."""
    K = int(rng.choice([3, 10]))
    _put_schedule(out, c, kind, T)
    out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
    out[f"{c}/t"] = _timesteps(rng, shape[0], T)
    out[f"{c}/noise"] = rng.standard_normal(shape).astype(np.float32)
    out[f"{c}/num_classes"] = np.array(K)
    out[f"{c}/labels"] = rng.integers(0, K, size=shape[0]).astype(np.int64)
    out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
    return K


def make_p_losses_cfg_mask(rng):
    """Cases with an explicit drop mask (both kept and dropped labels in each): the loss is exact."""
    out = {}
    for i, (kind, T) in enumerate(SCHEDULE_CHOICES[:4] + SCHEDULE_CHOICES[:2]):
        shape = (int(rng.integers(3, 7)), int(rng.choice([1, 3])), int(rng.integers(3, 7)), int(rng.integers(3, 7)))
        K = _class_case(out, f"c{i}", rng, kind, T, shape)
        mask = rng.random(shape[0]) < 0.5
        mask[0], mask[1] = True, False
        out[f"c{i}/drop_mask"] = mask
        out[f"c{i}/p_uncond"] = np.array(float(rng.uniform(0.05, 0.5)))
        out[f"c{i}/label"] = np.array(f"{kind} schedule, T={T}, K={K}, drop_mask={mask.astype(int).tolist()}")
    return out


def class_model_scale(model, x, x_scale, t, labels):
    """``model_scale`` for ``StandInClassModel``: its class offset joins the bias."""
    w = _abs(model.weight)
    b = (_abs(model.bias)[None, :] + _abs(model.offset)[np.asarray(labels)])[:, :, None, None]
    mixed = np.einsum("oc,bchw->bohw", w, _abs(x) + np.asarray(x_scale)) + b
    t = _abs(t).reshape(-1, 1, 1, 1)
    return mixed * w.shape[1] + 2.0 + 0.01 * (1.0 + 0.37 * t)


def ref_p_losses_cfg_mask(inputs):
    from solutions.forward import q_sample
    from solutions.guidance import p_losses_cfg

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInClassModel(ci["x_0"].shape[1], int(ci["num_classes"]))
        t, labels, mask = _tensor(ci["t"]), _tensor(ci["labels"]), _tensor(ci["drop_mask"]).bool()
        used = torch.where(mask, int(ci["num_classes"]), labels)
        with Float64():
            x_0, noise = _f64(ci["x_0"]), _f64(ci["noise"])
            loss = float(_np(p_losses_cfg(model, schedule64(ci), x_0, t, labels, float(ci["p_uncond"]), noise, mask)))
            x_t = q_sample(schedule64(ci), x_0, t, noise=noise)
            pred = model(x_t, t, used)
        x_scale = q_sample_scale(ci, ci["x_0"], ci["t"], ci["noise"])
        scale = loss_scale("l2", pred, noise, class_model_scale(model, x_t, x_scale, t, used), loss)
        out[f"{c}/out"], out[f"{c}/out.scale"] = np.array(loss), np.array(scale)
    return out


DROPOUT_BATCH = 4000


def make_p_losses_cfg_random(rng):
    """Cases without a drop mask: a large batch of tiny images, so that the share of dropped labels can be
    told from ``p_uncond`` whatever random draws the code makes."""
    out = {}
    for i, p in enumerate((0.0, 1.0, 0.1, float(rng.uniform(0.15, 0.4)))):
        kind, T = SCHEDULE_CHOICES[i % 4]
        K = _class_case(out, f"c{i}", rng, kind, T, (DROPOUT_BATCH, 1, 2, 2))
        out[f"c{i}/p_uncond"] = np.array(p)
        out[f"c{i}/label"] = np.array(f"{kind} schedule, T={T}, K={K}, B={DROPOUT_BATCH}, p_uncond={p:.3g}, drop_mask=None")
    return out


def ref_p_losses_cfg_random(inputs):
    return {f"{c}/labels": case_inputs(inputs, c)["labels"] for c in cases_of(inputs)}


def label_dropout_check(inputs, reference, student):
    """The labels the model saw: the given ones where kept, the "no class" token K where dropped, and the
    share dropped within 5 standard deviations of ``p_uncond`` (exactly 0 or all for p_uncond 0 or 1)."""
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        err = student.get(f"{c}/error")
        if err is not None:
            message = _raised(err)
            return False, message if message.startswith("not implemented yet") else f"{ci['label']}: {message}"
        seen, labels, K, p = student.get(f"{c}/labels_seen"), ci["labels"], int(ci["num_classes"]), float(ci["p_uncond"])
        if seen is None or np.shape(seen) != labels.shape:
            return False, f"{ci['label']}: the model was not called with one label per image"
        seen = np.asarray(seen, dtype=np.float64)
        dropped = seen == K
        if not np.array_equal(seen[~dropped], labels[~dropped]):
            return False, f"{ci['label']}: labels that were not dropped must reach the model unchanged (dropped ones become {K})"
        share, n = float(dropped.mean()), len(labels)
        slack = 0.0 if p in (0.0, 1.0) else 5.0 * math.sqrt(p * (1 - p) / n) + 1.0 / n
        if abs(share - p) > slack:
            return False, f"{ci['label']}: {100 * share:.1f} % of the labels were dropped, expected p_uncond = {100 * p:.1f} %"
    return True, ""


def make_p_sample_guided(rng):
    out = {}
    i = 0
    for kind, T in (("linear", 1000), ("cosine", 1000), ("cosine", 50), ("linear", 50)):
        mid = int(rng.integers(1, T - 1))
        for t_index, w in ((0, float(rng.uniform(0.5, 3))), (T - 1, 0.0), (mid, float(rng.uniform(1, 8)))):
            c = f"c{i}"
            shape = _image_shape(rng)
            _put_schedule(out, c, kind, T)
            K = int(rng.choice([3, 10]))
            out[f"{c}/x_t"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/t_index"], out[f"{c}/w"], out[f"{c}/clip"] = np.array(t_index), np.array(w), np.array(int(i % 2))
            out[f"{c}/num_classes"] = np.array(K)
            out[f"{c}/labels"] = rng.integers(0, K, size=shape[0]).astype(np.int64)
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            clip = f"clip_denoised={bool(i % 2)}"
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, t_index={t_index}, w={w:.3g}, K={K}, {clip}")
            i += 1
    return out


def ref_p_sample_guided(inputs):
    from solutions.guidance import p_sample_guided

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        t_index, w, clip = int(ci["t_index"]), float(ci["w"]), bool(ci["clip"])
        t = torch.full((ci["x_t"].shape[0],), t_index, dtype=torch.long)
        labels = _tensor(ci["labels"])
        model = standins.StandInClassModel(ci["x_t"].shape[1], int(ci["num_classes"]))
        null = torch.full_like(labels, int(ci["num_classes"]))
        with Float64():
            x_t = _f64(ci["x_t"])
            torch.manual_seed(int(ci["seed"]))
            out[f"{c}/out"] = _np(p_sample_guided(model, schedule64(ci), x_t, t, t_index, labels, w, clip_denoised=clip))
            eps_c, eps_u = model(x_t, t, labels), model(x_t, t, null)
        eps = (1.0 + w) * eps_c - w * eps_u
        eps_scale = (1.0 + w) * (class_model_scale(model, x_t, 0.0, t, labels) + 2.0 * _abs(eps_c))
        eps_scale = eps_scale + w * (class_model_scale(model, x_t, 0.0, t, null) + 2.0 * _abs(eps_u))
        z = _seeded_z(x_t.shape, ci["seed"])
        out[f"{c}/out.scale"] = p_sample_scale(ci, x_t, t, t_index, eps, eps_scale, clip, z)
    return out


def __getattr__(name):
    """``TASKS``, ``PARTS``, ``EXERCISES``...: derived from the exercise table (``autograder/assignment/exercises.py``)."""
    if name in ("TASKS", "TASKS_BY_NAME", "PARTS", "EXERCISES"):
        from autograder.assignment import exercises

        return getattr(exercises, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _reference(task, inputs):
    return task.reference(inputs, task.module) if isinstance(task.call, dict) else task.reference(inputs)


def make_inputs(seed):
    """``{task name: {key: array}}`` of randomized inputs for one grading run."""
    rng = np.random.default_rng(seed)
    from autograder.assignment.exercises import TASKS

    inputs = {}
    for task in TASKS:
        torch.manual_seed(int(rng.integers(1 << 30)))
        inputs[task.name] = task.make(np.random.default_rng(rng.integers(1 << 62)))
    return inputs


def make_references(inputs):
    """``{task name: {key: array}}`` computed in this (trusted) process from ``solutions/``."""
    from autograder.assignment.exercises import TASKS

    torch.set_num_threads(1)
    return {task.name: _reference(task, inputs[task.name]) for task in TASKS}


def score(exercise_points, inputs, references, results):
    """Trusted verdicts.

    ``results``: ``{task name: {"outputs": {key: array}, "status": "ok" | "timeout" | ...,
    "detail": str}}`` from the sandbox. Returns ``{exercise: {"points", "max", "parts": [...]}}``.
    """
    from autograder.assignment.exercises import EXERCISES, PARTS, POINTS

    verdicts = {}
    for exercise in EXERCISES:
        parts = [p for p in PARTS if p.exercise == exercise]
        max_points = float(exercise_points.get(exercise, POINTS[exercise]))
        total_weight = sum(p.weight for p in parts)
        got, details = 0.0, []
        for part in parts:
            share = max_points * part.weight / total_weight
            result = results.get(part.task, {"status": "not run", "outputs": {}, "detail": ""})
            if result["status"] != "ok":
                ok, msg = False, f"{result['status']}: {result.get('detail', '')}".strip(": ")
            else:
                try:
                    ok, msg = part.check(inputs[part.task], references[part.task], result["outputs"])
                except Exception as error:  # a malformed output is a failure, never a crash of grading
                    ok, msg = False, f"unusable output ({type(error).__name__}: {error})"
            got += share if ok else 0.0
            details.append(
                {"part": part.name, "points": round(share if ok else 0.0, 4), "max": round(share, 4), "ok": ok, "message": msg}
            )
        verdicts[exercise] = {"points": round(got, 4), "max": max_points, "parts": details}
    return verdicts
