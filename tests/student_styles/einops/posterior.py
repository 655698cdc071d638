# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses

from einops import rearrange


def q_posterior(schedule, x_0, x_t, t):
    def at(values):
        return rearrange(values[t], "b -> b 1 1 1")

    beta, alpha = at(schedule.betas), at(schedule.alphas)
    abar, abar_prev = at(schedule.alphas_cumprod), at(schedule.alphas_cumprod_prev)
    coef_x0 = abar_prev.sqrt() * beta / (1 - abar)
    coef_xt = alpha.sqrt() * (1 - abar_prev) / (1 - abar)
    return coef_x0 * x_0 + coef_xt * x_t, coef_xt / alpha.sqrt() * beta
