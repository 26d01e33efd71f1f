"""The multimodal VAE with a product of experts (MVAE; Wu & Goodman, 2018).

q(z | X_S) ∝ p(z) Π_{m∈S} q̃_m(z | x_m) for any subset S of modalities: each encoder gives a
Normal expert q̃_m and the prior joins every product (the "prior expert"). Training sums ELBOs
over sub-sampled subsets: all modalities, each modality alone, and ``random_subsets`` further
subsets of 2 … M−1 modalities drawn each step; each ELBO reconstructs the modalities of its
subset only. Posteriors are Normal, as in the paper.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import FAMILIES, DiagDist, PixelLikelihood, scale_from_raw
from ..errors import ConfigError
from .build import model_settings, network_specs
from .contract import Encoding, MultimodalVAE
from .expert import Expert, decode_grouped
from .modality import ModalitySpec
from .prior import Prior
from .products import nonempty_subsets, product_of_experts, subset_mask
from .registry import ModelInfo, register_model

RAW_LIMIT = 30.0  # bound of an expert's log-variance (variance e^±30)


@dataclass
class SubsetOutput:
    """Posteriors of several subsets of modalities and the decodes their ELBOs read.

    subsets[s]: the modalities of subset s; posteriors[s]: q(z | X_S), batch shape [B, D];
    samples[s]: [K, B, D]; decodes[(s, d)]: decoder d's means at subset s's samples.
    """

    subsets: list[tuple[int, ...]]
    posteriors: list[DiagDist]
    samples: list[Tensor]
    decodes: dict[tuple[int, int], Tensor]
    prior: DiagDist
    likelihoods: list[PixelLikelihood]
    names: list[str]

    @property
    def M(self) -> int:
        return len(self.names)

    def llik(self, s: int, d: int, x: Tensor) -> Tensor:
        """λ_d Σ_pixels log p_d(x_d | z_s), shape [K, B]."""
        lik = self.likelihoods[d]
        return lik.log_prob(x, self.decodes[(s, d)]) * lik.llik_scaling


class ProductExperts(MultimodalVAE):
    """Shared parts of the product-based models: Normal experts per modality, a prior, decoders."""

    def __init__(self, modalities: Sequence[ModalitySpec], latent_dim: int = 20, family: str = "Normal",
                 scale_param: str | None = None, learn_prior: bool = False, decoder_scale: float = 0.75,
                 llik_scalings: Sequence[float] | None = None, nets=None, likelihood: str | None = None):
        super().__init__(modalities, latent_dim)
        if family != "Normal":
            raise ConfigError(f"Product-of-experts models use Normal posteriors (the product of Normal experts is "
                              f"Normal); got distr '{family}'. Use --distr Normal (with --likelihood Laplace for a "
                              "Laplace likelihood).")
        if decoder_scale <= 0:
            raise ConfigError(f"decoder_scale must be positive, got {decoder_scale}.")
        self.family = FAMILIES.get("Normal")
        self.scale_param = scale_param or "exp"
        self.experts = nn.ModuleList(Expert(m, latent_dim, n, self.scale_param) for m, n in zip(self.modalities, nets))
        self.prior_module = Prior(latent_dim, self.family, self.scale_param, learn_prior)
        lams = list(llik_scalings) if llik_scalings is not None else [1.0] * len(self.modalities)
        lik_family = FAMILIES.get(likelihood) if likelihood else self.family
        self.likelihoods = [PixelLikelihood(lik_family, decoder_scale, lam) for lam in lams]

    def expert(self, x: Tensor, m: int) -> DiagDist:
        """Modality m's Normal factor. Its log-variance is bounded to ±30: an expert that switches
        itself off (variance → ∞, precision → 0) stays finite in float32 instead of overflowing."""
        loc, raw = self.experts[m].encoder(x)
        raw = raw.float().clamp(-RAW_LIMIT, RAW_LIMIT)
        return DiagDist(self.family, loc.float(), scale_from_raw(raw, self.scale_param))

    def decode(self, z: Tensor, m: int, w: Tensor | None = None) -> Tensor:
        if w is not None:
            raise ConfigError("This model has no private latents; decode(z, m) takes the shared latent only.")
        return self.experts[m].decode(z)

    def decoder_network(self, m: int) -> nn.Module:
        return self.experts[m].decoder

    def prior(self) -> DiagDist:
        return self.prior_module()

    def decode_at(self, samples: dict[int, list[tuple[object, Tensor]]]) -> dict:
        """Decoder d's means at every (key, latents) listed for it, in one call per decoder."""
        out = {}
        for d, items in samples.items():
            out.update(decode_grouped(self.experts[d].decode, items))
        return out


