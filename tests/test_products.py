"""Product-based models: the product of Gaussian experts against its closed form, MoPoE's subset
sampling and bound and the MVAE's subset ELBOs against direct computations, and every model
training on 3 and on 5 modalities."""
import math

import pytest
import torch

from mmvae.distributions import FAMILIES, DiagDist
from mmvae.models import MODELS, ModalitySpec, build_model
from mmvae.models.mopoe import MoPoE, balanced_components
from mmvae.models.mvae import MVAE
from mmvae.models.products import nonempty_subsets, product_of_experts, subset_mask
from mmvae.nets import NetSpec
from mmvae.objectives import OBJECTIVES

NORMAL = FAMILIES.get("Normal")
FC = NetSpec("fc", hidden_dims=[16])


def _mods(M):
    return [ModalitySpec(f"m{i}", (1, 4, 4)) for i in range(M)]


def _batch(M, B=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(B, 1, 4, 4, generator=g) for _ in range(M)]


def test_product_of_gaussian_experts_is_the_normalised_product():
    """log PoE(z) − Σ log q_m(z) − log p(z) is the same constant at every z: the product, normalised."""
    g = torch.Generator().manual_seed(0)
    experts = [DiagDist(NORMAL, torch.randn(2, 3, generator=g), 0.3 + torch.rand(2, 3, generator=g)) for _ in range(3)]
    prior = DiagDist(NORMAL, torch.zeros(1, 3), torch.full((1, 3), 1.5))
    mask = subset_mask([(0, 2), (0, 1, 2)], 3)
    loc, scale = product_of_experts(experts, mask, prior, with_prior=torch.tensor([False, True]))
    z = torch.randn(50, 2, 3, generator=g)
    for s, (members, with_prior) in enumerate([((0, 2), False), ((0, 1, 2), True)]):
        poe = DiagDist(NORMAL, loc[s], scale[s])
        product = sum(experts[m].log_prob(z) for m in members) + (prior.log_prob(z) if with_prior else 0)
        gap = poe.log_prob(z) - product
        torch.testing.assert_close(gap, gap[:1].expand_as(gap), rtol=0, atol=1e-4)
    # one expert and no prior: the expert itself
    loc1, scale1 = product_of_experts(experts[:1], torch.ones(1, 1))
    torch.testing.assert_close(loc1[0], experts[0].loc)
    torch.testing.assert_close(scale1[0], experts[0].scale)


def test_mopoe_subset_sampling_and_bound_match_a_direct_computation():
    torch.manual_seed(0)
    M, B, K = 3, 14, 2
    model = MoPoE(_mods(M), latent_dim=2, nets=[FC] * M)
    xs = _batch(M, B)
    torch.manual_seed(5)
    out = model(xs, K=K)
    value = OBJECTIVES.get("mopoe_elbo").fn(out, xs, weights={"beta": 0.5}).value

    # the direct computation, subset by subset with the closed-form product
    experts = [model.expert(x, m) for m, x in enumerate(xs)]
    prior = model.prior()
    subsets = nonempty_subsets(M)
    assert len(subsets) == 2**M - 1 == len(out.posteriors)
    posts = []
    for members in subsets:
        precision = sum(experts[m].scale.pow(-2) for m in members)
        weighted = sum(experts[m].scale.pow(-2) * experts[m].loc for m in members)
        if len(members) == M:  # the prior joins the full product only
            precision = precision + prior.scale.pow(-2)
        posts.append(DiagDist(NORMAL, weighted / precision, precision.rsqrt()))
    for q, want in zip(out.posteriors, posts):
        torch.testing.assert_close(q.loc, want.loc)
        torch.testing.assert_close(q.scale, want.scale)
    component = balanced_components(B, len(subsets))
    assert torch.equal(out.component, component) and sorted(set(component.tolist())) == list(range(7))
    torch.manual_seed(5)
    eps = torch.randn(K, B, 2)
    loc = torch.stack([posts[c].loc[b] for b, c in enumerate(component.tolist())])
    scale = torch.stack([posts[c].scale[b] for b, c in enumerate(component.tolist())])
    z = loc + scale * eps
    torch.testing.assert_close(out.samples, z)
    lp = sum(model.likelihoods[d].log_prob(xs[d], model.decode(z, d)).mean(0) for d in range(M))
    kl = sum(q.kl(prior) for q in posts) / len(posts)
    torch.testing.assert_close(value, (lp - 0.5 * kl).sum(), rtol=1e-5, atol=1e-3)


