# Generated from solutions/posterior.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""The forward-process posterior q(x_{t-1} | x_t, x_0): Bayes' rule and completing the square."""

import torch

from .schedules import extract


def q_posterior(schedule, x_0, x_t, t):
    """Mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. eqs. 6-7).

    Returns ``(mean, variance)``: ``mean`` shaped like ``x_t``, ``variance`` shaped ``(B, 1, ..., 1)``.
    """
    # COMPLETE THIS: combine q(x_t | x_{t-1}) and q(x_{t-1} | x_0) by completing the square
    raise NotImplementedError('COMPLETE THIS: combine q(x_t | x_{t-1}) and q(x_{t-1} | x_0) by completing the square')
