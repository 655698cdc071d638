"""The catalogue's known mistakes of ``solutions/schedules.py``, under their exercise (see ``__init__``)."""

# ruff: noqa: E501 - each entry's texts are one-line replacements

from autograder.assignment.catalogue.entry import A, M  # noqa: F401 - A: valid alternatives

# fmt: off
ENTRIES = {
    'cosine_beta_schedule': (
        M('cosine_grid_off_by_one', 't = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)', 't = torch.linspace(1, timesteps + 1, timesteps + 1, dtype=torch.float64)', explain="", pitfall='off-by-one between schedule index and paper step'),
        M('cosine_clip_002', 'betas = torch.clamp(betas, max=max_beta)', 'betas = torch.clamp(betas, max=0.02)', explain="", pitfall='cosine betas clipped at 0.02'),
        M('cosine_is_short_linear', 'betas = torch.clamp(betas, max=max_beta)', 'betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)', explain="", pitfall='a short linear schedule whose abar_T is far from 0'),
        M('cosine_float32', 'alphas_cumprod = f / f[0]', 'alphas_cumprod = (f / f[0]).float().half().double()', explain=""),
        M('cosine_no_clip', 'betas = torch.clamp(betas, max=max_beta)', 'betas = betas', explain=""),
    ),
    'DiffusionSchedule': (
        M('recip_alpha_no_sqrt_schedule', 'self.sqrt_recip_alphas = torch.sqrt(1.0 / self.alphas)', 'self.sqrt_recip_alphas = 1.0 / self.alphas', explain="", pitfall='1/alpha_t instead of 1/sqrt(alpha_t)'),
        M('schedule_alphas_not_cumprod', 'self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)', 'self.sqrt_alphas_cumprod = torch.sqrt(self.alphas)', explain="", pitfall='alphas instead of alphas_cumprod'),
        M('prev_not_one', 'F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)', 'F.pad(self.alphas_cumprod[:-1], (1, 0), value=0.0)', explain="", pitfall='alphas_cumprod_prev not starting at 1.0'),
        M('prev_repeats_first', 'F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)', 'torch.cat([self.alphas_cumprod[:1], self.alphas_cumprod[:-1]])', explain="", pitfall='alphas_cumprod_prev not starting at 1.0'),
        M('alphas_cumsum', 'torch.cumprod(self.alphas, dim=0)', '1 - torch.cumsum(betas, dim=0)', explain=""),
        M('posterior_no_prev', 'self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)', 'self.posterior_variance = betas * (1.0 - self.alphas_cumprod) / (1.0 - self.alphas_cumprod)', explain=""),
    ),
    'extract': (
        M('extract_off_by_one', 'out = a[t.to(a.device)]', 'out = a[(t - 1).to(a.device)]', explain="", pitfall='off-by-one between schedule index and paper step'),
        M('extract_flat', 'return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)', 'return out.to(t.device)', explain=""),
        M('extract_rank4', 'return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).to(t.device)', 'return out.reshape(t.shape[0], 1, 1, 1).to(t.device)', explain=""),
    ),
}
# fmt: on
