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
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import standins

RTOL, ATOL = 1e-4, 1e-6

# Default points per exercise; the notebooks' check cells (``points`` in their nbgrader
# metadata) override these so nbgrader's max score and grades.csv agree.
DEFAULT_POINTS = {
    "cosine_beta_schedule": 2,
    "DiffusionSchedule": 4,
    "extract": 1,
    "q_sample": 2,
    "p_losses": 2,
    "SinusoidalPositionEmbeddings": 2,
    "Block": 2,
    "ResnetBlock": 2,
    "p_sample": 2,
    "p_sample_loop": 2,
    "ddim_step": 2,
}


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
    parts: list = field(default_factory=list)


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


def compare(student, reference, rtol=RTOL, atol=ATOL):
    """(ok, message) for one student array against its reference."""
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
    err = np.abs(s - r)
    bad = err > atol + rtol * np.abs(r)
    if bad.any():
        return False, f"wrong values (max abs error {float(err.max()):.3g})"
    return True, ""


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


def all_cases_check(key="out", rtol=RTOL, atol=ATOL, select=None):
    """A part check: every case (optionally those ``select(case_inputs)`` keeps) matches the reference."""

    def check(inputs, reference, student):
        n_ok = n = 0
        first = ""
        for case in cases_of(inputs):
            ci = case_inputs(inputs, case)
            if select is not None and not select(ci):
                continue
            n += 1
            err = student.get(f"{case}/error")
            if err is not None:
                ok, msg = False, f"raised {str(err)[:200]}"
            else:
                ok, msg = compare(student.get(f"{case}/{key}"), reference[f"{case}/{key}"], rtol, atol)
            n_ok += ok
            if not ok and not first:
                label = str(ci.get("label", case))
                first = f"{label}: {msg}"
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


def ref_cosine(inputs):
    from solutions.schedules import cosine_beta_schedule

    return {
        f"{c}/out": _np(cosine_beta_schedule(int(ci["T"]), s=float(ci["s"]), max_beta=float(ci["max_beta"])))
        for c in cases_of(inputs)
        for ci in [case_inputs(inputs, c)]
    }


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
        sched = DiffusionSchedule(torch.from_numpy(case_inputs(inputs, c)["betas"]))
        for name in standins.SCHEDULE_ATTRS:
            out[f"{c}/{name}"] = _np(getattr(sched, name))
    return out


def _upstream(student, reference, key, T):
    """The student's own upstream value when it is usable, else the reference (no cascading loss)."""
    s = student.get(key)
    if s is not None and np.shape(s) == (T,) and np.isfinite(np.asarray(s, dtype=np.float64)).all():
        return np.asarray(s, dtype=np.float64)
    return reference[key]


def schedule_part(names, derive):
    """Check the attributes ``names``: each must match ``derive(up)[name]`` where ``up(key)`` gives
    the student's own upstream attribute (so one wrong line costs only its own part)."""

    def check(inputs, reference, student):
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            err = student.get(f"{c}/error")
            if err is not None:
                return False, f"{ci['label']}: raised {str(err)[:200]}"
            T = len(ci["betas"])
            ref_c = {n: reference[f"{c}/{n}"] for n in standins.SCHEDULE_ATTRS}
            stu_c = {n: student.get(f"{c}/{n}") for n in standins.SCHEDULE_ATTRS}

            def up(key, stu_c=stu_c, ref_c=ref_c, T=T):
                return _upstream(stu_c, ref_c, key, T)

            expected = derive(up, ci["betas"].astype(np.float64))
            for name in names:
                if stu_c[name] is None:
                    return False, f"{ci['label']}: attribute {name} missing ({student.get(f'{c}/{name}.error', '')})"
                ok, msg = compare(stu_c[name], expected[name])
                if not ok:
                    return False, f"{ci['label']}: {name}: {msg}"
        return True, ""

    return check


def _derive_alphas(up, betas):
    alphas = 1.0 - betas
    return {"alphas": alphas, "alphas_cumprod": np.cumprod(alphas)}


