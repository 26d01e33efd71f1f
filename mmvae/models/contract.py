"""The model contract: what every multimodal VAE says about itself and what it does.

Training, DDP, evaluation, ``mmvae generate`` and the reports use a model only through
:class:`MultimodalVAE`. A model implements the abstract methods (encode one modality, decode a
latent, the prior, the joint posterior given any subset of modalities, and the forward pass its
objectives read); generation, reconstruction, conditional generation and the latent probes are
written once here, against those methods.
"""
from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import DiagDist, PixelLikelihood
from ..errors import ConfigError, DataError
from ..nets import AnyOrderDecoder
from .modality import ModalitySpec


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Puts ``model`` in eval mode and restores its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class Encoding:
    """One modality's posterior over the shared latent given that modality alone, its posterior
    over its private latent where the model has one, and, for models that multiply experts
    (products of experts), the modality's own factor of that product (None otherwise)."""

    shared: DiagDist
    private: DiagDist | None = None
    expert: DiagDist | None = None


class MultimodalVAE(nn.Module, abc.ABC):
    """A VAE over M image modalities with a shared latent z (and optional private latents w_m).

    Subclasses set ``self.likelihoods`` (one :class:`PixelLikelihood` per modality) and implement
    :meth:`encode`, :meth:`decode`, :meth:`prior`, :meth:`joint_posterior` and :meth:`forward`.
    """

    #: some parameters are used only by some objectives (DDP must then look for unused ones)
    optional_parameters: bool = False

    def __init__(self, modalities: Sequence[ModalitySpec], latent_dim: int,
                 private_dims: Sequence[int] | None = None):
        super().__init__()
        if latent_dim < 1:
            raise ConfigError(f"latent_dim must be at least 1, got {latent_dim}.")
        self.modalities = list(modalities)
        self.latent_dim = latent_dim
        self.private_dims = list(private_dims) if private_dims is not None else [0] * len(self.modalities)
        self.likelihoods: list[PixelLikelihood] = []

    # ------------------------------------------------------------------ what it says about itself

    @property
    @abc.abstractmethod
    def kind(self) -> str:
        """The family of objectives that train it (``moe``, ``unimodal``, ``factorised``, …)."""

    @property
    def M(self) -> int:
        return len(self.modalities)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.modalities]

    @property
    def shapes(self) -> list[tuple[int, int, int]]:
        return [tuple(m.shape) for m in self.modalities]

    def index(self, name: str) -> int:
        if name not in self.names:
            raise ConfigError(f"Unknown modality '{name}'; this model has {', '.join(self.names)}.")
        return self.names.index(name)

    @property
    def likelihood_defined(self) -> bool:
        """Whether log p(x_m | z) of the shared latent alone is defined (IWAE estimates)."""
        return True

    @property
    def private_in_decoder(self) -> bool:
        """Whether the decoders read the private latents (so styles can be swapped in figures)."""
        return any(self.private_dims)

    def latent_probes(self) -> dict[str, tuple[int, str]]:
        """The latents a linear probe reads: label → (modality, ``shared`` or ``private``)."""
        probes = {}
        for m, name in enumerate(self.names):
            if self.private_dims[m]:
                probes[f"{name}_shared"] = (m, "shared")
                probes[f"{name}_private"] = (m, "private")
            else:
                probes[name] = (m, "shared")
        return probes

    # ------------------------------------------------------------------ what it does

    @abc.abstractmethod
    def encode(self, x: Tensor, m: int) -> Encoding:
        """The posterior(s) of modality m given its images x [B, C, H, W]."""

    @abc.abstractmethod
    def decode(self, z: Tensor, m: int, w: Tensor | None = None) -> Tensor:
        """Likelihood means [..., C, H, W] of modality m at shared latents z [..., D].

        ``w``: modality m's private latents [..., D_m] for models that have them; None lets the
        model choose them as it does for cross-modal generation (e.g. from a prior).
        """

    @abc.abstractmethod
    def prior(self) -> DiagDist:
        """p(z) over the shared latent, batch shape [1, D]."""

    @abc.abstractmethod
    def joint_posterior(self, encodings: Mapping[int, Encoding]):
        """q(z | x_S) over the shared latent given the modalities S = ``encodings.keys()``: a
        distribution with ``rsample(k)``, ``importance_samples(k)``, ``log_prob(z)`` and ``mean``
        (a mixture, a product or a mixture of products is what tells the models apart)."""

    @abc.abstractmethod
    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all"):
        """The structured output the model's objectives read, from K samples per posterior."""

    def private_prior(self, m: int) -> DiagDist | None:
        """p(w_m) of modality m's private latent, or None when it has none."""
        return None

    def upgrade_state_dict(self, state: dict) -> dict:
        """Tensor names of checkpoints written by earlier versions, renamed to this version's."""
        return state

    # ------------------------------------------------------------------ written once

    def check_batch(self, xs: Sequence[Tensor]) -> None:
        """A batch is one tensor per modality, all with the same number of items and the
        modality's image shape; anything else is a DataError, never a silent broadcast."""
        if len(xs) != self.M:
            raise DataError(f"The model has {self.M} modalities ({', '.join(self.names)}) but the batch has "
                            f"{len(xs)} tensors.")
        sizes = [x.shape[0] for x in xs]
        if len(set(sizes)) != 1:
            raise DataError(f"The modalities of a batch have different sizes {sizes}; each item must be "
                            "a pair (build batches with PairedData.gather).")
        for x, spec in zip(xs, self.modalities):
            if tuple(x.shape[1:]) != tuple(spec.shape):
                raise DataError(f"Modality '{spec.name}' expects images {tuple(spec.shape)}, got "
                                f"{tuple(x.shape[1:])}.")

    def encode_all(self, xs: Sequence[Tensor]) -> list[Encoding]:
        return [self.encode(x, m) for m, x in enumerate(xs)]

    def log_likelihood(self, z: Tensor, m: int, x: Tensor) -> Tensor:
        """Unscaled log p(x_m | z) [..., B] for z [..., B, D] and x [B, C, H, W] (inference only).

        A decoder that can emit its pixels in a cheaper order does so, and x is put in that order.
        """
        if not self.likelihood_defined:
            raise ConfigError("This model's decoders read private latents, so log p(x | z) of the shared "
                              "latent alone is not defined; skip the likelihood estimates (eval.iwae_K=0).")
        decoder = self.decoder_network(m)
        lead = z.shape[:-1]
        if isinstance(decoder, AnyOrderDecoder):
            mean, order = decoder.forward_any_order(z.reshape(-1, z.shape[-1]))
            return self.likelihoods[m].log_prob(order(x), mean.float().view(*lead, *self.modalities[m].shape))
        return self.likelihoods[m].log_prob(x, self.decode(z, m))

    def decoder_network(self, m: int) -> nn.Module | None:
        """The network behind ``decode(z, m)`` when it reads z alone (for the pixel-order fast
        path of :meth:`log_likelihood`); None otherwise."""
        return None

    @torch.no_grad()
    def generate(self, n: int) -> list[Tensor]:
        """Decoder means of n joint samples z ~ p(z), one entry per modality."""
        with evaluating(self):
            z = self.prior().rsample(n)[:, 0]
            return [self.decode(z, m) for m in range(self.M)]

    @torch.no_grad()
    def reconstruct(self, xs: Sequence[Tensor]) -> dict[tuple[int, int], Tensor]:
        """Decoder means for every (source r, target d) from one posterior sample of q(z | x_r);
        self-reconstructions use the source's own private latent where it has one."""
        with evaluating(self):
            out = {}
            for r, enc in enumerate(self.encode_all(xs)):
                z = enc.shared.rsample(1)[0]
                for d in range(self.M):
                    w = enc.private.rsample(1)[0] if d == r and enc.private is not None else None
                    out[(r, d)] = self.decode(z, d, w)
            return out

    @torch.no_grad()
    def conditional(self, given: Mapping[int, Tensor], mean: bool = False) -> list[Tensor]:
        """Decoder means of every modality from z ~ q(z | x_S), S = the keys of ``given``
        (modality index → images); ``mean`` decodes the posterior mean instead of a sample."""
        with evaluating(self):
            q = self.joint_posterior({m: self.encode(x, m) for m, x in given.items()})
            z = q.mean if mean else q.rsample(1)[0]
            return [self.decode(z, d) for d in range(self.M)]

    def translate(self, x: Tensor, source: int, mean: bool = False) -> list[Tensor]:
        """Cross-generation from one modality: ``conditional({source: x})``."""
        return self.conditional({source: x}, mean=mean)

    def probe_encoders(self) -> dict[str, Callable[[Sequence[Tensor]], DiagDist]]:
        """label → fn(xs) giving the posterior a linear probe reads (see :meth:`latent_probes`)."""
        def encoder(m: int, part: str):
            def posterior(xs):
                enc = self.encode(xs[m], m)
                return enc.shared if part == "shared" else enc.private

            return posterior

        return {label: encoder(m, part) for label, (m, part) in self.latent_probes().items()}
