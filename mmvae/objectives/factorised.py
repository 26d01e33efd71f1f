"""Objectives of the factorised (shared + private) model.

``elbo_all`` and ``infoNCE_naive`` reproduce the seed; ``seed_logistic`` is the seed's idea made
well-posed; ``fission`` is the principled version. Every value is summed over the batch (the
training loss divides by B), so a weight w on a per-sample average term enters as B·w·term and
means the same at every batch size.

Weights (``--set train.objective_weights.<key>=v``): ``alpha`` (seed terms, 1.0), ``nce`` (1.0),
``club`` (1.0), ``tau`` (InfoNCE temperature, 0.1), ``private_kl`` (weight of each private KL,
1.0), ``club_shared`` (how much of the CLUB term's gradient reaches the shared encoders, 0.0).

The private KL weight, written out: the shared part is the naive MMVAE ELBO, an average over the
M encoders, so each modality's self-reconstruction log p(x_m | z_m, w_m) enters with weight 1/M
while its private KL enters with ``private_kl`` (1 by default, the seed's weighting): relative
to self-reconstruction that is β = M·private_kl on the private latents (β = 2 for two
modalities); ``private_kl = 1/M`` gives β = 1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from ..errors import ConfigError
from ..models.factorised import FactorisedOutput
from .base import ObjectiveResult, objective
from .moe import m_elbo_naive

DEFAULTS = {"alpha": 1.0, "nce": 1.0, "club": 1.0, "tau": 0.1, "private_kl": 1.0, "club_shared": 0.0}
# every objective takes the private KL weight; the rest are named per objective
COMMON = ("private_kl",)
WEIGHT_OPTIONS = {"weights": "train.objective_weights"}


def _weights(weights: dict | None, allowed: tuple[str, ...]) -> dict[str, float]:
    w = dict(DEFAULTS)
    allowed = allowed + COMMON
    for k, v in (weights or {}).items():
        if k not in allowed:
            raise ConfigError(f"Objective weight '{k}' is not used by this objective; it takes {', '.join(allowed)}.")
        w[k] = float(v)
    if w["tau"] <= 0:
        raise ConfigError(f"objective_weights.tau must be > 0, got {w['tau']}.")
    return w


def _private_elbos(out: FactorisedOutput, xs, kl_weight: float = 1.0) -> tuple[Tensor, dict]:
    """Σ_m [log p(x_m | z_pr_m) (separate decoders only) − w·KL(q_pr_m ‖ p_pr_m)], per item [B]."""
    total, terms = 0.0, {}
    for m, (p, x) in enumerate(zip(out.private, xs)):
        name = out.names[m]
        kl = p.kl(0)
        item = -kl_weight * kl
        if (0, 0) in p.decodes:
            lp = p.llik(0, 0, x).mean(0)
            item = item + lp
            terms[f"private_lp_{name}"] = lp.detach().mean()
        terms[f"private_kl_{name}"] = kl.detach().mean()
        total = total + item
    return total, terms


def _elbo_all(out: FactorisedOutput, xs, w: dict) -> tuple[Tensor, Tensor, dict]:
    """(batch sum of the shared naive MMVAE ELBO, per-item private ELBOs [B], logged terms); in
    joint-decoder mode the shared decodes already include the private latents."""
    shared = m_elbo_naive(out.shared, xs)
    priv, pterms = _private_elbos(out, xs, w["private_kl"])
    terms = {f"shared_{k}": v for k, v in shared.terms.items()} | pterms
    return shared.value, priv, terms


@objective("elbo_all", kind="factorised", options=WEIGHT_OPTIONS)
def elbo_all(out: FactorisedOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """Σ of the private ELBOs and the shared naive MMVAE ELBO (the seed's ``elbo_all``)."""
    w = _weights(weights, ())
    shared_sum, priv, terms = _elbo_all(out, xs, w)
    return ObjectiveResult(shared_sum + priv.sum(), terms, len(xs[0]))


def _same_dims(out: FactorisedOutput, name: str) -> None:
    if out.shared.samples[0].shape[-1] != out.private[0].samples[0].shape[-1]:
        raise ConfigError(f"{name} evaluates the shared and private posteriors at each other's samples, so it "
                          "needs private_latent_dim equal to latent_dim (as in the seed).")


def seed_density_ce(out: FactorisedOutput, m: int) -> Tensor:
    """The seed's term for modality m: per-dimension DENSITIES a, b, c, d used as 4-way logits
    with targets (1, 1, 0, 0), averaged over batch and dimensions (seed-spec §3.10; ill-posed:
    densities are unbounded, the targets sum to 2, latent spaces are not aligned)."""
    q_sh, q_pr = out.shared.posteriors[m], out.private[m].posteriors[0]
    z_sh, z_pr = out.shared.samples[m][0], out.private[m].samples[0][0]
    a = q_sh.log_prob_dims(z_sh).exp()
    b = q_pr.log_prob_dims(z_pr).exp()
    c = q_pr.log_prob_dims(z_sh).exp()
    d = q_sh.log_prob_dims(z_pr).exp()
    logits = torch.stack([a, b, c, d], 1)  # [B, 4, D]
    return (2 * torch.logsumexp(logits, 1) - a - b).mean()


@objective("infoNCE_naive", kind="factorised", options=WEIGHT_OPTIONS)
def infonce_naive(out: FactorisedOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """The seed's "infoNCE": elbo_all − α Σ_m CE_m with the density cross-entropy above."""
    w = _weights(weights, ("alpha",))
    _same_dims(out, "infoNCE_naive")
    shared_sum, priv, terms = _elbo_all(out, xs, w)
    ces = [seed_density_ce(out, m) for m in range(out.M)]
    for m, ce in enumerate(ces):
        terms[f"infonce_ce_{out.names[m]}"] = ce.detach()
    return ObjectiveResult(shared_sum + priv.sum() - w["alpha"] * sum(ces), terms, len(xs[0]))


@objective("seed_logistic", kind="factorised", options=WEIGHT_OPTIONS)
def seed_logistic(out: FactorisedOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """The seed's intent, well-posed: per item, a 2-way logistic loss on JOINT log-densities,
    ℓ = −log σ(log q_sh(s) − log q_pr(s)) − log σ(log q_pr(p) − log q_sh(p)), s ~ q_sh, p ~ q_pr
    (a Jensen–Shannon-type posterior discrimination). It still compares latents of two
    unaligned models, so it cannot make the private latent omit shared information."""
    w = _weights(weights, ("alpha",))
    _same_dims(out, "seed_logistic")
    shared_sum, priv, terms = _elbo_all(out, xs, w)
    total = 0.0
    for m in range(out.M):
        q_sh, q_pr = out.shared.posteriors[m], out.private[m].posteriors[0]
        s, p = out.shared.samples[m][0], out.private[m].samples[0][0]
        ell = -F.logsigmoid(q_sh.log_prob(s) - q_pr.log_prob(s)) - F.logsigmoid(q_pr.log_prob(p) - q_sh.log_prob(p))
        terms[f"logistic_{out.names[m]}"] = ell.detach().mean()
        total = total + ell.sum()
    return ObjectiveResult(shared_sum + priv.sum() - w["alpha"] * total, terms, len(xs[0]))


def cross_modal_infonce(z1: Tensor, z2: Tensor, tau: float) -> Tensor:
    """Symmetric InfoNCE between paired shared latents [B, D] with in-batch negatives:
    S_ij = cos(z1_i, z2_j)/τ, L = ½[CE(S, I) + CE(Sᵀ, I)]; I(z1; z2) ≥ log B − L."""
    s = F.normalize(z1, dim=-1) @ F.normalize(z2, dim=-1).T / tau
    target = torch.arange(len(z1), device=z1.device)
    return 0.5 * (F.cross_entropy(s, target) + F.cross_entropy(s.T, target))


def club_terms(critic, z_pr: Tensor, z_sh: Tensor, shared_grad: float = 1.0) -> tuple[Tensor, Tensor]:
    """(CLUB upper bound on I(z_pr; z_sh), the critic's own fitting loss).

    I_CLUB = E_pairs log q_ψ(z_sh|z_pr) − E_shuffled log q_ψ(z_sh'|z_pr), with the critic's
    parameters held fixed so this term trains only the encoders; the critic is fitted by
    maximum likelihood on detached latents. ``shared_grad`` scales the gradient that reaches
    z_sh (0: the bound trains the private encoders only; the value is unchanged)."""
    if shared_grad != 1.0:
        z_sh = z_sh.detach() + shared_grad * (z_sh - z_sh.detach())
    params = {k: v.detach() for k, v in critic.named_parameters()}
    mu, log_var = functional_call(critic, params, (z_pr,))
    perm = torch.randperm(len(z_sh), device=z_sh.device)
    pos = -((z_sh - mu) ** 2 / log_var.exp()).sum(-1) / 2
    neg = -((z_sh[perm] - mu) ** 2 / log_var.exp()).sum(-1) / 2
    mi = (pos - neg).mean()
    mu_f, log_var_f = critic(z_pr.detach())
    nll = (((z_sh.detach() - mu_f) ** 2 / log_var_f.exp() + log_var_f).sum(-1) / 2).mean()
    return mi, nll


@objective("fission", kind="factorised", options=WEIGHT_OPTIONS)
def fission(out: FactorisedOutput, xs, weights: dict | None = None) -> ObjectiveResult:
    """Representation fission: elbo_all − B·[w_nce·InfoNCE(z_sh_1, z_sh_2) + w_club·Σ_m I_CLUB(z_pr_m; z_sh_m)].

    The InfoNCE term pulls shared information into the shared latents; the CLUB term pushes it
    out of the private ones, and by default (``club_shared`` 0) its gradient reaches the private
    encoders only, since pushing the shared latents away from the private ones works against the
    InfoNCE term (docs/factorised.md has both measured).

    The CLUB critics' own fitting loss (Σ_m critic NLL, which trains only the critics) is returned
    apart, as ``aux_loss``, so the value is the regularised bound alone. With the joint decoder
    option the ELBO part is the MMVAE+-style bound (decoders read [shared, private])."""
    w = _weights(weights, ("nce", "club", "tau", "club_shared"))
    shared_sum, priv, terms = _elbo_all(out, xs, w)
    B = len(xs[0])
    z_sh = [s[0] for s in out.shared.samples]
    contrast = 0.0
    if out.M >= 2 and w["nce"]:
        nce = sum(cross_modal_infonce(z_sh[i], z_sh[j], w["tau"])
                  for i in range(out.M) for j in range(i + 1, out.M))
        terms["nce"] = nce.detach()
        contrast = contrast + w["nce"] * nce
    critic_nll = 0.0
    for m in range(out.M):
        mi, nll = club_terms(out.critics[m], out.private[m].samples[0][0], z_sh[m], w["club_shared"])
        terms[f"club_{out.names[m]}"] = mi.detach()
        terms[f"critic_nll_{out.names[m]}"] = nll.detach()
        contrast = contrast + w["club"] * mi
        critic_nll = critic_nll + nll
    value = shared_sum + priv.sum() - B * contrast
    return ObjectiveResult(value, terms, B, aux_loss=critic_nll)
