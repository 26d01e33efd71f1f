"""Estimators pinned down where a plausible regression would hide: the IWAE likelihood estimate
with unequal weights against an exact Gaussian answer, m_elbo's gradient paths against an
autograd reference with explicit detaches, and the CLUB term's separation of gradients."""
import math

import pytest
import torch

from mmvae.data.paired import PairedData
from mmvae.distributions import FAMILIES, DiagDist, PixelLikelihood, UniformMixture
from mmvae.evaluation.likelihood import iwae_estimates
from mmvae.models import Encoding, ModalitySpec, MultimodalVAE
from mmvae.models.output import ForwardOutput
from mmvae.objectives import OBJECTIVES
from mmvae.objectives.factorised import club_terms

NORMAL = FAMILIES.get("Normal")
SIGMA = 0.5  # pixel noise of the linear Gaussian model


class LinearGaussian(MultimodalVAE):
    """p(z) = N(0, I), p(x_m | z) = N(W_m z, σ²) per pixel: log p(x) is known exactly. The encoders
    are deliberately poor (shifted and too narrow), so the importance weights are far from equal."""

    kind = "moe"

    def __init__(self, W):
        super().__init__([ModalitySpec(f"m{i}", (1, 2, 2)) for i in range(len(W))], latent_dim=W[0].shape[1])
        self.W = [w.double() for w in W]
        self.likelihoods = [PixelLikelihood(NORMAL, SIGMA, 1.0) for _ in W]
        self.anchor = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def encode(self, x, m):
        W = self.W[m]
        precision = torch.eye(W.shape[1], dtype=torch.float64) + W.T @ W / SIGMA**2
        mean = torch.linalg.solve(precision, W.T @ x.flatten(1).T / SIGMA**2).T
        return Encoding(DiagDist(NORMAL, mean + 0.4, torch.full_like(mean, 0.45)))

    def decode(self, z, m, w=None):
        return (z @ self.W[m].T).view(*z.shape[:-1], 1, 2, 2)

    def prior(self):
        return DiagDist(NORMAL, torch.zeros(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64))

    def joint_posterior(self, encodings):
        qs = [encodings[m].shared for m in sorted(encodings)]
        return qs[0] if len(qs) == 1 else UniformMixture(qs)

    def forward(self, xs, K=1, decodes="all"):
        raise NotImplementedError


def _exact(W, xs):
    """log N(x; 0, W Wᵀ + σ² I) per item, for the stacked modalities in ``W``/``xs``."""
    Wc = torch.cat([w.double() for w in W])
    cov = Wc @ Wc.T + SIGMA**2 * torch.eye(Wc.shape[0], dtype=torch.float64)
    x = torch.cat([x.flatten(1) for x in xs], 1)
    return torch.distributions.MultivariateNormal(torch.zeros(len(cov), dtype=torch.float64), cov).log_prob(x)


def test_iwae_estimates_match_exact_log_likelihoods_with_unequal_weights():
    g = torch.Generator().manual_seed(0)
    W = [torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)]
    model = LinearGaussian(W)
    z = torch.randn(8, 2, generator=g, dtype=torch.float64)
    xs = [model.decode(z, m) + SIGMA * torch.randn(8, 1, 2, 2, generator=g, dtype=torch.float64) for m in range(2)]
    data = PairedData(["m0", "m1"], ["m0", "m1"], xs, torch.arange(8).view(-1, 1).repeat(1, 2),
                      torch.zeros(8, dtype=torch.long), torch.zeros(8, dtype=torch.long), num_classes=1)
    data.gather = lambda idx: ([x[idx] for x in xs], torch.zeros(len(idx), dtype=torch.long))  # float images
    torch.manual_seed(1)
    est = iwae_estimates(model, data, K=4000, batch_size=8, k_chunk=4000, progress=False)
    exact = {"marginal_m0": _exact(W[:1], xs[:1]).mean(), "marginal_m1": _exact(W[1:], xs[1:]).mean(),
             "joint": _exact(W, xs).mean()}
    for name, want in exact.items():
        assert est[name] == pytest.approx(float(want), abs=0.05), name
    # the same samples averaged as log-weights (an ELBO) are far off: the test tells them apart
    with torch.no_grad():
        q = model.encode(xs[0], 0).shared
        zs = q.rsample(4000)
        lw = model.prior().log_prob(zs) + model.log_likelihood(zs, 0, xs[0]) - q.log_prob(zs)
    assert float(exact["marginal_m0"] - lw.mean(0).mean()) > 0.5
    assert float((torch.logsumexp(lw, 0) - math.log(4000)).mean()) == pytest.approx(float(exact["marginal_m0"]), abs=0.05)


# ---------------------------------------------------------------- m_elbo's gradient paths

B, D, K = 3, 4, 2


def _leaves(seed=0):
    g = torch.Generator().manual_seed(seed)
    leaf = lambda *s, scale=1.0: (scale * torch.randn(*s, generator=g, dtype=torch.float64)).requires_grad_()  # noqa: E731
    return dict(loc=[leaf(B, D), leaf(B, D)], lsc=[leaf(B, D, scale=0.3), leaf(B, D, scale=0.3)],
                dec=[leaf(D, 4, scale=0.5), leaf(D, 4, scale=0.5)],
                eps=[torch.randn(K, B, D, generator=g, dtype=torch.float64) for _ in range(2)],
                xs=[torch.rand(B, 1, 2, 2, generator=g, dtype=torch.float64) for _ in range(2)])


