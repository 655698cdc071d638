"""Self-checks for the exercises: ``checks.check_<exercise>()`` runs your code on
fixed inputs and, when something is off, says which quantity is wrong, what was
expected, what your code gave and, for the classic mistakes, what you probably did.

The expected numbers live in ``checks_expected.py``. They were computed once, in
float64, by the course's reference implementation, so this file contains checks, not
answers. Results are compared with the rule of ``tolerance.py``, the one the grader uses:
float32 rounding passes, mistakes do not. A check that passes prints one line; a check
that fails raises ``CheckFailure`` (an ``AssertionError``) with a short message.

The known mistakes come from the course's catalogue (``autograder/assignment/catalogue/``): each is a
mutation of the reference, run through these same checks when the course is built, and shipped here as
numbers (``checks_expected.MISTAKES``) with the sentence that explains it (``checks_expected.EXPLAIN``).
A check whose exercise calls another exercise checks that one first when it fails
(``checks_expected.DEPENDS``), so one mistake is reported once, where it is.
"""

import contextlib
import functools
import io
import math
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

from . import checks_expected as EXPECTED
from . import forward, losses, posterior, sampling, schedules, tolerance, unet

__all__ = [
    "CheckFailure",
    "check_cosine_beta_schedule",
    "check_DiffusionSchedule",
    "check_extract",
    "check_q_sample",
    "check_p_losses",
    "check_q_posterior",
    "check_SinusoidalPositionEmbeddings",
    "check_Block",
    "check_ResnetBlock",
    "check_p_sample",
    "check_p_sample_loop",
    "check_vlb_term",
    "check_ddim_step",
    "check_p_losses_cfg",
    "check_p_sample_guided",
]

SCALES = EXPECTED.SCALES  # the error scale of each expected value (see tolerance.py)


class CheckFailure(AssertionError):
    """A self-check found a problem; the message says what to fix."""


# ----------------------------------------------------------------------------
# Fixed inputs. No random numbers: smooth deterministic patterns that give the
# same values on every machine and every torch version.
# ----------------------------------------------------------------------------


def pattern(shape, phase=0.0, scale=1.0):
    """A fixed float32 input of ``shape``: ``scale * sin(1.37 i + phase)`` over its elements in order."""
    n = math.prod(shape)
    values = torch.sin(torch.arange(n, dtype=torch.float64) * 1.37 + phase) * scale
    return values.reshape(shape).to(torch.float32)


CHECK_T = 10


def fixed_betas():
    """Large, evenly spaced betas: every constant of the schedule differs clearly from the others."""
    return torch.linspace(0.05, 0.5, CHECK_T, dtype=torch.float32)


SCHEDULE_FIELDS = (
    "betas",
    "alphas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_recip_alphas",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "posterior_variance",
)


class FrozenSchedule:
    """A stand-in for ``DiffusionSchedule`` holding fixed (reference) constants, so
    that checking ``q_sample`` or ``p_sample`` does not depend on your schedule."""

    def __init__(self, **constants):
        self.timesteps = len(constants["betas"])
        for name, value in constants.items():
            setattr(self, name, torch.as_tensor(value, dtype=torch.float32))

    def replace(self, **changes):
        """A copy with some constants swapped (used to build the known mistakes)."""
        constants = {name: getattr(self, name) for name in SCHEDULE_FIELDS}
        constants.update(changes)
        return FrozenSchedule(**constants)

    def to(self, device):
        for name in SCHEDULE_FIELDS:
            setattr(self, name, getattr(self, name).to(device))
        return self


def seeded_noise(x, seed):
    """The z that ``torch.randn_like(x)`` draws right after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.randn_like(x)


def frozen_schedule():
    """The reference schedule of ``fixed_betas()``, as stored in ``checks_expected.py``."""
    return FrozenSchedule(**EXPECTED.SCHEDULE)


def eps_model(x, t):
    """A fixed stand-in for the trained network eps_theta(x_t, t)."""
    return 0.5 * x - 0.2 + 0.05 * (t.to(x.dtype) + 1.0).reshape(-1, *([1] * (x.ndim - 1)))


class EpsNet(nn.Module):
    """``eps_model`` with a parameter, for code that needs ``model.parameters()`` or gradients."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(1.0))

    def forward(self, x, t):
        return self.gain * eps_model(x, t)


def fill_parameters(module):
    """Give every parameter and buffer a fixed value, in name order, so two modules
    with the same structure compute the same function."""
    with torch.no_grad():
        for index, (name, tensor) in enumerate(sorted(module.state_dict().items())):
            if not torch.is_floating_point(tensor):
                continue
            values = pattern(tuple(tensor.shape), phase=0.3 * index, scale=0.4)
            if name.endswith("norm.weight"):
                values = values + 1.0
            tensor.copy_(values)
    return module


X0 = dict(shape=(3, 1, 4, 4), phase=0.1)
NOISE = dict(shape=(3, 1, 4, 4), phase=2.0)
Q_T = [1, 4, 8]
LOSS_T = [2, 5, 7]
EMB_DIM = 16
EMB_T = [0.0, 1.0, 7.0, 250.0, 999.0]
BLOCK = dict(dim=4, dim_out=8, groups=2)
BLOCK_X = dict(shape=(2, 4, 5, 5), phase=0.5)
BLOCK_SCALE = dict(shape=(2, BLOCK["dim_out"], 1, 1), phase=0.2, scale=0.5)
BLOCK_SHIFT = dict(shape=(2, BLOCK["dim_out"], 1, 1), phase=0.9, scale=0.5)
RESNET = dict(dim=4, dim_out=8, time_emb_dim=6, groups=2)
RESNET_SAME = dict(dim=8, dim_out=8, time_emb_dim=None, groups=2)
RESNET_SAME_X = dict(shape=(2, 8, 5, 5), phase=0.25)
RESNET_TIME = dict(shape=(2, 6), phase=1.1)
POST_X0 = dict(shape=(3, 1, 4, 4), phase=0.4, scale=0.9)
POST_XT = dict(shape=(3, 1, 4, 4), phase=2.5, scale=1.5)
POST_T = [0, 4, 9]  # index 0 (abar_{t-1} = 1: the posterior is the point x_0), a middle one and the last
SAMPLE_X = dict(shape=(2, 1, 4, 4), phase=0.7)
SAMPLE_CASES = {
    # name: (t_index, clip_denoised, posterior variance replaced by betas?)
    "step": (6, False, False),
    "last": (0, False, True),  # sigma_t^2 = beta_t here so that noise at index 0 would show
    "clipped": (6, True, False),
    "second": (1, False, False),  # the step before the last still adds noise
}
SEED = 1234
VLB_T = [1, 4, 9]  # paper steps 2, 5 and 10 of the check's 10-step schedule
DDIM_CASES = {
    # name: (t index, t_prev, eta, clip_denoised)
    "jump": (6, 3, 0.0, False),
    "jump_clipped": (6, 3, 0.0, True),
    "to_x0": (2, -1, 0.0, True),
    "eta_1": (6, 5, 1.0, False),
    "eta_half_jump": (6, 3, 0.5, False),  # eta in (0, 1) and a jump: sigma's every factor shows
}


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------


