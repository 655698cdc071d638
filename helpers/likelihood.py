# Generated from solutions/likelihood.py by `python -m autograder helpers`. Do not edit: edit solutions/ and regenerate.
"""The variational bound of Ho et al. 2020 (eq. 5), term by term, in bits per dimension.

    L = L_T + sum_{t>1} L_{t-1} + L_0,  L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)).

Bits per dimension: a KL in nats, averaged over the pixels and channels of an image, divided by ln 2.
"""

import math

import torch

from .forward import q_sample
from .posterior import q_posterior
from .schedules import extract

VARIANCES = ("posterior", "beta")


def vlb_term(model, schedule, x_0, t, noise=None, variance="posterior"):
    """One term ``L_{t-1}`` of the bound for each image: KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)).

    Both distributions are Gaussians with diagonal covariance, so the KL is a sum over dimensions of
    the KL between two 1-D Gaussians, by definition

        KL(N(m_q, v_q) || N(m_p, v_p)) = E_{x ~ N(m_q, v_q)}[log N(x; m_q, v_q) - log N(x; m_p, v_p)].

    Work out this expectation yourself (it has a closed form in m_q, v_q, m_p, v_p).

    Args:
        model: ``eps_theta``, called as ``model(x_t, t)``.
        schedule: a ``DiffusionSchedule`` (or a look-alike with the same tensors).
        x_0: ``(B, C, H, W)`` clean images in ``[-1, 1]``.
        t: LongTensor ``(B,)`` of 0-based indices in ``1 ... T-1`` (paper steps 2 ... T).
        noise: optional standard normal tensor shaped like ``x_0`` for ``x_t = q_sample(...)`` (eq. 4);
            drawn with ``torch.randn_like`` when omitted.
        variance: the variance sigma_t^2 of p_theta: ``"posterior"`` for beta~_t (the posterior
            variance of eq. 7) or ``"beta"`` for beta_t (Ho et al. section 3.2 allow both).

    Returns:
        ``(B,)`` tensor: the KL of each image in bits per dimension (the mean over C, H, W of the
        per-dimension KL in nats, divided by ln 2). It is >= 0, and 0 exactly when p_theta = q.

    The target is q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I) from ``q_posterior(schedule, x_0, x_t, t)``
    (eqs. 6-7); the model is p_theta(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I) with mu_theta of eq. 11:
        ``mu_theta = 1 / sqrt(alpha_t) * (x_t - beta_t / sqrt(1 - abar_t) * eps_theta(x_t, t))``.

    Index 0 (the paper's L_0) is not a KL between Gaussians but the discrete decoder of eq. 13, and
    beta~ is 0 there: this function raises a ``ValueError`` for it.

    Hints:
        1. Noise x_0 with ``q_sample`` and the given noise; then call ``q_posterior`` and ``model(x_t, t)``.
        2. ``extract(schedule.betas, t, x_t.shape)`` and friends give ``(B, 1, 1, 1)`` constants.
        3. For the KL: write out log N(x; m, v) = -1/2 log(2 pi v) - (x - m)^2 / (2 v) and use
           E[(x - m_p)^2] = v_q + (m_q - m_p)^2 for x ~ N(m_q, v_q).
        4. Mind the order of the arguments: the expectation is under q, the target.
        5. Variances are not standard deviations; and average (not sum) over the non-batch dimensions.
    """
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, not {variance!r}")
    if bool((t < 1).any()):
        raise ValueError("vlb_term is defined for t >= 1: at index 0 the term L_0 is the discrete decoder (eq. 13)")
    if noise is None:
        noise = torch.randn_like(x_0)
    # COMPLETE THIS: x_t, the two Gaussians, their KL per dimension, then the mean over dimensions in bits
    raise NotImplementedError('COMPLETE THIS: x_t, the two Gaussians, their KL per dimension, then the mean over dimensions in bits')


def prior_term(schedule, x_0):
    """``L_T = KL(q(x_T | x_0) || N(0, I))`` of each image in bits per dimension, ``(B,)``.

    q(x_T | x_0) = N(sqrt(abar_T) x_0, (1 - abar_T) I) (eq. 4): no parameter of the model enters,
    which is why training ignores it; it is small when abar_T is close to 0."""
    last = torch.full((x_0.shape[0],), schedule.timesteps - 1, dtype=torch.long, device=x_0.device)
    mean = extract(schedule.sqrt_alphas_cumprod, last, x_0.shape) * x_0
    var = extract(1.0 - schedule.alphas_cumprod, last, x_0.shape)
    kl = 0.5 * (-torch.log(var) + var + mean**2 - 1.0)
    return kl.flatten(1).mean(1) / math.log(2.0)


@torch.no_grad()
def vlb_terms(model, schedule, x_0, variance="posterior", generator=None):
    """Every KL term of the bound for a batch: ``(T - 1, B)`` tensor whose row ``k`` is
    ``vlb_term`` at index ``k + 1`` (one fresh noise draw per term). Summing the rows and adding
    ``prior_term`` gives the bound without L_0."""
    rows = []
    for index in range(1, schedule.timesteps):
        t = torch.full((x_0.shape[0],), index, dtype=torch.long, device=x_0.device)
        noise = torch.randn(x_0.shape, generator=generator).to(x_0.device)
        rows.append(vlb_term(model, schedule, x_0, t, noise=noise, variance=variance))
    return torch.stack(rows)
