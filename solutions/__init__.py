"""The code of the DDPM course (Ho et al. 2020): the exercises and the provided modules.

One module per idea: ``schedules`` (noise schedules and their constants),
``forward`` (the forward process q), ``losses`` (the training objective),
``unet`` (the noise-prediction network), ``sampling`` (the reverse process),
``ddim`` (the bonus: faster sampling), plus the provided ``data``, ``plotting``, ``runtime`` and ``training`` modules.
"""
