"""mmvae: multimodal variational autoencoders (MMVAE and friends) on paired digits.

Library layers, lowest first (imports go downwards only; see docs/architecture.md):
:mod:`mmvae.data`, :mod:`mmvae.nets`, :mod:`mmvae.models` (the model contract),
:mod:`mmvae.objectives`, :mod:`mmvae.config`, :mod:`mmvae.training`, :mod:`mmvae.evaluation`,
:mod:`mmvae.report`, :mod:`mmvae.pipeline`, :mod:`mmvae.experiments`, :mod:`mmvae.cli`.
"""
__version__ = "0.1.0"