def _derive_prev(up, betas):
    abar = up("alphas_cumprod")
    return {"alphas_cumprod_prev": np.concatenate([[1.0], abar[:-1]])}


def _derive_sqrt(up, betas):
    alphas, abar = up("alphas"), up("alphas_cumprod")
    with np.errstate(all="ignore"):
        return {
            "sqrt_recip_alphas": 1.0 / np.sqrt(alphas),
            "sqrt_alphas_cumprod": np.sqrt(abar),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - abar),
        }


def _derive_posterior(up, betas):
    abar, prev = up("alphas_cumprod"), up("alphas_cumprod_prev")
    with np.errstate(all="ignore"):
        return {"posterior_variance": betas * (1.0 - prev) / (1.0 - abar)}


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


def ref_q_sample(inputs):
    from solutions.forward import q_sample

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        out[f"{c}/out"] = _np(q_sample(schedule_from(ci), _tensor(ci["x_0"]), _tensor(ci["t"]), noise=_tensor(ci["noise"])))
    return out


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
    from solutions.losses import p_losses

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInModel(ci["x_0"].shape[1])
        loss = p_losses(
            model, schedule_from(ci), _tensor(ci["x_0"]), _tensor(ci["t"]), _tensor(ci["noise"]), str(ci["loss_type"])
        )
        out[f"{c}/out"] = _np(loss)
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


def ref_embeddings(inputs):
    from solutions.unet import SinusoidalPositionEmbeddings

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        out[f"{c}/out"] = _np(SinusoidalPositionEmbeddings(int(ci["dim"]))(_tensor(ci["time"])))
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
    return module.eval()


def ref_block(inputs):
    from solutions.unet import Block

    out = {}
    with torch.no_grad():
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            dim, dim_out, groups = (int(v) for v in ci["config"])
            block = _load_block(ci, Block, dim, dim_out, groups=groups)
            x = _tensor(ci["x"])
            out[f"{c}/out"] = _np(block(x))
            out[f"{c}/out_scale_shift"] = _np(block(x, scale_shift=(_tensor(ci["scale"]), _tensor(ci["shift"]))))
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


def ref_resnet(inputs):
    from solutions.unet import ResnetBlock

    out = {}
    with torch.no_grad():
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            dim, dim_out, temb, groups, pass_time = (int(v) for v in ci["config"])
            block = _load_block(ci, ResnetBlock, dim, dim_out, time_emb_dim=temb or None, groups=groups)
            out[f"{c}/out"] = _np(block(_tensor(ci["x"]), _tensor(ci["time_emb"]) if pass_time else None))
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
            else:  # the true variance is 0 at index 0, which would hide noise added there
                out[f"{c}/sched.posterior_variance"][0] = out[f"{c}/sched.betas"][0]
            shape = _image_shape(rng)
            out[f"{c}/x_t"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/t_index"] = np.array(t_index)
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, t_index={t_index}")
            i += 1
    return out


def ref_p_sample(inputs, clip_denoised):
    from solutions.sampling import p_sample

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        x_t = _tensor(ci["x_t"])
        t_index = int(ci["t_index"])
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)
        model = standins.StandInModel(x_t.shape[1])
        torch.manual_seed(int(ci["seed"]))
        out[f"{c}/out"] = _np(p_sample(model, schedule_from(ci), x_t, t, t_index, clip_denoised=clip_denoised))
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


def ref_p_sample_loop(inputs):
    import solutions.sampling as sampling

    out = {}
    saved = sampling.p_sample
    sampling.p_sample = standins.standin_p_sample
    try:
        for c in cases_of(inputs):
            ci = case_inputs(inputs, c)
            shape = tuple(int(v) for v in ci["shape"])
            model = standins.StandInModel(shape[1])
            result = sampling.p_sample_loop(
                model,
                schedule_from(ci),
                shape,
                clip_denoised=bool(ci["clip"]),
                return_all=bool(ci["return_all"]),
                progress=False,
                generator=torch.Generator().manual_seed(int(ci["seed"])),
            )
            out[f"{c}/out"] = _np(torch.stack(result) if isinstance(result, list) else result)
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
            (T - 1, mid, 1.0, True),
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


