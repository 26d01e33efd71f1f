"""``--bf16``: the networks run in bf16, but posteriors, samples, densities, importance weights
and objectives are float32, so an objective matches its float64 recomputation from the same
network outputs and noise (the defaults a user gets: conv networks, channels_last, fast routes)."""
import pytest
import torch

from mmvae.distributions import DiagDist
from mmvae.models import MMVAE, ModalitySpec
from mmvae.models.output import ForwardOutput
from mmvae.nets import NetSpec, accelerate
from mmvae.objectives import OBJECTIVES

MODS = [ModalitySpec("mnist", (1, 28, 28)), ModalitySpec("svhn", (3, 32, 32))]


def _float64(out: ForwardOutput) -> ForwardOutput:
    def dist(q):
        return DiagDist(q.family, q.loc.detach().double(), q.scale.detach().double())

    return ForwardOutput([dist(q) for q in out.posteriors], [z.detach().double() for z in out.samples],
                         {k: v.detach().double() for k, v in out.decodes.items()}, dist(out.prior),
                         out.likelihoods, out.names)


@pytest.mark.parametrize("name,K", [("m_elbo", 1), ("m_elbo_naive", 1), ("m_iwae", 4), ("m_dreg", 4),
                                    ("m_dreg_looser", 4)])
def test_bf16_objectives_match_float64_on_the_same_samples(name, K):
    torch.manual_seed(0)
    model = MMVAE(MODS, latent_dim=20, nets=[NetSpec("conv", fbase=8)] * 2).to(memory_format=torch.channels_last)
    accelerate(model)
    xs = [torch.rand(16, 1, 28, 28), torch.rand(16, 3, 32, 32)]
    info = OBJECTIVES.get(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(xs, K=K, decodes=info.decodes)
    assert all(q.loc.dtype == torch.float32 and q.scale.dtype == torch.float32 for q in out.posteriors)
    assert all(z.dtype == torch.float32 for z in out.samples)
    got = info.fn(out, xs)
    want = info.fn(_float64(out), [x.double() for x in xs])
    per_pair = (got.value.double() - want.value).abs() / len(xs[0])
    assert per_pair <= 0.05, f"{name}: {float(per_pair):.4f} nats per pair"
    got.training_loss.backward()  # and the gradient flows back into the bf16 networks
    assert all(p.grad is not None for p in model.experts[0].encoder.parameters())
