"""The mixture-of-experts objective family of the original MMVAE code, and its unimodal cases.

Notation: M modalities, K samples z_r^k ~ q_r(z | x_r) per encoder r, L_rd^k = λ_d Σ_pixels
log p_d(x_d | z_r^k) (decoder d at a sample of encoder r), KL_r = KL(q_r ‖ p) in closed form.
Every value is summed over the batch. With M = 1, ``m_elbo_naive``, ``m_iwae`` and ``m_dreg``
are exactly the unimodal ``elbo``, ``iwae`` and ``dreg``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..models.output import ForwardOutput
from .base import ObjectiveResult, log_mean_exp, objective, reweight_gradient


def _log_terms(out: ForwardOutput, lp: dict[tuple[int, int], Tensor], kls: list[Tensor]):
    """Per-sample means of each λ-scaled log-likelihood and each KL, under stable names."""
    terms = {}
    for (r, d), v in lp.items():
        terms[f"lp_{out.name(d)}_from_{out.name(r)}"] = v.detach().mean()
    for m, kl in enumerate(kls):
        terms[f"kl_{out.name(m)}"] = kl.detach().mean()
    return terms


def _result(out: ForwardOutput, per_item: Tensor, terms: dict) -> ObjectiveResult:
    return ObjectiveResult(per_item.sum(), terms, per_item.shape[-1])


DREG_OPTIONS = {"as_released": "train.dreg_as_released"}


@objective("m_elbo_naive", kind="moe", cli_name="elbo_naive", decodes="all")
def m_elbo_naive(out: ForwardOutput, xs) -> ObjectiveResult:
    """Naive MoE ELBO: (1/M) Σ_r [Σ_d L_rd − KL_r] (the seed's ``elbo_naive``).

    It replaces log q_Φ (the mixture) by log q_r, so it equals the MoE ELBO minus the
    Jensen–Shannon divergence of the experts: a valid, looser bound. K > 1 averages K samples.
    """
    M = out.M
    lp = {(r, d): out.llik(r, d, xs[d]).mean(0) for r in range(M) for d in range(M)}
    kls = [out.kl(m) for m in range(M)]
    per_item = (sum(lp.values()) - sum(kls)) / M
    return _result(out, per_item, _log_terms(out, lp, kls))


@objective("m_elbo", kind="moe", cli_name="elbo", decodes="diag")
def m_elbo(out: ForwardOutput, xs) -> ObjectiveResult:
    """Importance-sampled MoE ELBO of the original code (its ``elbo`` for several modalities).

    (1/M) Σ_r [Σ_d ω_rd L_dd − KL_r] with ω_rr = 1 and, for r ≠ d, ω_rd =
    q_r(z_d) / q_d(z_d): the expectation under q_r of log p_d(x_d | z) is estimated with decoder
    d's own samples, so no cross decode is computed. As in the original, z_d and q_d are
    detached inside ω, so ω passes gradient to encoder r only.
    """
    M = out.M
    diag = [out.llik(d, d, xs[d]) for d in range(M)]  # [K, B] each
    kls = [out.kl(m) for m in range(M)]
    total = 0.0
    lp_log = {}
    for r in range(M):
        for d in range(M):
            if r == d:
                term = diag[d]
            else:
                z = out.samples[d].detach()
                log_w = out.posteriors[r].log_prob(z) - out.posteriors[d].detach().log_prob(z)
                term = log_w.exp() * diag[d]
            total = total + term
            lp_log[(r, d)] = term.mean(0)
    per_item = (total.mean(0) - sum(kls)) / M
    return _result(out, per_item, _log_terms(out, lp_log, kls))


def _moe_log_weights(out: ForwardOutput, xs, detach_q: bool) -> tuple[list[Tensor], dict]:
    """(log w_r^k = log p(z_r^k) + Σ_d L_rd^k − log (1/M) Σ_m q_m(z_r^k), one [K, B] per r;
    the L_rd [K, B] they were built from, for the per-term log)."""
    M = out.M
    lws, lp = [], {}
    for r in range(M):
        z = out.samples[r]
        for d in range(M):
            lp[(r, d)] = out.llik(r, d, xs[d])
        lws.append(out.prior.log_prob(z) + sum(lp[(r, d)] for d in range(M)) - out.log_mixture(z, detach=detach_q))
    return lws, lp


def _iwae_terms(out, lp: dict):
    """The same per-term log as the ELBOs (means over K), for comparable curves, from the
    likelihoods the bound already computed."""
    with torch.no_grad():
        return _log_terms(out, {key: v.mean(0) for key, v in lp.items()}, [out.kl(m) for m in range(out.M)])


@objective("m_iwae", kind="moe", cli_name="iwae", decodes="all", estimator="iwae")
def m_iwae(out: ForwardOutput, xs) -> ObjectiveResult:
    """Stratified MoE IWAE: log (1/MK) Σ_{r,k} w_r^k, all M·K samples inside one log."""
    lws, lp = _moe_log_weights(out, xs, detach_q=False)
    return _result(out, log_mean_exp(torch.cat(lws, 0), 0), _iwae_terms(out, lp))  # [M*K, B]


@objective("m_iwae_looser", kind="moe", cli_name="iwae", looser=True, decodes="all", estimator="iwae")
def m_iwae_looser(out: ForwardOutput, xs) -> ObjectiveResult:
    """Looser MoE IWAE: (1/M) Σ_r log (1/K) Σ_k w_r^k, the modality average outside the log."""
    lws, lp = _moe_log_weights(out, xs, detach_q=False)
    return _result(out, log_mean_exp(torch.stack(lws), 1).mean(0), _iwae_terms(out, lp))  # [M, K, B]


def _dreg(out: ForwardOutput, xs, looser: bool, as_released: bool) -> ObjectiveResult:
    """Value: the IWAE bound (stratified, or looser); surrogate: Σ w̃ log w with the gradient hooks."""
    lws, lp = _moe_log_weights(out, xs, detach_q=True)
    if looser:
        lw = torch.stack(lws)  # [M, K, B]
        w = torch.softmax(lw, 1).detach()
        surrogate = (w * lw).sum(1).mean(0)
        bound = log_mean_exp(lw, 1).mean(0)
        weights = list(w)
    else:
        lw = torch.cat(lws, 0)  # [M*K, B]
        w = torch.softmax(lw, 0).detach()
        surrogate = (w * lw).sum(0)
        bound = log_mean_exp(lw, 0)
        weights = list(w.split(out.K, 0))
    if not as_released:
        for z, wr in zip(out.samples, weights):
            reweight_gradient(z, wr)
    terms = _iwae_terms(out, lp)
    terms["dreg_surrogate"] = surrogate.detach().mean()
    return ObjectiveResult(bound.detach().sum(), terms, bound.shape[-1], surrogate=surrogate.sum())


@objective("m_dreg", kind="moe", cli_name="dreg", decodes="all", estimator="iwae", evaluated_by="m_iwae",
           options=DREG_OPTIONS)
def m_dreg(out: ForwardOutput, xs, as_released: bool = False) -> ObjectiveResult:
    """Doubly-reparameterised MoE IWAE (Tucker et al., 2019), all M·K samples in one softmax.

    The value is the IWAE bound log (1/MK) Σ w. What is differentiated is the surrogate
    Σ w̃ log w with normalised weights w̃ (no gradient) and log q evaluated at detached encoder
    parameters, so the encoders are reached only through the samples z. A gradient hook on each
    z multiplies the gradient by w̃, so the encoders receive Σ w̃² ∂log w/∂z ∂z/∂φ and the
    decoders Σ w̃ ∇θ log w: the DReG estimator. The surrogate's value is logged as
    ``dreg_surrogate``.

    The original code registers that hook on a concatenated copy of the samples that the
    loss never uses, so its hook never fires and its encoder gradient is weighted by w̃, not w̃²
    (an IWAE "sticking the landing" estimator). ``as_released=True`` reproduces that.
    """
    return _dreg(out, xs, looser=False, as_released=as_released)


@objective("m_dreg_looser", kind="moe", cli_name="dreg", looser=True, decodes="all", estimator="iwae",
           evaluated_by="m_iwae_looser", options=DREG_OPTIONS)
def m_dreg_looser(out: ForwardOutput, xs, as_released: bool = False) -> ObjectiveResult:
    """DReG for the looser bound: a softmax over K per modality, then the modality mean.

    This is the original paper's training objective (``--obj dreg --looser``). The same hook
    note as for ``m_dreg`` applies: ours fires, the original's does not.
    """
    return _dreg(out, xs, looser=True, as_released=as_released)


# -------------------------------------------------------------------- unimodal cases (M = 1)


@objective("elbo", kind="unimodal", decodes="all")
def elbo(out: ForwardOutput, xs) -> ObjectiveResult:
    """ELBO: E_q[λ log p(x|z)] − KL(q(z|x) ‖ p(z)), K samples averaged."""
    return m_elbo_naive(out, xs)


@objective("iwae", kind="unimodal", decodes="all", estimator="iwae")
def iwae(out: ForwardOutput, xs) -> ObjectiveResult:
    """IWAE bound log (1/K) Σ_k p(x, z_k) / q(z_k | x)."""
    return m_iwae(out, xs)


@objective("dreg", kind="unimodal", decodes="all", estimator="iwae", evaluated_by="iwae",
           options=DREG_OPTIONS)
def dreg(out: ForwardOutput, xs, as_released: bool = False) -> ObjectiveResult:
    """DReG surrogate of the IWAE bound (gradient hook on z; see ``m_dreg``)."""
    return m_dreg(out, xs, as_released=as_released)