def _exercise_of(error):
    """(exercise, module) of the stub that raised ``error``, if it is one of ours."""
    message = str(error)
    if message.startswith("COMPLETE THIS: "):
        return EXPECTED.REGIONS.get(message[len("COMPLETE THIS: ") :])
    return None


def _not_implemented(exercise, module, error):
    found = _exercise_of(error)
    if found is None or found[0] == exercise:
        where = found[1] if found else module
        return f"not implemented yet: {exercise} (COMPLETE THIS in helpers/{where}.py)"
    return f"{exercise} relies on {found[0]}, which is not implemented yet: {found[0]} (COMPLETE THIS in helpers/{found[1]}.py)"


@contextmanager
def _running(exercise, module):
    """Turn a stub's NotImplementedError into one clean sentence."""
    try:
        yield
    except NotImplementedError as error:
        raise CheckFailure(_not_implemented(exercise, module, error)) from None


def _fail(message):
    raise CheckFailure(message)


def _passed(exercise, detail=""):
    print(f"\u2705 {exercise}: all checks passed{' (' + detail + ')' if detail else ''}.")


def _fmt(tensor, limit=6):
    values = torch.as_tensor(tensor).detach().double().flatten().tolist()
    shown = ", ".join(f"{v:.5g}" for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _close(got, want, scale=None):
    """``got`` equals ``want`` up to float32 rounding (the rule of ``tolerance.py``)."""
    got, want = torch.as_tensor(got).detach().double().cpu(), torch.as_tensor(want).detach().double().cpu()
    return got.shape == want.shape and tolerance.close(got, want, scale)


def _shifted(got, want):
    """'one index later' / 'one index earlier' when ``got`` is ``want`` shifted along its first axis."""
    got, want = torch.as_tensor(got).double(), torch.as_tensor(want).double()
    if got.shape != want.shape or got.ndim != 1 or len(got) < 3:
        return None
    if _close(got[:-1], want[1:]):
        return "one index later"
    if _close(got[1:], want[:-1]):
        return "one index earlier"
    return None


NO_CREDIT = "The grader compares with this exercise's choice, so it gives this version no credit."


def _not_asked(what, hint, numbers=""):
    """Fail without calling valid work wrong: ``what`` follows an alternative the papers allow."""
    _fail(f"{what} is a valid alternative, but not what this exercise asks. {hint} {NO_CREDIT}{numbers}")


# ----------------------------------------------------------------------------
# The catalogue's known mistakes, and the exercise each check is about
# ----------------------------------------------------------------------------

_EXERCISE = ContextVar("exercise", default=None)  # the exercise whose check is running
_RECORDING = ContextVar("recording", default=None)  # {what: value} while the course's tooling records values


@contextmanager
def recording():
    """For the course's tooling (``python -m autograder helpers``): while the block runs, every compared
    value is stored in the yielded ``{what: tensor}`` instead of being checked, so that running a check on
    a mutated reference gives that mistake's values."""
    values = {}
    token = _RECORDING.set(values)
    try:
        yield values
    finally:
        _RECORDING.reset(token)


def _dependency_failure(exercise):
    """The message when one of the exercises ``exercise`` calls fails its own check (None: they pass)."""
    for dependency in EXPECTED.DEPENDS.get(exercise, ()):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                globals()[f"check_{dependency}"]()
        except CheckFailure:
            return (
                f"{exercise} calls your {dependency}, which fails its own check: fix {dependency} first "
                f"(checks.check_{dependency}() says what is wrong), then run this check again."
            )
    return None


def _checks(exercise):
    """The self-check of ``exercise``: its comparisons know the exercise's mistakes, and when it fails,
    an exercise it calls that fails its own check is named instead."""

    def decorate(check):
        @functools.wraps(check)
        def run():
            __tracebackhide__ = True
            token = _EXERCISE.set(exercise)
            try:
                return check()
            except CheckFailure as failure:
                if _RECORDING.get() is None and "not implemented yet" not in str(failure):
                    blamed = _dependency_failure(exercise)
                    if blamed:
                        raise CheckFailure(blamed) from None
                raise
            finally:
                _EXERCISE.reset(token)

        return run

    return decorate


MISTAKE_POINTS = 64  # a large mistaken value is stored at this many evenly spread elements


def sample_index(numel, points=MISTAKE_POINTS):
    """The flat indices at which a value of ``numel`` elements is stored when it has more than ``points``."""
    return torch.linspace(0, numel - 1, points).round().long()


def _at_stored_points(tensor, stored):
    """``tensor`` flattened to the elements a mistaken value of ``stored`` elements was stored at."""
    flat = torch.as_tensor(tensor).detach().double().cpu().flatten()
    return flat if stored == flat.numel() else flat[sample_index(flat.numel(), stored)]


def _known(what, noise):
    """``[(kind, sentence, value)]``: the catalogue's mistakes of the running exercise at ``what``; a value
    drawn with noise is ``mean + coef * noise`` (``noise``: the z the check's seed gives). A large value is
    stored flat at ``sample_index`` points."""
    known = []
    for mistake, mean, coef in EXPECTED.MISTAKES.get(_EXERCISE.get(), {}).get(what, ()):
        value = torch.tensor(mean, dtype=torch.float64)
        if coef is not None:
            if noise is None:
                continue
            z = torch.as_tensor(noise).double()
            z = z if z.shape == value.shape else _at_stored_points(z, value.numel())
            value = value + torch.tensor(coef, dtype=torch.float64) * z
        kind, sentence = EXPECTED.EXPLAIN[mistake]
        known.append((kind, sentence, value))
    return known


def _compare(what, got, want, scale=None, noise=None):
    """Pass when ``got`` matches ``want``; otherwise name the matching valid alternative (a choice the
    papers allow, but not this exercise's) or known mistake, or show the numbers. ``noise``: the z the
    code under test drew (after the check's seed), for the mistakes whose values depend on it."""
    recorded = _RECORDING.get()
    if recorded is not None:
        recorded[what] = torch.as_tensor(got).detach().double().clone() if torch.is_tensor(got) else got
        return
    if not torch.is_tensor(got):
        _fail(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    want = torch.as_tensor(want)
    if tuple(got.shape) != tuple(want.shape):
        _fail(f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    if not torch.is_floating_point(got):
        _fail(f"{what} has dtype {got.dtype}, expected a float tensor")
    if got.dtype != torch.float32:
        _fail(
            f"{what} has dtype {got.dtype}, but every input here is float32: return float32 (look for a float64 "
            "constant, torch.tensor(..., dtype=torch.float64) or a numpy array). A float64 result makes training "
            "fail later with 'Input type (double) and bias type (float)'."
        )
    if got.device.type != "cpu":
        _fail(f"{what} is on {got.device}, but every input here is on the CPU: keep the inputs' device (x.device)")
    if not bool(torch.isfinite(got).all()):
        _fail(f"{what} contains NaN or inf: {_fmt(got)}")
    if _close(got, want, scale):
        return
    numbers = f"\n  expected {_fmt(want)}\n  got      {_fmt(got)}"
    base = torch.as_tensor(scale, dtype=torch.float64) if scale is not None else want.double().abs()
    matches = []
    for kind, sentence, value in _known(what, noise):
        mine, own_base = got, base
        if value.shape != got.shape and value.ndim == 1 and value.numel() < got.numel():  # stored at sample points
            mine, own_base = _at_stored_points(got, value.numel()), _at_stored_points(base.expand(got.shape), value.numel())
        if tuple(value.shape) != tuple(mine.shape):
            continue
        # a mistake matches within a looser tolerance of its own magnitude (tolerance.mistake_scale): the
        # correct value's error scale can be far smaller than the mistaken value, or its rounding
        distance = tolerance.distance(mine.detach().double().cpu(), value, tolerance.mistake_scale(own_base, value))
        if distance <= 1.0:
            matches.append((distance, kind, sentence))
    if matches:  # the closest known mistake, when two lie within the slack of each other
        _distance, kind, sentence = min(matches, key=lambda match: match[0])
        if kind == "alternative":
            _not_asked(what, sentence, numbers)
        _fail(f"{what} is wrong. {sentence}{numbers}")
    shift = _shifted(got, want)
    if shift:
        _fail(
            f"{what} is off by one index: every value sits {shift} than expected. Index t = 0 is the paper's "
            f"step 1; arrays have length T and are indexed 0 ... T-1.\n  expected {_fmt(want)}\n  got      {_fmt(got)}"
        )
    error = (got.detach().double().cpu() - want.double()).abs()
    worst = int(error.flatten().argmax())
    _fail(
        f"{what} is wrong: largest difference {float(error.max()):.3g} at flat index {worst} "
        f"({tolerance.describe(got, want, scale)}).\n"
        f"  expected {_fmt(want)}\n  got      {_fmt(got)}"
    )


def _tensor(name):
    return torch.tensor(getattr(EXPECTED, name) if isinstance(name, str) else name, dtype=torch.float64)


# ----------------------------------------------------------------------------
# 01: schedules
# ----------------------------------------------------------------------------


@_checks("cosine_beta_schedule")
def check_cosine_beta_schedule():
    """``schedules.cosine_beta_schedule``: values for T = 10 and T = 1000, dtype, range, clipping."""
    __tracebackhide__ = True
    with _running("cosine_beta_schedule", "schedules"):
        got = schedules.cosine_beta_schedule(CHECK_T)
        got_long = schedules.cosine_beta_schedule(1000)
        got_capped = schedules.cosine_beta_schedule(CHECK_T, max_beta=0.5)
    for label, value, length in (("cosine_beta_schedule(10)", got, 10), ("cosine_beta_schedule(1000)", got_long, 1000)):
        if not torch.is_tensor(value):
            _fail(f"{label} should return a torch.Tensor, got {type(value).__name__}")
        if tuple(value.shape) != (length,):
            _fail(
                f"{label} has shape {tuple(value.shape)}, expected ({length},): one beta per step. "
                "Build T + 1 grid points t = 0 ... T, then take the T ratios abar(t + 1) / abar(t)."
            )
        if value.dtype != torch.float32 and _RECORDING.get() is None:  # the tooling records in float64
            _fail(f"{label} has dtype {value.dtype}; compute in float64, then return .to(torch.float32)")
    _compare("cosine_beta_schedule(10)", got, _tensor(EXPECTED.COSINE_10), scale=SCALES["COSINE_10"])
    if _RECORDING.get() is None and float(got_long.max()) <= 0.0201:
        _fail("cosine_beta_schedule(1000) never exceeds 0.02: the betas are clipped at 0.02. Clip at max_beta = 0.999 only.")
    long_want = EXPECTED.COSINE_1000
    _compare(
        "cosine_beta_schedule(1000) at indices " + str(list(long_want)),
        got_long[list(long_want)],
        _tensor(list(long_want.values())),
        scale=SCALES["COSINE_1000"],
    )
    _compare(
        "cosine_beta_schedule(10, max_beta=0.5)", got_capped, _tensor(EXPECTED.COSINE_10_CAPPED), scale=SCALES["COSINE_10_CAPPED"]
    )
    _passed("cosine_beta_schedule", f"beta_1 = {float(got_long[0]):.3g}, beta_T = {float(got_long[-1]):.3g} for T = 1000")


@_checks("DiffusionSchedule")
def check_DiffusionSchedule():
    """``schedules.DiffusionSchedule``: every constant, for betas = linspace(0.05, 0.5, 10)."""
    __tracebackhide__ = True
    with _running("DiffusionSchedule", "schedules"):
        schedule = schedules.DiffusionSchedule(fixed_betas())
    if getattr(schedule, "timesteps", None) != CHECK_T:
        _fail(f"schedule.timesteps should be {CHECK_T}, got {getattr(schedule, 'timesteps', None)!r}")
    for name in SCHEDULE_FIELDS[1:]:  # in the order they are derived: the first wrong one is named
        if not hasattr(schedule, name):
            _fail(f"DiffusionSchedule has no attribute {name!r}: set self.{name} in __init__")
        _compare(f"schedule.{name}", getattr(schedule, name), _tensor(EXPECTED.SCHEDULE[name]), scale=SCALES["SCHEDULE"][name])
    if float(schedule.alphas_cumprod_prev[0]) != 1.0:
        _fail("schedule.alphas_cumprod_prev[0] must be exactly 1.0")
    with _running("DiffusionSchedule", "schedules"):
        moved = schedule.to("cpu")
    if moved is not schedule:
        _fail("DiffusionSchedule.to(device) should return self")
    _passed("DiffusionSchedule", f"abar_T = {float(schedule.alphas_cumprod[-1]):.3g} for these betas")


@_checks("extract")
def check_extract():
    """``schedules.extract``: values, dtype and shape for two ranks, device."""
    __tracebackhide__ = True
    a = 0.5 + 0.25 * torch.arange(CHECK_T, dtype=torch.float32) ** 1.5
    t = torch.tensor([2, 0, 9, 5])
    with _running("extract", "schedules"):
        got = schedules.extract(a, t, (4, 3, 8, 8))
        got_2d = schedules.extract(a, t, (4, 7))
    for label, value in (("extract(a, t, (4, 3, 8, 8))", got), ("extract(a, t, (4, 7))", got_2d)):
        if not torch.is_tensor(value):
            _fail(f"{label} should return a tensor, got {type(value).__name__}")
    if tuple(got.shape) != (4, 1, 1, 1):
        _fail(f"extract(a, t, (4, 3, 8, 8)) has shape {tuple(got.shape)}, expected (4, 1, 1, 1) so it broadcasts over C, H, W")
    if tuple(got_2d.shape) != (4, 1):
        _fail(f"extract(a, t, (4, 7)) has shape {tuple(got_2d.shape)}, expected (4, 1): one trailing 1 per extra dimension")
    # both results through _compare: it also fails a dtype other than a's (float32) or another device
    _compare("extract(a, t, (4, 3, 8, 8))", got.flatten(), a[t])
    _compare("extract(a, t, (4, 7))", got_2d.flatten(), a[t])
    if got.device != t.device:
        _fail(f"extract returned a tensor on {got.device}; it must be on t's device ({t.device})")
    _passed("extract")


# ----------------------------------------------------------------------------
# 02: the forward process
# ----------------------------------------------------------------------------


@_checks("q_sample")
def check_q_sample():
    """``forward.q_sample`` with a fixed schedule, images and noise."""
    __tracebackhide__ = True
    schedule = frozen_schedule()
    x_0, noise, t = pattern(**X0), pattern(**NOISE), torch.tensor(Q_T)
    torch.manual_seed(SEED)  # noise drawn although noise= was given is then the z of seeded_noise
    with _running("q_sample", "forward"):
        got = forward.q_sample(schedule, x_0, t, noise=noise)
        got_default = forward.q_sample(schedule, x_0, t)
    _compare(
        "q_sample(schedule, x_0, t, noise)",
        got,
        _tensor(EXPECTED.Q_SAMPLE),
        scale=SCALES["Q_SAMPLE"],
        noise=seeded_noise(x_0, SEED),
    )
    if tuple(got_default.shape) != tuple(x_0.shape):
        _fail(f"q_sample without noise returned shape {tuple(got_default.shape)}, expected {tuple(x_0.shape)}")
    if _close(got_default, got):
        _fail("q_sample ignored noise=None: draw fresh noise with torch.randn_like(x_0) when none is given")
    _passed("q_sample")


# ----------------------------------------------------------------------------
# 03: the training objective
# ----------------------------------------------------------------------------


@_checks("p_losses")
def check_p_losses():
    """``losses.p_losses`` for l1, l2 and huber with a fixed stand-in model."""
    __tracebackhide__ = True
    schedule = frozen_schedule()
    x_0, noise, t = pattern(**X0), pattern(**NOISE), torch.tensor(LOSS_T)
    model = EpsNet()
    got = {}
    with _running("p_losses", "losses"):
        for loss_type in ("l2", "l1", "huber"):
            torch.manual_seed(SEED)
            got[loss_type] = losses.p_losses(model, schedule, x_0, t, noise=noise, loss_type=loss_type)
        torch.manual_seed(SEED + 1)
        again = losses.p_losses(model, schedule, x_0, t, noise=noise, loss_type="l2")
    for loss_type, value in got.items():
        if not torch.is_tensor(value) or value.ndim != 0:
            shape = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
            _fail(f"p_losses(loss_type={loss_type!r}) should return a scalar tensor (the mean), got {shape}")
    # the loss of noise drawn although noise= was given is no linear function of the draw, so no value
    # can name it: another seed, the same noise, and a loss that changes can
    if _RECORDING.get() is None and not _close(again.detach(), got["l2"].detach()):
        _fail(
            "p_losses(loss_type='l2') is wrong: with the same noise it gives another loss after another "
            f"torch.manual_seed. {EXPECTED.EXPLAIN['losses_fresh_noise'][1]}"
        )
    for loss_type in ("l2", "l1", "huber"):
        _compare(
            f"p_losses(loss_type={loss_type!r})",
            got[loss_type],
            _tensor(EXPECTED.P_LOSSES[loss_type]),
            scale=SCALES["P_LOSSES"][loss_type],
        )
    if not got["l2"].requires_grad:
        _fail("p_losses returned a loss without gradient: do not detach or wrap the model call in torch.no_grad()")
    try:
        losses.p_losses(model, schedule, x_0, t, noise=noise, loss_type="l3")
    except ValueError:
        pass
    except NotImplementedError:
        pass
    else:
        _fail("p_losses(loss_type='l3') should raise ValueError")
    _passed("p_losses", ", ".join(f"{k} = {float(v.detach()):.4f}" for k, v in got.items()))


@_checks("q_posterior")
def check_q_posterior():
    """``posterior.q_posterior``: the mean and variance of q(x_{t-1} | x_t, x_0) at indices 0, 4 and 9."""
    __tracebackhide__ = True
    schedule = frozen_schedule()
    x_0, x_t, t = pattern(**POST_X0), pattern(**POST_XT), torch.tensor(POST_T)
    with _running("q_posterior", "posterior"):
        got = posterior.q_posterior(schedule, x_0, x_t, t)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        _fail(f"q_posterior should return a pair (mean, variance), got {type(got).__name__}")
    mean, variance = got
    want = EXPECTED.Q_POSTERIOR
    for what, value in (("mean", mean), ("variance", variance)):
        if torch.is_tensor(value) and value.shape[:1] == (3,) and not bool(torch.isfinite(value[0]).all()):
            _fail(
                f"q_posterior's {what} is not finite at index 0. There abar_{{t-1}} = 1: q(x_{{t-1}} | x_0) is the point "
                "x_0 (variance 0, precision infinite). Simplify with alpha_t (1 - abar_{t-1}) + beta_t = 1 - abar_t until "
                "no division by 1 - abar_{t-1} is left."
            )
    _compare("q_posterior(...) mean", mean, _tensor(want["mean"]), scale=SCALES["Q_POSTERIOR"]["mean"])
    if torch.is_tensor(variance) and tuple(variance.shape) == tuple(x_t.shape):
        _fail("q_posterior's variance has the shape of x_t; return one number per image, shaped (B, 1, 1, 1) (extract does that)")
    _compare("q_posterior(...) variance", variance, _tensor(want["variance"]), scale=SCALES["Q_POSTERIOR"]["variance"])
    _passed("q_posterior")


# ----------------------------------------------------------------------------
# 04: the U-Net parts
# ----------------------------------------------------------------------------


@_checks("SinusoidalPositionEmbeddings")
def check_SinusoidalPositionEmbeddings():
    """``unet.SinusoidalPositionEmbeddings(16)`` on t = 0, 1, 7, 250, 999, as floats and as a LongTensor."""
    __tracebackhide__ = True
    time = torch.tensor(EMB_T)
    with _running("SinusoidalPositionEmbeddings", "unet"):
        module = unet.SinusoidalPositionEmbeddings(EMB_DIM)
        got = module(time)
        got_long = module(time.long())
    want = _tensor(EXPECTED.EMBEDDINGS)
    # the catalogue's alternatives (Vaswani et al.'s layout and frequencies, cosines first...) are named as
    # such: valid choices of the papers' code, which this exercise does not ask for
    _compare("SinusoidalPositionEmbeddings(16)(t)", got, want, scale=SCALES["EMBEDDINGS"])
    _compare("SinusoidalPositionEmbeddings(16)(t as LongTensor)", got_long, want, scale=SCALES["EMBEDDINGS"])
    _passed("SinusoidalPositionEmbeddings")


def _is_pre_activation(block):
    """True when ``block(x)`` is conv(SiLU(GroupNorm(x))), the pre-activation order, with its own layers."""
    fill_parameters(block)
    x = pattern(**BLOCK_X)
    norm = block.norm
    try:
        with torch.no_grad():
            got = block(x)
            pre = block.proj(nn.functional.silu(nn.functional.group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)))
    except Exception:  # anything else is reported by the structural messages below
        return False
    return torch.is_tensor(got) and _close(got, pre)


def _block_structure(block, dim, dim_out, groups):
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in block.modules() if isinstance(m, nn.GroupNorm)]
    if not isinstance(getattr(block, "proj", None), nn.Conv2d):
        _fail("Block needs self.proj: a 3x3 convolution from dim to dim_out channels, padding 1")
    if not isinstance(getattr(block, "norm", None), nn.GroupNorm):
        _fail("Block needs self.norm: a GroupNorm with `groups` groups over the dim_out output channels")
    if not hasattr(block, "act"):
        _fail("Block needs self.act: the SiLU activation module")
    proj, norm = block.proj, block.norm
    if (proj.in_channels, proj.out_channels) != (dim, dim_out):
        _fail(f"Block.proj maps {proj.in_channels} -> {proj.out_channels} channels, expected {dim} -> {dim_out}")
    # padding="same" is padding 1 for a 3x3 kernel
    if tuple(proj.kernel_size) != (3, 3) or (proj.padding != "same" and tuple(proj.padding) != (1, 1)):
        _fail(f"Block.proj has kernel {tuple(proj.kernel_size)} and padding {proj.padding}: use a 3x3 kernel with padding=1")
    if norm.num_channels == dim and dim != dim_out:
        if _is_pre_activation(block):
            _not_asked(
                "Block(x)",
                "It computes GroupNorm -> SiLU -> conv, the pre-activation order of Ho et al.'s ResNet blocks (as in "
                "Wide ResNets), whose norm sees the block's input. This exercise asks for the order of the "
                "annotated-diffusion U-Net: conv -> GroupNorm over the dim_out output channels -> (scale, shift) -> SiLU.",
            )
        _fail(
            f"Block.norm is a GroupNorm over {dim} channels, the block's *input*. It normalizes the convolution's "
            f"output: a GroupNorm over dim_out = {dim_out} channels."
        )
    if norm.num_channels != dim_out:
        _fail(f"Block.norm normalizes {norm.num_channels} channels, expected dim_out = {dim_out}")
    if norm.num_groups != groups:
        _fail(f"Block.norm has {norm.num_groups} groups; use the `groups` argument ({groups})")
    if len(convs) != 1 or len(norms) != 1:
        _fail(f"Block should have exactly one Conv2d and one GroupNorm, found {len(convs)} and {len(norms)}")


@_checks("Block")
def check_Block():
    """``unet.Block(4, 8, groups=2)``: layers, output with and without scale_shift."""
    __tracebackhide__ = True
    with _running("Block", "unet"):
        block = unet.Block(BLOCK["dim"], BLOCK["dim_out"], groups=BLOCK["groups"])
    _block_structure(block, **BLOCK)
    fill_parameters(block)
    x = pattern(**BLOCK_X)
    scale, shift = pattern(**BLOCK_SCALE), pattern(**BLOCK_SHIFT)
    with _running("Block", "unet"), torch.no_grad():
        got = block(x)
        got_ss = block(x, scale_shift=(scale, shift))
    want = EXPECTED.BLOCK
    _compare("Block(x)", got, _tensor(want["plain"]), scale=SCALES["BLOCK"]["plain"])
    _compare("Block(x, scale_shift=(scale, shift))", got_ss, _tensor(want["scale_shift"]), scale=SCALES["BLOCK"]["scale_shift"])
    _passed("Block")


@_checks("ResnetBlock")
def check_ResnetBlock():
    """``unet.ResnetBlock``: with a time embedding and 4 -> 8 channels, and without one at 8 -> 8."""
    __tracebackhide__ = True
    with _running("ResnetBlock", "unet"):
        block = fill_parameters(unet.ResnetBlock(**RESNET))
        same = fill_parameters(unet.ResnetBlock(**RESNET_SAME))
    x = pattern(**BLOCK_X)
    x8 = pattern(**RESNET_SAME_X)
    time_emb = pattern(**RESNET_TIME)
    with _running("ResnetBlock", "unet"), torch.no_grad():
        got = block(x, time_emb)
        got_none = block(x, None)
        got_same = same(x8)
    want = EXPECTED.RESNET
    _compare(
        "ResnetBlock(4, 8, time_emb_dim=6)(x, time_emb)", got, _tensor(want["with_time"]), scale=SCALES["RESNET"]["with_time"]
    )
    _compare(
        "ResnetBlock(4, 8, time_emb_dim=6)(x, None)",
        got_none,
        _tensor(want["without_time"]),
        scale=SCALES["RESNET"]["without_time"],
    )
    _compare("ResnetBlock(8, 8)(x)", got_same, _tensor(want["same"]), scale=SCALES["RESNET"]["same"])
    _passed("ResnetBlock")


# ----------------------------------------------------------------------------
# 05: sampling
# ----------------------------------------------------------------------------


def _compare_cases(what, cases, noise=None):
    """Compare the ``[(label, got, want, scale)]`` of one check all at once, stacked: a known mistake is
    named only when it matches every case (two mistakes that agree on one case, e.g. at w = 0, differ on
    another). ``noise``: the z each case's code drew (the same seed for every case)."""
    __tracebackhide__ = True
    for label, got, want, _scale in cases:
        if not torch.is_tensor(got):
            _fail(f"{label} should return a torch.Tensor, got {type(got).__name__}")
        if tuple(got.shape) != tuple(want.shape):
            _fail(f"{label} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    got = torch.stack([case[1].detach() for case in cases])
    want = torch.stack([torch.as_tensor(case[2], dtype=torch.float64) for case in cases])
    scale = torch.stack([_tensor(case[3]).expand(want.shape[1:]) for case in cases])
    stacked_noise = None if noise is None else torch.stack([torch.as_tensor(noise)] * len(cases))
    try:
        _compare(what, got, want, scale, stacked_noise)
    except CheckFailure as failure:
        differ = [(label, g, w) for label, g, w, s in cases if not _close(g, w, s)]
        detail = "; ".join(label for label, _g, _w in differ)
        if differ and differ[0][0] != cases[0][0]:  # the numbers above are the first case's: show a differing one
            label, g, w = differ[0]
            detail += f"\n  {label}:\n  expected {_fmt(w)}\n  got      {_fmt(g)}"
        raise CheckFailure(f"{failure}\n  the cases that differ: {detail}" if differ else str(failure)) from None


def sample_schedule(schedule, use_betas_as_variance):
    """The schedule a sampling case runs on: sigma_t^2 = beta_t instead of the posterior variance if asked."""
    return schedule.replace(posterior_variance=schedule.betas) if use_betas_as_variance else schedule


@_checks("p_sample")
def check_p_sample():
    """``sampling.p_sample``: one reverse step at t_index 6 (with and without clipping), 1 and 0."""
    __tracebackhide__ = True
    x_t = pattern(**SAMPLE_X)
    z = seeded_noise(x_t, SEED)
    cases = []
    for case, (t_index, clip, betas_as_variance) in SAMPLE_CASES.items():
        schedule = sample_schedule(frozen_schedule(), betas_as_variance)
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)
        torch.manual_seed(SEED)
        label = f"p_sample(..., t_index={t_index}{', clip_denoised=True' if clip else ''})"
        try:
            with _running("p_sample", "sampling"):
                got = sampling.p_sample(eps_model, schedule, x_t, t, t_index, clip_denoised=clip)
        except IndexError as error:  # extract's own message says which index it got
            _fail(f"{label} raised IndexError: {error}. Off by one? t (and t_index) are already 0-based, 0 ... T-1: "
                  "read the schedule's constants at t, not at t - 1 or t + 1.")  # fmt: skip
        mean, std = EXPECTED.P_SAMPLE[case]
        if betas_as_variance:
            label += " (with posterior_variance = betas, so that noise at index 0 would show)"
        cases.append((label, got, _tensor(mean) + std * z, SCALES["P_SAMPLE"][case]))
    _compare_cases("p_sample(..., t_index=6, 0, 6 clipped, 1)", cases, noise=z)
    _passed("p_sample")


@contextmanager
def _recording_p_sample():
    """Wrap ``sampling.p_sample`` to record every call ``p_sample_loop`` makes."""
    calls = []
    original = sampling.p_sample

    def recorder(model, schedule, x_t, t, t_index, clip_denoised=False, *args, **kwargs):
        out = original(model, schedule, x_t, t, t_index, clip_denoised, *args, **kwargs)
        calls.append(dict(x_t=x_t.detach().clone(), t=t.detach().clone(), t_index=t_index, clip=clip_denoised, out=out.clone()))
        return out

    sampling.p_sample = recorder
    try:
        yield calls
    finally:
        sampling.p_sample = original


@_checks("p_sample_loop")
def check_p_sample_loop():
    """``sampling.p_sample_loop``: the order of the steps, what each step receives, and what is returned."""
    __tracebackhide__ = True
    schedule = frozen_schedule()
    shape = (2, 1, 4, 4)
    model = EpsNet()
    for keep_all, clip in ((False, True), (True, False)):
        generator = torch.Generator().manual_seed(SEED)
        x_T = torch.randn(shape, generator=torch.Generator().manual_seed(SEED))
        torch.manual_seed(SEED)
        with _running("p_sample_loop", "sampling"), _recording_p_sample() as calls:
            result = sampling.p_sample_loop(
                model, schedule, shape, clip_denoised=clip, return_all=keep_all, progress=False, generator=generator
            )
        indices = [call["t_index"] for call in calls]
        expected_indices = list(range(CHECK_T - 1, -1, -1))
        if indices != expected_indices:
            hint = ""
            if indices == expected_indices[:-1]:
                hint = " The loop stops at 1: it must go down to t_index 0 (the paper's step 1)."
            elif indices in (list(range(CHECK_T, 0, -1)), [i - 1 for i in expected_indices]):
                hint = " Off by one: t_index runs from T - 1 down to 0 (0-based), the paper's steps T ... 1."
            elif indices == sorted(expected_indices):
                hint = " The loop runs forwards: use reversed(range(schedule.timesteps))."
            shown = f"{indices[:12]}{'...' if len(indices) > 12 else ''}"
            _fail(f"p_sample_loop called p_sample with t_index {shown}, expected T-1 ... 0 = {expected_indices}.{hint}")
        for call in calls:
            t = call["t"]
            if not torch.is_tensor(t) or t.dtype != torch.long or tuple(t.shape) != (shape[0],):
                _fail(f"p_sample_loop passed t = {t!r}; it should be a LongTensor of shape ({shape[0]},) filled with t_index")
            if bool((t != call["t_index"]).any()):
                _fail(f"p_sample_loop passed t = {t.tolist()} with t_index = {call['t_index']}: t must be filled with t_index")
            if bool(call["clip"]) != clip:
                _fail(f"p_sample_loop(clip_denoised={clip}) called p_sample with clip_denoised={call['clip']}: pass it on")
        if not _close(calls[0]["x_t"], x_T):
            _fail("The first step should start from x_T, the provided `img = torch.randn(...)`; do not draw a new one")
        for previous, call in zip(calls, calls[1:]):
            if not _close(call["x_t"], previous["out"]):
                _fail(f"At t_index {call['t_index']} p_sample did not receive the output of the previous step: "
                      "feed each step's result into the next one (img = p_sample(...)).")  # fmt: skip
        final = calls[-1]["out"]
        if keep_all:
            if not isinstance(result, (list, tuple)):
                _fail(f"p_sample_loop(return_all=True) should return a list of T + 1 tensors, got {type(result).__name__}")
            if len(result) != CHECK_T + 1:
                _fail(
                    f"p_sample_loop(return_all=True) returned {len(result)} tensors, expected T + 1 = {CHECK_T + 1}: "
                    "x_T first, then every step"
                )
            if not _close(result[0], x_T):
                _fail("p_sample_loop(return_all=True): the first element should be x_T, the starting noise")
            for index, (image, call) in enumerate(zip(result[1:], calls), 1):
                if not _close(image, call["out"]):
                    _fail(f"p_sample_loop(return_all=True): element {index} is not the output of step {index}")
                if image.device.type != "cpu":
                    _fail("p_sample_loop(return_all=True) should keep the steps on the CPU (.cpu())")
        else:
            if not torch.is_tensor(result):
                _fail(f"p_sample_loop should return a tensor (x_0), got {type(result).__name__}")
            if not _close(result, final):
                _fail("p_sample_loop should return x_0, the output of the last step (t_index 0)")
    _passed("p_sample_loop")


@_checks("vlb_term")
def check_vlb_term():
    """``likelihood.vlb_term``: the KL terms L_{t-1} of three images, with each of the two variances."""
    __tracebackhide__ = True
    from . import likelihood  # imported by its own check only: a broken module does not stop the others

    x_0, noise, t = pattern(**X0), pattern(**NOISE), torch.tensor(VLB_T)
    cases = []
    for variance in likelihood.VARIANCES:
        with _running("vlb_term", "likelihood"), torch.no_grad():
            got = likelihood.vlb_term(eps_model, frozen_schedule(), x_0, t, noise=noise, variance=variance)
        label = f"vlb_term(..., t={VLB_T}, variance={variance!r})"
        if torch.is_tensor(got) and got.numel() == 1 and tuple(got.shape) != (len(VLB_T),):
            _fail(f"{label} returned one number, shape {tuple(got.shape)}: you averaged over the batch too. Return one KL "
                  f"per image, shape (B,) = ({len(VLB_T)},): average over C, H and W only (dims 1, 2, 3).")  # fmt: skip
        cases.append((label, got, _tensor(EXPECTED.VLB_TERM[variance]), SCALES["VLB_TERM"][variance]))
    try:
        _compare_cases(f"vlb_term(..., t={VLB_T}) with variance 'posterior' and 'beta'", cases)
    except CheckFailure as failure:
        negative = [got for _label, got, _want, _scale in cases if torch.is_tensor(got) and bool((got < 0).any())]
        if negative:
            raise CheckFailure(
                f"{failure}\n  Some of your KL terms are negative ({_fmt(negative[0])}), but a KL divergence is never "
                "negative: it is 0 only when the two Gaussians are equal. Look at the signs, of the log term in particular."
            ) from None
        raise
    _passed("vlb_term")


# ----------------------------------------------------------------------------
# Bonus (notebook 08): DDIM
# ----------------------------------------------------------------------------


@_checks("ddim_step")
def check_ddim_step():
    """``ddim.ddim_step``: deterministic jumps (with and without clipping), the jump to x_0, and eta = 1 and 0.5."""
    __tracebackhide__ = True
    from . import ddim  # the bonus module, imported only by its own check

    x_t = pattern(**SAMPLE_X)
    schedule = frozen_schedule()
    z = seeded_noise(x_t, SEED)
    cases = []
    for case, (index, t_prev, eta, clip) in DDIM_CASES.items():
        t = torch.full((x_t.shape[0],), index, dtype=torch.long)
        torch.manual_seed(SEED)
        with _running("ddim_step", "ddim"):
            got = ddim.ddim_step(eps_model, schedule, x_t, t, t_prev, eta=eta, clip_denoised=clip)
        mean, std = EXPECTED.DDIM[case]
        label = f"ddim_step(t={index}, t_prev={t_prev}, eta={eta}{', clip_denoised=True' if clip else ''})"
        cases.append((label, got, _tensor(mean) + std * z, SCALES["DDIM"][case]))
    _compare_cases(f"ddim_step(...) in its {len(DDIM_CASES)} cases", cases, noise=z)
    _passed("ddim_step", "with eta = 1 and consecutive steps, DDIM's sigma equals DDPM's posterior standard deviation")


# ----------------------------------------------------------------------------
# Bonus (notebook 10): classifier-free guidance
# ----------------------------------------------------------------------------

CFG_CLASSES = 3  # the stand-in's classes 0, 1, 2; label 3 is the "no class" token
CFG_OFFSETS = (0.3, -0.4, 0.7, -0.25)  # one per label, the last for "no class"
CFG_LABELS = [1, 0, 2]  # the dropped label is neither class 0 nor the last class: a wrong token shows
CFG_MASK = [True, False, False]
CFG_MASK_P_UNCOND = 1.0  # a given mask decides alone; were it ignored, p_uncond = 1 would drop every label
CFG_P_UNCOND = 0.25
CFG_DROPOUT_BATCH = 2000
GUIDED_LABELS = [2, 0]
GUIDED_CASES = {
    # name: (t_index, w, clip_denoised)
    "w0": (6, 0.0, False),
    "w2": (6, 2.0, False),
    "w3_last": (0, 3.0, True),
}


class ClassEpsNet(nn.Module):
    """A fixed stand-in for a class-conditional eps_theta(x_t, t, class_labels): ``eps_model`` plus an
    offset per label (None: the "no class" token for every image). It records the labels of every call."""

    def __init__(self):
        super().__init__()
        self.num_classes = CFG_CLASSES
        self.gain = nn.Parameter(torch.tensor(1.0))
        self.calls = []

    def forward(self, x, t, class_labels=None):
        if class_labels is None:
            class_labels = torch.full((x.shape[0],), self.num_classes, dtype=torch.long)
        labels = torch.as_tensor(class_labels).long().cpu()
        if labels.shape != (x.shape[0],):
            _fail(f"the model was called with class_labels of shape {tuple(labels.shape)}: give one label per image")
        if bool(((labels < 0) | (labels > self.num_classes)).any()):
            _fail(f"the model was called with labels {labels.tolist()}: classes are 0 ... {self.num_classes - 1}, "
                  f"and {self.num_classes} (= model.num_classes) is the 'no class' token")  # fmt: skip
        self.calls.append(labels.clone())
        offset = torch.tensor(CFG_OFFSETS, dtype=x.dtype)[labels].reshape(-1, *([1] * (x.ndim - 1)))
        return self.gain * (eps_model(x, t) + offset)


def _dropped_without_mask(guidance, schedule, p, seed):
    """The labels ``p_losses_cfg`` drops (a bool mask) in a big batch of tiny images without a drop mask."""
    n = CFG_DROPOUT_BATCH
    big = torch.arange(n) % CFG_CLASSES
    model = ClassEpsNet()
    torch.manual_seed(seed)
    with _running("p_losses_cfg", "guidance"):
        guidance.p_losses_cfg(model, schedule, torch.zeros(n, 1, 2, 2), torch.full((n,), 3), big, p_uncond=p)
    seen = model.calls[-1]
    dropped = seen == CFG_CLASSES
    if not torch.equal(seen[~dropped], big[~dropped]):
        _fail("p_losses_cfg changed labels it did not drop: a label is either kept or replaced by the 'no class' token")
    return dropped


@_checks("p_losses_cfg")
def check_p_losses_cfg():
    """``guidance.p_losses_cfg``: the loss with a given drop mask, then which labels are dropped without one."""
    __tracebackhide__ = True
    from . import guidance  # the bonus module, imported only by its own checks

    schedule = frozen_schedule()
    x_0, noise, t = pattern(**X0), pattern(**NOISE), torch.tensor(LOSS_T)
    labels, mask = torch.tensor(CFG_LABELS), torch.tensor(CFG_MASK)
    runs = []
    for seed in (SEED, SEED + 1):  # with noise and drop_mask given, the random seed must not matter
        torch.manual_seed(seed)
        with _running("p_losses_cfg", "guidance"):
            runs.append(guidance.p_losses_cfg(
                ClassEpsNet(), schedule, x_0, t, labels, p_uncond=CFG_MASK_P_UNCOND, noise=noise, drop_mask=mask
            ))  # fmt: skip
    got = runs[0]
    if not torch.is_tensor(got) or got.ndim != 0:
        _fail("p_losses_cfg should return a scalar tensor (the mean squared error)")
    if not _close(runs[1], got):
        _fail("p_losses_cfg gave another loss when only the random seed changed, although noise= and drop_mask= were "
              "given: use the given noise (q_sample(schedule, x_0, t, noise=noise), and the loss against it) and the "
              "given mask; draw only what is not given.")  # fmt: skip
    _compare(
        f"p_losses_cfg(labels={CFG_LABELS}, drop_mask={CFG_MASK}, p_uncond={CFG_MASK_P_UNCOND})",
        got,
        _tensor(EXPECTED.P_LOSSES_CFG),
        scale=SCALES["P_LOSSES_CFG"],
    )
    if not got.requires_grad:
        _fail("p_losses_cfg returned a loss without gradient: do not detach or wrap the model call in torch.no_grad()")
    # Without a mask: the share of labels dropped, then whether the choice of labels is random.
    n = CFG_DROPOUT_BATCH
    for p in (CFG_P_UNCOND, 0.0, 1.0):
        share = float(_dropped_without_mask(guidance, schedule, p, SEED).double().mean())
        slack = 5.0 * math.sqrt(p * (1 - p) / n) + 1.0 / n if 0 < p < 1 else 0.0
        if abs(share - p) <= slack:
            continue
        if p > 0 and abs(share - (1 - p)) <= slack:
            _fail(f"The dropout probability is inverted: with p_uncond = {p} you dropped {100 * share:.1f} % of the "
                  f"labels. Drop each one with probability p_uncond: torch.rand(B) < p_uncond.")  # fmt: skip
        _fail(f"With drop_mask=None and p_uncond = {p}, p_losses_cfg dropped {100 * share:.1f} % of {n} labels, "
              f"expected about {100 * p:.0f} %: draw the mask, each label dropped with probability p_uncond.")  # fmt: skip
    first, second = (_dropped_without_mask(guidance, schedule, CFG_P_UNCOND, seed) for seed in (SEED, SEED + 1))
    if torch.equal(first, second):
        which = "the first p_uncond * B labels" if bool(first[: int(first.sum())].all()) else "the same labels"
        _fail(f"The drop mask is not random: with two different random seeds, p_losses_cfg dropped {which} of the "
              f"batch of {n}. Draw it, each label dropped independently with probability p_uncond: "
              "torch.rand(B) < p_uncond (the global random generator, no fixed seed of your own).")  # fmt: skip
    _passed("p_losses_cfg", f"loss = {float(got.detach()):.4f}; about {100 * CFG_P_UNCOND:.0f} % of labels dropped")


@_checks("p_sample_guided")
def check_p_sample_guided():
    """``guidance.p_sample_guided``: which labels each model call gets, then the step for w = 0, 2 and 3."""
    __tracebackhide__ = True
    from . import guidance

    schedule = frozen_schedule()
    # 1. The two calls: one with the labels as given, one with "no class" for every image.
    n = 64
    x_big, labels_big = pattern((n, 1, 2, 2), phase=0.4), torch.arange(n) % CFG_CLASSES
    model = ClassEpsNet()
    torch.manual_seed(SEED)
    with _running("p_sample_guided", "guidance"):
        guidance.p_sample_guided(model, schedule, x_big, torch.full((n,), 5), 5, labels_big, 2.0)
    null = CFG_CLASSES
    calls = [part for c in model.calls for part in c.split(n)]  # a call on both halves at once counts as two
    if any(bool((c == null).any()) and bool((c != null).any()) for c in calls):
        _fail("Label dropout applied at sampling time: some images lost their label in a model call. Dropout is for "
              "training only; at sampling, call the model once with the labels and once with 'no class' for all.")  # fmt: skip
    if not any(torch.equal(c, labels_big) for c in calls):
        _fail("No model call got the class labels: the conditional estimate is model(x_t, t, labels).")
    if not any(bool((c == null).all()) for c in calls):
        _fail("The unconditional pass was given the real labels: eps(x_t, t, no class) needs model(x_t, t, None), "
              "or the token model.num_classes for every image.")  # fmt: skip
    # 2. The values, every case at once: two mixes of the estimates that agree at w = 0 differ at w = 2.
    x_t = pattern(**SAMPLE_X)
    labels = torch.tensor(GUIDED_LABELS)
    cases = []
    for case, (t_index, w, clip) in GUIDED_CASES.items():
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)
        torch.manual_seed(SEED)
        with _running("p_sample_guided", "guidance"):
            got = guidance.p_sample_guided(ClassEpsNet(), schedule, x_t, t, t_index, labels, w, clip_denoised=clip)
        label = f"p_sample_guided(t_index={t_index}, w={w}{', clip_denoised=True' if clip else ''})"
        cases.append((label, got, _tensor(EXPECTED.GUIDED[case]), SCALES["GUIDED"][case]))
    _compare_cases("p_sample_guided(...) for w = 0, 2 and 3", cases, noise=seeded_noise(x_t, SEED))
    _passed("p_sample_guided", "guided estimate (1 + w) eps(c) - w eps(no class)")
