# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses


def q_posterior(schedule, x_0, x_t, t):
    shape = x_t.shape
    beta = extract(schedule.betas.double(), t, shape)
    alpha = extract(schedule.alphas.double(), t, shape)
    abar = extract(schedule.alphas_cumprod.double(), t, shape)
    abar_prev = extract(schedule.alphas_cumprod_prev.double(), t, shape)
    denominator = 1.0 - abar
    mean = (abar_prev.sqrt() * beta * x_0.double() + alpha.sqrt() * (1.0 - abar_prev) * x_t.double()) / denominator
    variance = beta * (1.0 - abar_prev) / denominator
    return mean.to(x_t.dtype), variance.to(x_t.dtype)
