"""Hand-written distribution operations agree with torch.distributions."""
import math

import pytest
import torch
import torch.distributions as td

from mmvae.distributions import FAMILIES, DiagDist, PixelLikelihood, scale_from_raw


@pytest.mark.parametrize("name", ["Normal", "Laplace"])
def test_log_prob_kl_and_pixels(name):
    g = torch.Generator().manual_seed(0)
    fam = FAMILIES.get(name)
    T = getattr(td, name)
    lq, sq = torch.randn(5, 7, generator=g, dtype=torch.float64), torch.rand(5, 7, generator=g, dtype=torch.float64) + 0.1
    lp, sp = torch.randn(1, 7, generator=g, dtype=torch.float64), torch.rand(1, 7, generator=g, dtype=torch.float64) + 0.1
    z = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)
    q, p = DiagDist(fam, lq, sq), DiagDist(fam, lp, sp)
    torch.testing.assert_close(q.log_prob(z), T(lq, sq).log_prob(z).sum(-1))
    torch.testing.assert_close(q.kl(p), td.kl_divergence(T(lq, sq), T(lp, sp)).sum(-1))
    x = torch.rand(4, 3, 8, 8, generator=g, dtype=torch.float64)
    mean = torch.rand(2, 4, 3, 8, 8, generator=g, dtype=torch.float64)
    lik = PixelLikelihood(fam, 0.75, 2.0)
    want = T(mean, torch.tensor(0.75, dtype=torch.float64)).log_prob(x).flatten(2).sum(-1)
    torch.testing.assert_close(lik.log_prob(x, mean), want)


@pytest.mark.parametrize("name,var", [("Normal", 1.0), ("Laplace", 2.0)])
def test_noise_is_standard(name, var):
    torch.manual_seed(0)
    eps = FAMILIES.get(name).noise((200_000,), torch.device("cpu"), torch.float64)
    assert abs(eps.mean().item()) < 0.01
    assert eps.var().item() == pytest.approx(var, rel=0.02)


def test_scale_parameterisations():
    raw = torch.zeros(2, 20)
    assert torch.allclose(scale_from_raw(raw, "exp"), torch.full((2, 20), 1 + 1e-6))
    s = scale_from_raw(torch.randn(2, 20), "softmax", eta=0.0)
    torch.testing.assert_close(s.sum(-1), torch.full((2,), 20.0))
    # the seed's Normal decoder: per-pixel log-density at error 0 and 1 with std 0.75
    lik = PixelLikelihood(FAMILIES.get("Normal"), 0.75)
    x = torch.zeros(1, 1, 1, 1)
    assert lik.log_prob(x, torch.zeros(1, 1, 1, 1)).item() == pytest.approx(-0.63, abs=0.005)
    assert lik.log_prob(x, torch.ones(1, 1, 1, 1)).item() == pytest.approx(-1.52, abs=0.005)
    assert math.isclose(-math.log(0.75) - 0.5 * math.log(2 * math.pi), -0.6313, abs_tol=1e-3)


def test_uniform_mixture_density_and_stratified_samples():
    from mmvae.distributions import UniformMixture

    fam = FAMILIES.get("Normal")
    comps = [DiagDist(fam, torch.full((3, 2), 100.0 * m), torch.ones(3, 2)) for m in range(3)]
    mix = UniformMixture(comps)
    z = torch.randn(5, 3, 2)
    want = torch.logsumexp(torch.stack([c.log_prob(z) for c in comps]), 0) - math.log(3)
    torch.testing.assert_close(mix.log_prob(z), want)
    assert mix.importance_samples(4).shape == (12, 3, 2)  # 4 from each of the 3 components
    torch.testing.assert_close(mix.mean, torch.full((3, 2), 100.0))
    torch.manual_seed(0)
    draws = mix.rsample(3000)  # each draw comes from one component, picked uniformly
    nearest = (draws[..., :1] - 100 * torch.arange(3.0)).abs().argmin(-1)
    share = torch.bincount(nearest.flatten(), minlength=3) / nearest.numel()
    assert ((share - 1 / 3).abs() < 0.05).all()
