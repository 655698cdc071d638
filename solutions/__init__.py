"""Reference implementation of the DDPM course (Ho et al. 2020).

One module per idea: ``schedules`` (noise schedules and their constants),
``forward`` (the forward process q), ``losses`` (the training objective),
``unet`` (the noise-prediction network), ``sampling`` (the reverse process),
plus the provided ``data``, ``plotting``, ``runtime`` and ``training`` modules.
"""