class MVAE(ProductExperts):
    """Product of experts with the prior expert, trained on sub-sampled subset ELBOs."""

    def __init__(self, modalities: Sequence[ModalitySpec], random_subsets: int = 1, **settings):
        super().__init__(modalities, **settings)
        if random_subsets < 0:
            raise ConfigError(f"random_subsets must be ≥ 0, got {random_subsets}.")
        self.random_subsets = random_subsets
        self.middle_subsets = [s for s in nonempty_subsets(self.M) if 1 < len(s) < self.M]

    @property
    def kind(self) -> str:
        return "poe"

    def encode(self, x: Tensor, m: int) -> Encoding:
        expert = self.expert(x, m)
        loc, scale = product_of_experts([expert], torch.ones(1, 1, device=x.device), self.prior())
        return Encoding(DiagDist(self.family, loc[0], scale[0]), expert=expert)

    def joint_posterior(self, encodings: Mapping[int, Encoding]) -> DiagDist:
        experts = [encodings[m].expert for m in sorted(encodings)]
        loc, scale = product_of_experts(experts, torch.ones(1, len(experts), device=experts[0].loc.device),
                                        self.prior())
        return DiagDist(self.family, loc[0], scale[0])

    def training_subsets(self) -> list[tuple[int, ...]]:
        """All modalities, each alone, and (in training) ``random_subsets`` drawn from the rest."""
        subsets = [tuple(range(self.M))] + [(m,) for m in range(self.M)]
        if self.training and self.random_subsets and self.middle_subsets:
            pick = torch.randperm(len(self.middle_subsets))[: self.random_subsets]
            subsets += [self.middle_subsets[i] for i in sorted(pick.tolist())]
        return subsets

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> SubsetOutput:
        self.check_batch(xs)
        experts = [self.expert(x, m) for m, x in enumerate(xs)]
        subsets = self.training_subsets()
        loc, scale = product_of_experts(experts, subset_mask(subsets, self.M, xs[0].device), self.prior())
        posteriors = [DiagDist(self.family, loc[s], scale[s]) for s in range(len(subsets))]
        samples = [q.rsample(K) for q in posteriors]
        wanted: dict[int, list] = {}
        for s, members in enumerate(subsets):
            for d in members:
                wanted.setdefault(d, []).append(((s, d), samples[s]))
        return SubsetOutput(subsets, posteriors, samples, self.decode_at(wanted), self.prior(),
                            self.likelihoods, self.names)


@dataclass
class MVAEOptions:
    """Options of the MVAE (``model.options``)."""

    random_subsets: int = 1  # subsets of 2 … M−1 modalities added to the ELBO each step (none for M ≤ 2)


def build_mvae(cfg, modalities: list[ModalitySpec], options: MVAEOptions) -> MVAE:
    return MVAE(modalities, random_subsets=options.random_subsets, nets=network_specs(cfg, modalities),
                **model_settings(cfg, modalities))


register_model(ModelInfo(
    "mvae", build_mvae, kind="poe", options=MVAEOptions, defaults={"train.kl_warmup_epochs": 1.0},
    description="product of experts with the prior expert and sub-sampled subset ELBOs (Wu & Goodman 2018)"))
