"""mmvae: multimodal variational autoencoders (MMVAE and friends) on paired digits.

Library layers, lowest first: :mod:`mmvae.data` (tensors), :mod:`mmvae.models` and
:mod:`mmvae.nets`, :mod:`mmvae.objectives`, :mod:`mmvae.training`, :mod:`mmvae.evaluation`,
:mod:`mmvae.report`; :mod:`mmvae.pipeline` and :mod:`mmvae.cli` compose them from a config.
"""
__version__ = "0.1.0"
