# ruff: noqa: F821 -- spliced into the stub module, whose names (extract, tqdm, ...) it uses
import torch


def q_posterior(schedule, x_0, x_t, t):
    view = (t.shape[0],) + (1,) * (x_t.ndim - 1)

    def pick(values):
        return values.gather(0, t.to(values.device)).view(view).to(x_t.device)

    beta, alpha = pick(schedule.betas), pick(schedule.alphas)
    abar_prev = pick(schedule.alphas_cumprod_prev)
    one_minus_abar = 1.0 - pick(schedule.alphas_cumprod)
    mean = torch.addcmul((alpha.sqrt() * (1.0 - abar_prev) / one_minus_abar) * x_t, abar_prev.sqrt() * beta / one_minus_abar, x_0)
    return mean, pick(schedule.posterior_variance)
