"""mmvae: multimodal variational autoencoders (MMVAE and friends) on paired digits.

Library layers, lowest first (imports go downwards only; see docs/architecture.md):
:mod:`mmvae.data`, :mod:`mmvae.nets`, :mod:`mmvae.models` (the model contract),
:mod:`mmvae.objectives`, :mod:`mmvae.config`, :mod:`mmvae.training`, :mod:`mmvae.evaluation`,
:mod:`mmvae.report`, :mod:`mmvae.pipeline`, :mod:`mmvae.experiments`, :mod:`mmvae.cli`.

Sharing a trained model takes one call each way::

    mmvae.save_pretrained("runs/quickstart", "my-model")   # model.safetensors + config.json
    model = mmvae.from_pretrained("my-model")               # or a Hub repo id "user/name"
"""
__version__ = "0.1.0"

# Top-level shortcuts into mmvae.pipeline, resolved on first use (PEP 562) so that importing the
# package (which every layer does for __version__) loads nothing above the foundation.
FACADE = ("save_pretrained", "from_pretrained")


def __getattr__(name: str):
    if name in FACADE:
        from .pipeline import pretrained

        return getattr(pretrained, name)
    raise AttributeError(f"module 'mmvae' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *FACADE])