def test_mvae_subsets_and_elbo_match_a_direct_computation():
    torch.manual_seed(1)
    M, B = 4, 5
    model = MVAE(_mods(M), latent_dim=3, random_subsets=2, nets=[FC] * M)
    xs = _batch(M, B)
    torch.manual_seed(7)
    out = model(xs, K=1)
    subsets = out.subsets
    assert subsets[:M + 1] == [(0, 1, 2, 3), (0,), (1,), (2,), (3,)]
    assert len(subsets) == M + 1 + 2 and all(1 < len(s) < M for s in subsets[M + 1:])
    model.eval()
    assert model(xs).subsets == subsets[:M + 1]  # no random subsets outside training
    model.train()
    value = OBJECTIVES.get("mvae_elbo").fn(out, xs).value
    prior = model.prior()
    total = 0.0
    for s, members in enumerate(subsets):
        precision = prior.scale.pow(-2) + sum(model.expert(xs[m], m).scale.pow(-2) for m in members)
        loc = sum(model.expert(xs[m], m).scale.pow(-2) * model.expert(xs[m], m).loc for m in members) / precision
        q = DiagDist(NORMAL, loc, precision.rsqrt())
        torch.testing.assert_close(out.posteriors[s].loc, q.loc)
        z = out.samples[s]
        lp = sum(model.likelihoods[d].log_prob(xs[d], model.decode(z, d)).mean(0) for d in members)
        total = total + lp - q.kl(prior)
    torch.testing.assert_close(value, total.sum(), rtol=1e-5, atol=1e-3)


def test_product_models_refuse_laplace():
    from mmvae.errors import ConfigError

    with pytest.raises(ConfigError, match="Normal posteriors"):
        MVAE(_mods(2), latent_dim=2, family="Laplace", nets=[FC] * 2)


def test_joint_posteriors_condition_on_any_subset():
    torch.manual_seed(2)
    xs = _batch(3, 4)
    for cls in (MVAE, MoPoE):
        model = cls(_mods(3), latent_dim=2, nets=[FC] * 3)
        encs = model.encode_all(xs)
        for members in [(0,), (1, 2), (0, 1, 2)]:
            q = model.joint_posterior({m: encs[m] for m in members})
            assert q.rsample(3).shape == (3, 4, 2) and q.mean.shape == (4, 2)
            assert torch.isfinite(q.log_prob(q.rsample(2))).all()
        gens = model.conditional({0: xs[0], 2: xs[2]})
        assert [g.shape for g in gens] == [(4, 1, 4, 4)] * 3


def _config(name, M):
    from mmvae.config import ModelConfig

    cfg = ModelConfig(model=name, latent_dim=3, nets={f"m{i}": NetSpec("fc", hidden_dims=[16]) for i in range(M)})
    if name == "vae":
        cfg.modality = "m1"
    return cfg


MULTIMODAL = {"mmvae": "m_elbo_naive", "mvae": "mvae_elbo", "mopoe": "mopoe_elbo", "fummvae": "elbo_all"}


@pytest.mark.parametrize("M", [3, 5])
@pytest.mark.parametrize("name", list(MULTIMODAL))
def test_every_model_trains_on_3_and_5_modalities(name, M):
    torch.manual_seed(3)
    model = build_model(_config(name, M), _mods(M))
    assert model.M == M and name in MODELS
    info = OBJECTIVES.get(MULTIMODAL[name])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xs = _batch(M, 16)
    losses = []
    for _ in range(30):
        out = model(xs, K=1, decodes=info.decodes)
        result = info.fn(out, xs)
        opt.zero_grad()
        result.training_loss.backward()
        opt.step()
        losses.append(float(result.loss.detach()))
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert [g.shape for g in model.generate(2)] == [(2, 1, 4, 4)] * M


def test_kl_warm_up_trains_a_scaled_kl_and_reports_the_bound():
    torch.manual_seed(4)
    for cls, name in ((MVAE, "mvae_elbo"), (MoPoE, "mopoe_elbo")):
        model = cls(_mods(3), latent_dim=2, nets=[FC] * 3)
        xs = _batch(3)
        torch.manual_seed(5)
        out = model(xs)
        info = OBJECTIVES.get(name)
        full = info.fn(out, xs)
        none = info.fn(out, xs, kl_scale=0.0)
        half = info.fn(out, xs, kl_scale=0.5)
        assert info.warmup and full.surrogate is None
        torch.testing.assert_close(half.value, full.value)  # the reported bound keeps the whole KL
        torch.testing.assert_close(half.surrogate, (full.value + none.surrogate) / 2)  # linear in the scale
        assert none.surrogate > full.value


def test_an_expert_that_switches_itself_off_stays_finite():
    model = MVAE(_mods(2), latent_dim=2, nets=[FC] * 2)
    with torch.no_grad():
        for e in model.experts:
            e.encoder.raw_scale.bias.fill_(500.0)  # exp(250) overflows float32 without the bound
    xs = _batch(2)
    result = OBJECTIVES.get("mvae_elbo").fn(model(xs), xs)
    assert torch.isfinite(result.value)


def test_normal_posteriors_with_a_laplace_likelihood():
    from mmvae.config import ModelConfig

    cfg = ModelConfig(model="mopoe", latent_dim=2, likelihood="Laplace", nets={f"m{i}": FC for i in range(3)})
    model = build_model(cfg, _mods(3))
    assert model.family.name == "Normal" and {lk.family.name for lk in model.likelihoods} == {"Laplace"}
    assert build_model(ModelConfig(model="mopoe", latent_dim=2, nets={f"m{i}": FC for i in range(3)}),
                       _mods(3)).likelihoods[0].family.name == "Normal"  # "same": the posterior's family
