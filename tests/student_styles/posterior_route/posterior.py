# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses


def q_posterior(schedule, x_0, x_t, t):
    # the precision-weighted form, simplified with alpha (1 - abar_prev) + beta = 1 - abar; beta as 1 - alpha
    alpha = extract(schedule.alphas, t, x_t.shape)
    beta = 1.0 - alpha
    abar = extract(schedule.alphas_cumprod, t, x_t.shape)
    abar_prev = extract(schedule.alphas_cumprod_prev, t, x_t.shape)
    variance = beta * (1.0 - abar_prev) / (1.0 - abar)
    mean = (alpha.sqrt() * (1.0 - abar_prev) * x_t + abar_prev.sqrt() * beta * x_0) / (1.0 - abar)
    return mean, variance
