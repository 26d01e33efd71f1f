"""Models: the mixture-of-experts MMVAE (a unimodal VAE is its one-modality case) and the
factorised shared + private model."""
from .mmvae import MMVAE, evaluating
from .modality import ModalitySpec
from .output import ForwardOutput

__all__ = ["MMVAE", "ForwardOutput", "ModalitySpec", "evaluating"]
