# Generated from solutions/posterior.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""The forward-process posterior q(x_{t-1} | x_t, x_0): Bayes' rule and completing the square."""

import torch

from .schedules import extract


def q_posterior(schedule, x_0, x_t, t):
    """Mean and variance of the posterior q(x_{t-1} | x_t, x_0) (Ho et al. eqs. 6-7), derived by you.

    Bayes' rule: as a function of x_{t-1}, the posterior is proportional to the product of two
    Gaussian factors that you already know (one per pixel; I is the identity):

        q(x_t | x_{t-1}) = N(x_t;     sqrt(alpha_t) x_{t-1},   beta_t I)            (the forward step)
        q(x_{t-1} | x_0) = N(x_{t-1}; sqrt(abar_{t-1}) x_0,  (1 - abar_{t-1}) I)    (eq. 4 at step t - 1)

    A product of Gaussian densities in x_{t-1} is again Gaussian: find its mean and variance by
    completing the square in the exponent. Derive them on paper first, then write them here.

    Args:
        schedule: a ``DiffusionSchedule`` (use ``betas``, ``alphas``, ``alphas_cumprod`` and
            ``alphas_cumprod_prev``, which is ``abar_{t-1}``, 1.0 at index 0).
        x_0: ``(B, C, H, W)`` clean images (or any ``(B, ...)`` tensor).
        x_t: noisy images at index ``t``, shaped like ``x_0``.
        t: LongTensor ``(B,)`` of 0-based indices in ``0 ... T-1`` (paper step ``t + 1``).

    Returns:
        ``(mean, variance)``: ``mean`` shaped like ``x_t``; ``variance`` shaped ``(B, 1, ..., 1)``
        (one number per image, as ``extract`` returns it), both float tensors.

    Hints:
        1. Write the exponent of each factor as a function of x_{t-1}. The first factor is
           ``-(x_t - sqrt(alpha_t) x_{t-1})^2 / (2 beta_t)``: as a Gaussian in x_{t-1}, its precision
           (1 / variance) is ``alpha_t / beta_t`` and its mode is ``x_t / sqrt(alpha_t)``.
        2. Multiplying Gaussians adds their exponents: the precisions add, and the mean is the
           precision-weighted average of the two factors' means.
        3. Simplify with ``alpha_t (1 - abar_{t-1}) + beta_t = 1 - abar_t`` until no division by
           ``1 - abar_{t-1}`` is left. At index 0, ``abar_{t-1} = 1``: q(x_{t-1} | x_0) is the point
           x_0 itself (variance 0), and your formulas must still give a finite answer there.
        4. ``extract(schedule.<constant>, t, x_t.shape)`` gives each constant shaped ``(B, 1, ..., 1)``.
        5. The variance must equal ``schedule.posterior_variance`` from notebook 01 (a check on
           your algebra); the mean is new.
    """
    # COMPLETE THIS: mean and variance of q(x_{t-1} | x_t, x_0), by completing the square
    raise NotImplementedError('COMPLETE THIS: mean and variance of q(x_{t-1} | x_t, x_0), by completing the square')
