"""The mixture-of-experts multimodal VAE (Shi et al., 2019), and the unimodal VAE as its M = 1 case.

q_Φ(z | x_1..x_M) = (1/M) Σ_m q_φm(z | x_m): each modality has an encoder ("expert") and a
decoder; every decoder can read a latent from any encoder.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from torch import Tensor, nn

from ..distributions import FAMILIES, DiagDist, PixelLikelihood, UniformMixture
from ..errors import ConfigError
from ..nets import NetSpec
from .build import model_settings, network_specs, select_modality
from .contract import Encoding, MultimodalVAE
from .expert import Expert, decode_grouped
from .modality import ModalitySpec, auto_llik_scalings
from .output import ForwardOutput
from .prior import Prior
from .registry import ModelInfo, register_model


class MMVAE(MultimodalVAE):
    """Mixture-of-experts multimodal VAE over any number of image modalities."""

    def __init__(
        self,
        modalities: Sequence[ModalitySpec],
        latent_dim: int = 20,
        family: str = "Normal",
        scale_param: str | None = None,
        learn_prior: bool = False,
        decoder_scale: float = 0.75,
        llik_scalings: Sequence[float] | None = None,
        nets: Sequence[NetSpec] | None = None,
        decoder_latent_dim: int | None = None,
        likelihood: str | None = None,
    ):
        super().__init__(modalities, latent_dim)
        if decoder_scale <= 0:
            raise ConfigError(f"decoder_scale must be positive, got {decoder_scale}.")
        self.family = FAMILIES.get(family)
        self.scale_param = scale_param or self.family.default_scale_param
        nets = list(nets) if nets is not None else [NetSpec() for _ in self.modalities]
        if len(nets) != len(self.modalities):
            raise ConfigError("one network specification is needed per modality")
        self.experts = nn.ModuleList(
            Expert(m, latent_dim, n, self.scale_param, decoder_latent_dim) for m, n in zip(self.modalities, nets)
        )
        self.prior_module = Prior(latent_dim, self.family, self.scale_param, learn_prior)
        lams = list(llik_scalings) if llik_scalings is not None else auto_llik_scalings(self.modalities)
        lik_family = FAMILIES.get(likelihood) if likelihood else self.family
        self.likelihoods = [PixelLikelihood(lik_family, decoder_scale, lam) for lam in lams]

    @property
    def kind(self) -> str:
        return "unimodal" if self.M == 1 else "moe"

    # ------------------------------------------------------------------ the contract

    def encode(self, x: Tensor, m: int) -> Encoding:
        return Encoding(DiagDist(self.family, *self.experts[m].posterior_params(x)))

    def decode(self, z: Tensor, m: int, w: Tensor | None = None) -> Tensor:
        if w is not None:
            raise ConfigError("The MMVAE has no private latents; decode(z, m) takes the shared latent only.")
        return self.experts[m].decode(z)

    def decoder_network(self, m: int) -> nn.Module:
        return self.experts[m].decoder

    def prior(self) -> DiagDist:
        return self.prior_module()

    def joint_posterior(self, encodings: Mapping[int, Encoding]):
        qs = [encodings[m].shared for m in sorted(encodings)]
        return qs[0] if len(qs) == 1 else UniformMixture(qs)

    def upgrade_state_dict(self, state: dict) -> dict:
        """mmvae 0.1 named the prior module ``prior``; it is ``prior_module`` now."""
        return {re.sub(r"(^|\.)prior\.(loc|raw_scale)$", r"\1prior_module.\2", k): v for k, v in state.items()}

    # ------------------------------------------------------------------ training forward

    def decode_pairs(self, samples: Sequence[Tensor], pairs: Iterable[tuple[int, int]]):
        """Decoder means for the requested (encoder r, decoder d) pairs.

        All latents that go to one decoder are concatenated and decoded in a single call.
        """
        by_decoder: dict[int, list[int]] = {}
        for r, d in sorted(set(pairs)):
            by_decoder.setdefault(d, []).append(r)
        out: dict[tuple[int, int], Tensor] = {}
        for d, rs in by_decoder.items():
            out.update(decode_grouped(self.experts[d].decode, [((r, d), samples[r]) for r in rs]))
        return out

    def pairs(self, which: str | Iterable[tuple[int, int]] = "all") -> list[tuple[int, int]]:
        """Decode pairs by name: ``all`` (every r→d), ``diag`` (r→r only) or ``none``."""
        if which == "all":
            return [(r, d) for r in range(self.M) for d in range(self.M)]
        if which == "diag":
            return [(m, m) for m in range(self.M)]
        if which == "none":
            return []
        return list(which)

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> ForwardOutput:
        """Encode every modality, draw K reparameterised samples each, decode ``decodes``."""
        self.check_batch(xs)
        posteriors = [e.shared for e in self.encode_all(xs)]
        samples = [q.rsample(K) for q in posteriors]
        return ForwardOutput(
            posteriors=posteriors,
            samples=samples,
            decodes=self.decode_pairs(samples, self.pairs(decodes)),
            prior=self.prior(),
            likelihoods=self.likelihoods,
            names=self.names,
        )


def build_mmvae(cfg, modalities: list[ModalitySpec], options=None) -> MMVAE:
    return MMVAE(modalities, nets=network_specs(cfg, modalities), **model_settings(cfg, modalities))


def build_vae(cfg, modalities: list[ModalitySpec], options=None) -> MMVAE:
    mod = select_modality(cfg, modalities)
    settings = model_settings(cfg, [mod])
    settings["llik_scalings"] = [1.0]
    return MMVAE([mod], nets=network_specs(cfg, [mod]), **settings)


register_model(ModelInfo(
    "mmvae", build_mmvae, kind="moe", aliases={"mnist_svhn": {}},
    description="mixture-of-experts MMVAE over all modalities of the data (the seed's mnist_svhn)"))
register_model(ModelInfo(
    "vae", build_vae, kind="unimodal", unimodal=True,
    aliases={"mnist": {"modality": "mnist"}, "svhn": {"modality": "svhn"}},
    description="unimodal VAE on one modality of the data (model.modality; mnist and svhn are aliases)"))