def _grads(loss, p):
    params = p["loc"] + p["lsc"] + p["dec"]
    return torch.autograd.grad(loss, params, allow_unused=True)


def test_m_elbo_gradient_paths_match_a_reference_with_explicit_detaches():
    lam = [2.0, 1.0]
    p = _leaves()
    prior = DiagDist(NORMAL, torch.zeros(1, D, dtype=torch.float64), torch.ones(1, D, dtype=torch.float64))
    lik = [PixelLikelihood(NORMAL, 0.75, lam[m]) for m in range(2)]

    def dec(z, d):
        return torch.sigmoid(z @ p["dec"][d]).view(*z.shape[:-1], 1, 2, 2)

    # ours, through the objective
    posts = [DiagDist(NORMAL, p["loc"][m], p["lsc"][m].exp()) for m in range(2)]
    zs = [posts[m].loc + posts[m].scale * p["eps"][m] for m in range(2)]
    out = ForwardOutput(posts, zs, {(d, d): dec(zs[d], d) for d in range(2)}, prior, lik)
    ours = _grads(-OBJECTIVES.get("m_elbo").fn(out, p["xs"]).value, p)

    # the reference, written out: ω_rd = q_r(z_d)/q_d(z_d) with z_d and q_d detached, times L_dd
    total = 0.0
    for r in range(2):
        q_r = DiagDist(NORMAL, p["loc"][r], p["lsc"][r].exp())
        for d in range(2):
            z_d = p["loc"][d] + p["lsc"][d].exp() * p["eps"][d]
            L_dd = lam[d] * lik[d].log_prob(p["xs"][d], dec(z_d, d))
            if r == d:
                term = L_dd
            else:
                q_d = DiagDist(NORMAL, p["loc"][d].detach(), p["lsc"][d].exp().detach())
                term = torch.exp(q_r.log_prob(z_d.detach()) - q_d.log_prob(z_d.detach())) * L_dd
            total = total + term.mean(0)
        total = total - q_r.kl(prior)
    ref = _grads(-(total / 2).sum(), p)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    # the detaches matter: without them encoder 1 would get another gradient from the cross term
    q0 = DiagDist(NORMAL, p["loc"][0], p["lsc"][0].exp())

    def cross_term(detach: bool):
        z1 = p["loc"][1] + p["lsc"][1].exp() * p["eps"][1]
        zq, loc1, lsc1 = (z1.detach(), p["loc"][1].detach(), p["lsc"][1].detach()) if detach else (
            z1, p["loc"][1], p["lsc"][1])
        w = torch.exp(q0.log_prob(zq) - DiagDist(NORMAL, loc1, lsc1.exp()).log_prob(zq))
        return (w * lik[1].log_prob(p["xs"][1], dec(z1, 1))).mean(0).sum()

    g_detached = torch.autograd.grad(cross_term(True), p["loc"][1])[0]
    g_undetached = torch.autograd.grad(cross_term(False), p["loc"][1])[0]
    assert not torch.allclose(g_detached, g_undetached)


# ---------------------------------------------------------------- CLUB


def test_club_separates_the_critic_from_the_encoders_exactly():
    from mmvae.models.factorised import ClubCritic

    torch.manual_seed(0)
    critic = ClubCritic(3, 4)
    z_pr = torch.randn(16, 3, requires_grad=True)
    z_sh = torch.randn(16, 4, requires_grad=True)
    mi, nll = club_terms(critic, z_pr, z_sh)
    mi_grads = torch.autograd.grad(mi, [z_pr, z_sh, *critic.parameters()], allow_unused=True, retain_graph=True)
    assert mi_grads[0] is not None and mi_grads[0].abs().sum() > 0  # the MI term trains the encoders
    assert all(g is None or torch.count_nonzero(g) == 0 for g in mi_grads[2:])  # … and not the critic
    nll_grads = torch.autograd.grad(nll, [z_pr, z_sh, *critic.parameters()], allow_unused=True)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in nll_grads[:2])  # the fit: critic only
    assert any(g is not None and g.abs().sum() > 0 for g in nll_grads[2:])


def test_club_gradient_into_the_shared_latent_is_scaled_by_club_shared():
    from mmvae.models.factorised import ClubCritic

    torch.manual_seed(1)
    critic = ClubCritic(3, 4)
    z_pr = torch.randn(16, 3)
    z_sh = torch.randn(16, 4, requires_grad=True)
    grads = {}
    for share in (0.0, 0.5, 1.0):
        torch.manual_seed(2)  # the same shuffle of negatives
        mi, _ = club_terms(critic, z_pr, z_sh, shared_grad=share)
        grads[share] = torch.autograd.grad(mi, z_sh)[0]
    assert torch.count_nonzero(grads[0.0]) == 0  # the default: the bound trains the private encoders only
    torch.testing.assert_close(grads[0.5], 0.5 * grads[1.0])
    assert grads[1.0].abs().sum() > 0