def ref_ddim(inputs):
    from solutions.ddim import ddim_step

    out = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        x_t = _tensor(ci["x_t"])
        t = torch.full((x_t.shape[0],), int(ci["t_index"]), dtype=torch.long)
        model = standins.StandInModel(x_t.shape[1])
        torch.manual_seed(int(ci["seed"]))
        result = ddim_step(
            model, schedule_from(ci), x_t, t, int(ci["t_prev"]), eta=float(ci["eta"]), clip_denoised=bool(ci["clip"])
        )
        out[f"{c}/out"] = _np(result)
    return out


# ----------------------------------------------------------------------------- dependencies (sent to the sandbox late)


def _fn_source(obj):
    return textwrap.dedent(inspect.getsource(obj))


def dep_sources():
    """``{dep name: python source}``; each source defines objects and ``__targets__``:
    ``[(module, dotted attribute, object name)]`` to patch into the student's modules."""
    import solutions.forward
    import solutions.schedules
    import solutions.unet

    extract = _fn_source(solutions.schedules.extract)
    q_sample = _fn_source(solutions.forward.q_sample)
    block_cls = _fn_source(solutions.unet.Block).replace("super().__init__()", "nn.Module.__init__(self)")
    block_init = _fn_source(solutions.unet.Block.__init__).replace("super().__init__()", "nn.Module.__init__(self)")
    head = "import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
    return {
        "extract": head + extract + "\n__targets__ = [(m, 'extract', 'extract') for m in ('forward', 'sampling', 'ddim')]\n",
        "q_sample": head + extract + "\n" + q_sample + "\n__targets__ = [('losses', 'q_sample', 'q_sample')]\n",
        "Block.__init__": head + block_init + "\n__targets__ = [('unet', 'Block.__init__', '__init__')]\n",
        "Block": head + block_cls + "\n__targets__ = [('unet', 'Block', 'Block')]\n",
        "standin_p_sample": head
        + "from standins import standin_p_sample\n__targets__ = [('sampling', 'p_sample', 'standin_p_sample')]\n",
    }


# ----------------------------------------------------------------------------- the task table


def _sel(loss_types):
    return lambda ci: str(ci.get("loss_type")) in loss_types


TASKS = [
    Task("cosine_beta_schedule", "cosine_beta_schedule", "schedules", (), make_cosine, ref_cosine),
    Task("DiffusionSchedule", "DiffusionSchedule", "schedules", (), make_diffusion_schedule, ref_diffusion_schedule),
    Task("extract", "extract", "schedules", (), make_extract, ref_extract),
    Task("q_sample", "q_sample", "forward", ("extract",), make_q_sample, ref_q_sample),
    Task("p_losses", "p_losses", "losses", ("q_sample",), make_p_losses, ref_p_losses),
    Task("SinusoidalPositionEmbeddings", "SinusoidalPositionEmbeddings", "unet", (), make_embeddings, ref_embeddings),
    Task("Block.init", "Block", "unet", (), make_block, ref_block),
    Task("Block.forward", "Block", "unet", ("Block.__init__",), make_block, ref_block),
    Task("ResnetBlock", "ResnetBlock", "unet", ("Block",), make_resnet, ref_resnet),
    Task(
        "p_sample.mean",
        "p_sample",
        "sampling",
        ("extract",),
        lambda rng: make_p_sample(rng, True),
        lambda i: ref_p_sample(i, False),
    ),
    Task(
        "p_sample.noise",
        "p_sample",
        "sampling",
        ("extract",),
        lambda rng: make_p_sample(rng, False),
        lambda i: ref_p_sample(i, True),
    ),
    Task("p_sample_loop", "p_sample_loop", "sampling", ("standin_p_sample",), make_p_sample_loop, ref_p_sample_loop),
    Task("ddim_step", "ddim_step", "ddim", ("extract",), make_ddim, ref_ddim),
]
TASKS_BY_NAME = {task.name: task for task in TASKS}

