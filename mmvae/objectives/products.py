"""Objectives of the product-based models: the MVAE's sub-sampled subset ELBOs and the MoPoE
bound. Every value is summed over the batch; ``beta`` weighs the KL terms
(``--set train.objective_weights.beta=v``, 1.0 by default)."""
from __future__ import annotations

import torch

from ..models.mopoe import MixtureOutput
from ..models.mvae import SubsetOutput
from .base import ObjectiveResult, beta_weight, objective

WEIGHT_OPTIONS = {"weights": "train.objective_weights"}


def _beta(weights: dict | None) -> float:
    return beta_weight(weights, 1.0, "the product models")


@objective("mvae_elbo", kind="poe", cli_name="elbo", options=WEIGHT_OPTIONS, warmup=True)
def mvae_elbo(out: SubsetOutput, xs, weights: dict | None = None, kl_scale: float = 1.0) -> ObjectiveResult:
    """Σ_S [ E_{q(z|X_S)} Σ_{d∈S} λ_d log p(x_d | z) − β KL(q(z|X_S) ‖ p(z)) ] over the subsets the
    model's forward chose (all modalities, each alone, random ones in training); K samples averaged."""
    beta = _beta(weights)
    per_item, warm, terms = 0.0, 0.0, {}
    rest_lp, rest_kl = 0.0, 0.0
    for s, members in enumerate(out.subsets):
        lp = sum(out.llik(s, d, xs[d]).mean(0) for d in members)
        kl = out.posteriors[s].kl(out.prior)
        per_item = per_item + lp - beta * kl
        warm = warm + lp - kl_scale * beta * kl
        if len(members) == out.M:
            terms["lp_joint"], terms["kl_joint"] = lp.detach().mean(), kl.detach().mean()
        elif len(members) == 1:
            terms[f"lp_{out.names[members[0]]}"] = lp.detach().mean()
            terms[f"kl_{out.names[members[0]]}"] = kl.detach().mean()
        else:
            rest_lp, rest_kl = rest_lp + lp.detach().mean(), rest_kl + kl.detach().mean()
    if torch.is_tensor(rest_lp):
        terms["lp_random_subsets"], terms["kl_random_subsets"] = rest_lp, rest_kl
    return _warmed(per_item, warm, kl_scale, terms)


def _warmed(per_item, warm, kl_scale: float, terms: dict) -> ObjectiveResult:
    """The bound as the value; during a KL warm-up the surrogate with the scaled KL is trained."""
    surrogate = warm.sum() if kl_scale != 1.0 else None
    return ObjectiveResult(per_item.sum(), terms, per_item.shape[-1], surrogate=surrogate)


@objective("mopoe_elbo", kind="mopoe", cli_name="elbo", options=WEIGHT_OPTIONS, warmup=True)
def mopoe_elbo(out: MixtureOutput, xs, weights: dict | None = None, kl_scale: float = 1.0) -> ObjectiveResult:
    """E_{z ~ q(z|X)} Σ_d λ_d log p(x_d | z) − β (1/S) Σ_S KL(q_S ‖ p): each item's latents come
    from one mixture component; the mean KL over the S = 2^M − 1 components bounds the mixture's."""
    beta = _beta(weights)
    lp = [out.llik(d, xs[d]).mean(0) for d in range(out.M)]
    kl = out.subset_posterior.kl(out.prior).mean(0)  # [S, B] in one op, averaged over S
    per_item = sum(lp) - beta * kl
    terms = {f"lp_{name}": v.detach().mean() for name, v in zip(out.names, lp)}
    terms["kl_mixture"] = kl.detach().mean()
    return _warmed(per_item, sum(lp) - kl_scale * beta * kl, kl_scale, terms)
