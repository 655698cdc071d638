# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses


def q_posterior(schedule, x_0, x_t, t):
    beta = extract(schedule.betas, t, x_t.shape)
    alpha = extract(schedule.alphas, t, x_t.shape)
    one_minus_abar = 1.0 - extract(schedule.alphas_cumprod, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    mean = x_0 * abar_prev.sqrt()
    mean.mul_(beta).div_(one_minus_abar)
    mean.add_(x_t * alpha.sqrt() * (1.0 - abar_prev) / one_minus_abar)
    variance = (1.0 - abar_prev).mul_(beta).div_(one_minus_abar)
    return mean, variance