PARTS = [
    Part("cosine_beta_schedule", "betas of eq. 17, clipped at max_beta", 1, "cosine_beta_schedule", all_cases_check()),
    Part(
        "DiffusionSchedule",
        "alphas and alphas_cumprod",
        1,
        "DiffusionSchedule",
        schedule_part(("alphas", "alphas_cumprod"), _derive_alphas),
    ),
    Part(
        "DiffusionSchedule",
        "alphas_cumprod_prev (1.0 first)",
        1,
        "DiffusionSchedule",
        schedule_part(("alphas_cumprod_prev",), _derive_prev),
    ),
    Part(
        "DiffusionSchedule",
        "square-root constants",
        1,
        "DiffusionSchedule",
        schedule_part(("sqrt_recip_alphas", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod"), _derive_sqrt),
    ),
    Part(
        "DiffusionSchedule",
        "posterior_variance",
        1,
        "DiffusionSchedule",
        schedule_part(("posterior_variance",), _derive_posterior),
    ),
    Part("extract", "a[t] shaped (B, 1, ..., 1)", 1, "extract", all_cases_check()),
    Part("q_sample", "eq. 4", 1, "q_sample", all_cases_check()),
    Part("p_losses", "l2 loss on the predicted noise", 1, "p_losses", all_cases_check(select=_sel({"l2"}))),
    Part("p_losses", "l1 and huber losses", 1, "p_losses", all_cases_check(select=_sel({"l1", "huber"}))),
    Part("SinusoidalPositionEmbeddings", "[sin, cos] embedding", 1, "SinusoidalPositionEmbeddings", all_cases_check()),
    Part("Block", "__init__: proj, norm, act", 1, "Block.init", all_cases_check()),
    Part("Block", "forward with and without scale_shift", 1, "Block.forward", None),  # set below
    Part("ResnetBlock", "forward", 1, "ResnetBlock", all_cases_check()),
    Part("p_sample", "mean of eq. 11", 1, "p_sample.mean", all_cases_check()),
    Part("p_sample", "noise step (none at t_index 0, sqrt of the posterior variance)", 1, "p_sample.noise", all_cases_check()),
    Part("p_sample_loop", "loop from T-1 down to 0", 1, "p_sample_loop", all_cases_check()),
    Part(
        "ddim_step",
        "deterministic update (eta = 0), with and without clipping",
        1,
        "ddim_step",
        all_cases_check(select=lambda ci: float(ci["eta"]) == 0),
    ),
    Part("ddim_step", "stochastic update (eta > 0)", 1, "ddim_step", all_cases_check(select=lambda ci: float(ci["eta"]) > 0)),
]


def _block_forward_check(inputs, reference, student):
    ok1, msg1 = all_cases_check("out")(inputs, reference, student)
    ok2, msg2 = all_cases_check("out_scale_shift")(inputs, reference, student)
    return ok1 and ok2, (msg1 or ("with scale_shift: " + msg2 if msg2 else ""))


PARTS[11].check = _block_forward_check
EXERCISES = list(dict.fromkeys(task.exercise for task in TASKS))


def make_inputs(seed):
    """``{task name: {key: array}}`` of randomized inputs for one grading run."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for task in TASKS:
        torch.manual_seed(int(rng.integers(1 << 30)))
        inputs[task.name] = task.make(np.random.default_rng(rng.integers(1 << 62)))
    return inputs


def make_references(inputs):
    """``{task name: {key: array}}`` computed in this (trusted) process from ``solutions/``."""
    torch.set_num_threads(1)
    return {task.name: task.reference(inputs[task.name]) for task in TASKS}


def score(exercise_points, inputs, references, results):
    """Trusted verdicts.

    ``results``: ``{task name: {"outputs": {key: array}, "status": "ok" | "timeout" | ...,
    "detail": str}}`` from the sandbox. Returns ``{exercise: {"points", "max", "parts": [...]}}``.
    """
    verdicts = {}
    for exercise in EXERCISES:
        parts = [p for p in PARTS if p.exercise == exercise]
        max_points = float(exercise_points.get(exercise, DEFAULT_POINTS[exercise]))
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


assert math.isclose(sum(p.weight for p in PARTS if p.exercise == "Block"), 2)
