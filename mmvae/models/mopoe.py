"""The mixture of products of experts (MoPoE; Sutter, Daunhawer & Vogt, 2021).

q(z | X) = 1/(2^M − 1) Σ_{S ≠ ∅} PoE({q̃_m(z | x_m)}_{m∈S}): a uniform mixture over every
non-empty subset of a product of that subset's Normal experts. As in the authors' code, the prior
joins the product of the full set only. Given a subset T of modalities (conditional generation),
the posterior is the same mixture over the non-empty subsets of T.

The bound: each item of a batch draws its latent from one mixture component (components assigned
in equal shares along the batch, as the authors do), every modality is reconstructed from it, and
the KL term is the components' mean KL(q_S ‖ p), an upper bound on KL(q ‖ p) by convexity.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..distributions import DiagDist, PixelLikelihood, UniformMixture
from .build import model_settings, network_specs
from .contract import Encoding
from .modality import ModalitySpec
from .mvae import ProductExperts
from .products import nonempty_subsets, product_of_experts, subset_mask
from .registry import ModelInfo, register_model


@dataclass
class MixtureOutput:
    """subsets[s] and subset_posterior (batch shape [S, B, D]: q_S of every non-empty subset S, in
    one distribution); component[b]: the subset item b's latents come from; samples: [K, B, D];
    decodes[d]: decoder d's means at those samples."""

    subsets: list[tuple[int, ...]]
    subset_posterior: DiagDist
    component: Tensor
    samples: Tensor
    decodes: dict[int, Tensor]
    prior: DiagDist
    likelihoods: list[PixelLikelihood]
    names: list[str]

    @property
    def M(self) -> int:
        return len(self.names)

    @property
    def posteriors(self) -> list[DiagDist]:
        """q_S of each subset, one distribution per subset (batch shape [B, D])."""
        q = self.subset_posterior
        return [DiagDist(q.family, q.loc[s], q.scale[s]) for s in range(len(self.subsets))]

    def llik(self, d: int, x: Tensor) -> Tensor:
        """λ_d Σ_pixels log p_d(x_d | z), shape [K, B]."""
        lik = self.likelihoods[d]
        return lik.log_prob(x, self.decodes[d]) * lik.llik_scaling


def balanced_components(n_items: int, n_components: int, device=None) -> Tensor:
    """Component of each item: equal contiguous shares along the batch (items are shuffled)."""
    return torch.arange(n_items, device=device) * n_components // n_items


class MoPoE(ProductExperts):
    """Mixture over all non-empty subsets of products of Normal experts."""

    def __init__(self, modalities: Sequence[ModalitySpec], **settings):
        super().__init__(modalities, **settings)
        self.subsets = nonempty_subsets(self.M)

    @property
    def kind(self) -> str:
        return "mopoe"

    def encode(self, x: Tensor, m: int) -> Encoding:
        expert = self.expert(x, m)
        if self.M == 1:  # the full set: the prior joins the product
            loc, scale = product_of_experts([expert], torch.ones(1, 1, device=x.device), self.prior())
            return Encoding(DiagDist(self.family, loc[0], scale[0]), expert=expert)
        return Encoding(expert, expert=expert)

    def subset_posteriors(self, experts: list[DiagDist], members: list[int]):
        """(subsets as modality indices, loc [S, B, D], scale [S, B, D]) over the non-empty subsets
        of ``members``, whose experts are ``experts`` (in the same order)."""
        local = nonempty_subsets(len(members))
        mask = subset_mask(local, len(members), experts[0].loc.device)
        full = mask.sum(1) == self.M  # the prior joins the product of all M modalities only
        loc, scale = product_of_experts(experts, mask, self.prior(), with_prior=full)
        return [tuple(members[i] for i in s) for s in local], loc, scale

    def joint_posterior(self, encodings: Mapping[int, Encoding]):
        members = sorted(encodings)
        _, loc, scale = self.subset_posteriors([encodings[m].expert for m in members], members)
        comps = [DiagDist(self.family, loc[s], scale[s]) for s in range(len(loc))]
        return comps[0] if len(comps) == 1 else UniformMixture(comps)

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> MixtureOutput:
        self.check_batch(xs)
        experts = [self.expert(x, m) for m, x in enumerate(xs)]
        subsets, loc, scale = self.subset_posteriors(experts, list(range(self.M)))
        B = xs[0].shape[0]
        component = balanced_components(B, len(subsets), xs[0].device)
        items = torch.arange(B, device=xs[0].device)
        chosen = DiagDist(self.family, loc[component, items], scale[component, items])
        z = chosen.rsample(K)
        means = {d: self.experts[d].decode(z) for d in range(self.M)}
        return MixtureOutput(subsets, DiagDist(self.family, loc, scale), component, z, means, self.prior(),
                             self.likelihoods, self.names)


def build_mopoe(cfg, modalities: list[ModalitySpec], options=None) -> MoPoE:
    return MoPoE(modalities, nets=network_specs(cfg, modalities), **model_settings(cfg, modalities))


register_model(ModelInfo(
    "mopoe", build_mopoe, kind="mopoe",
    description="mixture of products of experts over all non-empty subsets (Sutter, Daunhawer & Vogt 2021)"))
