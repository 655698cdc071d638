# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses


from .mymath import gather_broadcast


def q_posterior(schedule, x_0, x_t, t):
    beta = gather_broadcast(schedule.betas, t, x_t.ndim)
    alpha = gather_broadcast(schedule.alphas, t, x_t.ndim)
    abar = gather_broadcast(schedule.alphas_cumprod, t, x_t.ndim)
    abar_prev = gather_broadcast(schedule.alphas_cumprod_prev, t, x_t.ndim)
    weight_x0 = abar_prev.sqrt() * beta / (1 - abar)
    weight_xt = alpha.sqrt() * (1 - abar_prev) / (1 - abar)
    return weight_x0 * x_0 + weight_xt * x_t, beta * (1 - abar_prev) / (1 - abar)
