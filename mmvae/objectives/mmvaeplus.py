"""Objectives of MMVAE+: the mixture over modalities with the looser bound, as in the authors' code.

For source modality r and sample k (u_r = [z_r, w_r] from q(z|x_r) q(w|x_r)):

    log w_r = Σ_d λ_d log p(x_d | decode r→d) + β [log p(z_r) + log p(w_r)
              − log (1/M) Σ_m q(z_r | x_m) − log q(w_r | x_r)]

where the cross decodes r→d (d ≠ r) read [z_r, w̃], w̃ ~ r_d (see the model). ``mmvaeplus_elbo``
averages log w over r and k; ``mmvaeplus_iwae`` is (1/M) Σ_r log (1/K) Σ_k w_r^k; ``mmvaeplus_dreg``
its doubly-reparameterised gradient (normalised weights per modality, gradient hooks on the
samples, q evaluated at detached parameters). β (``objective_weights.beta``) is 2.5 by default,
the authors' PolyMNIST setting.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..models.mmvaeplus import PlusOutput
from .base import ObjectiveResult, beta_weight, log_mean_exp, objective, reweight_gradient

WEIGHT_OPTIONS = {"weights": "train.objective_weights"}
BETA = 2.5  # MMVAE+ on PolyMNIST (Palumbo et al. 2023; epalu/mmvaeplus)


def _beta(weights: dict | None) -> float:
    return beta_weight(weights, BETA, "MMVAE+")


def plus_log_weights(out: PlusOutput, xs, beta: float, detach_q: bool = False) -> Tensor:
    """log w [M, K, B] for every source modality r and sample k."""
    qz = [q.detach() if detach_q else q for q in out.qz]
    qw = [q.detach() if detach_q else q for q in out.qw]
    lws = []
    for r in range(out.M):
        z, w = out.z[r], out.w[r]
        lp = sum(out.llik(r, d, xs[d]) for d in range(out.M))
        log_qz = log_mean_exp(torch.stack([q.log_prob(z) for q in qz]), 0)
        reg = out.prior_z.log_prob(z) + out.prior_w.log_prob(w) - log_qz - qw[r].log_prob(w)
        lws.append(lp + beta * reg)
    return torch.stack(lws)


def _terms(out: PlusOutput, xs) -> dict[str, Tensor]:
    with torch.no_grad():
        terms = {}
        for (r, d) in out.decodes:
            terms[f"lp_{out.names[d]}_from_{out.names[r]}"] = out.llik(r, d, xs[d]).mean()
        for m, name in enumerate(out.names):
            terms[f"kl_shared_{name}"] = out.qz[m].kl(out.prior_z).mean()
            terms[f"kl_private_{name}"] = out.qw[m].kl(out.prior_w).mean()
        return terms


@objective("mmvaeplus_elbo", kind="mmvaeplus", cli_name="elbo", options=WEIGHT_OPTIONS)
def mmvaeplus_elbo(out: PlusOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """(1/M) Σ_r (1/K) Σ_k log w_r^k: the ELBO of the mixture (the official setting with K = 1)."""
    lw = plus_log_weights(out, xs, _beta(weights))
    per_item = lw.mean(1).mean(0)
    return ObjectiveResult(per_item.sum(), _terms(out, xs), per_item.shape[-1])


@objective("mmvaeplus_iwae", kind="mmvaeplus", cli_name="iwae", estimator="iwae", options=WEIGHT_OPTIONS,
           default_K=10)  # K = 10: the official code's IWAE/DReG setting
def mmvaeplus_iwae(out: PlusOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """(1/M) Σ_r log (1/K) Σ_k w_r^k: the looser IWAE bound."""
    lw = plus_log_weights(out, xs, _beta(weights))
    per_item = log_mean_exp(lw, 1).mean(0)
    return ObjectiveResult(per_item.sum(), _terms(out, xs), per_item.shape[-1])


@objective("mmvaeplus_dreg", kind="mmvaeplus", cli_name="dreg", estimator="iwae", evaluated_by="mmvaeplus_iwae",
           options=WEIGHT_OPTIONS, default_K=10)
def mmvaeplus_dreg(out: PlusOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """DReG for the looser bound: value the bound, surrogate (1/M) Σ_r Σ_k w̃_r^k log w_r^k with
    w̃ the per-modality normalised weights and hooks weighting the samples' gradients by w̃."""
    lw = plus_log_weights(out, xs, _beta(weights), detach_q=True)
    wt = torch.softmax(lw, 1).detach()
    for r in range(out.M):
        reweight_gradient(out.z[r], wt[r])
        reweight_gradient(out.w[r], wt[r])
    surrogate = (wt * lw).sum(1).mean(0)
    bound = log_mean_exp(lw, 1).mean(0)
    terms = _terms(out, xs)
    terms["dreg_surrogate"] = surrogate.detach().mean()
    return ObjectiveResult(bound.detach().sum(), terms, bound.shape[-1], surrogate=surrogate.sum())
