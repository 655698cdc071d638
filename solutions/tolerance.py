"""The one tolerance rule of this course, shared by the self-checks and the grader.

Expected values are computed in float64 from exactly the float32 inputs your code gets, so
your result differs from them by rounding alone, and rounding is relative: every float32
operation is off by at most ``EPS`` (2**-23, about 1.2e-7) times the size of what it acts on.
A value passes when ``|got - want| <= SAFETY * EPS * scale``, where ``scale`` (the *error scale*,
``|want|`` by default) adds up the magnitudes that rounding acts on, each times its condition
number: ``|a| + |b|`` for a sum ``a + b``, ``|t * w|`` for ``sin(t * w)``, ``|x| / (1 - x)`` for
``1 - x`` with ``x`` near 1, ``n`` for a running product or a sum of ``n`` terms. Any correct
arrangement of a computation, in float32 or float64, passes; the classic mistakes are off by
orders of magnitude more.
"""

import math

import numpy as np
import torch

EPS = float(np.finfo(np.float32).eps)  # 2**-23: the spacing of float32 numbers just above 1
SAFETY = 8  # a few roundings more or fewer than the error scale counts, in any order
TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32: zero expected means zero


def _array(x):
    if torch.is_tensor(x):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def tolerance(scale):
    """The largest allowed ``|got - want|`` for an error scale ``scale`` (elementwise)."""
    return SAFETY * EPS * np.maximum(np.abs(_array(scale)), TINY)


MISTAKE_SLACK = 1e4  # a known mistake's value matches within about 1 % of its own size (see mistake_scale)


def mistake_scale(scale, value):
    """The error scale a known mistake's ``value`` is matched with (naming a mistake, never passing one): the
    correct value's ``scale`` plus ``MISTAKE_SLACK`` times the mistaken value's own size. A mistaken formula can
    be far worse conditioned in float32 than the correct one, and known mistakes differ by far more than this."""
    return np.abs(_array(scale)) + MISTAKE_SLACK * np.abs(_array(value))


def condition_one_minus(x):
    """Condition number of ``1 - x`` (relative error out per relative error of ``x``): ``|x| / |1 - x|``.
    ``x == 1`` exactly gives 0: then ``1 - x`` is exactly 0 in any precision."""
    x = _array(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 1.0, 0.0, np.abs(x) / np.abs(1.0 - x))


def trig_scale(args):
    """Error scale of ``sin(args)`` or ``cos(args)``: the rounding error of the argument, which grows with ``|args|``."""
    return 1.0 + np.abs(_array(args))


def check(got, want, scale=None):
    """``(ok, max_error, tolerance_there)``: every element within tolerance; the error and tolerance
    reported are those of the element that is worst relative to its tolerance."""
    got, want = _array(got), _array(want)
    scale = np.abs(want) if scale is None else np.broadcast_to(_array(scale), want.shape)
    if got.shape != want.shape:
        return False, math.inf, 0.0
    if got.size == 0:
        return True, 0.0, 0.0
    with np.errstate(invalid="ignore"):
        err = np.abs(got - want)
        same = (got == want) | (np.isnan(got) & np.isnan(want))  # equal infinities and NaNs in both
        err = np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))
    tol = tolerance(scale)
    worst = int(np.argmax((err / tol).ravel()))
    return bool((err <= tol).all()), float(err.ravel()[worst]), float(tol.ravel()[worst])


def distance(got, want, scale=None):
    """The worst ``|got - want|`` relative to its tolerance: at most 1 where ``check`` passes (inf: other shapes)."""
    ok, err, tol = check(got, want, scale)
    return err / tol if tol else (0.0 if ok else math.inf)


def close(got, want, scale=None):
    """True when ``got`` matches ``want`` within the tolerance of ``scale`` (see the module docstring)."""
    return check(got, want, scale)[0]


def describe(got, want, scale=None):
    """One line: the worst error against its tolerance."""
    _, err, tol = check(got, want, scale)
    return f"max error {err:.3g} where the tolerance is {tol:.3g}"
