"""Network variants have the parameter counts of the seed's (seed-spec §2.2, verified there)."""
import pytest
import torch

from mmvae.nets import build_networks
from mmvae.nets.registry import NetSpec


def _count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("hidden,enc,dec", [
    ([512], 422_440, 412_944),
    ([1024, 512], 1_349_160, 948_496),
    ([1024, 512, 128], 1_399_464, 713_104),
])
def test_mnist_fc_variants(hidden, enc, dec):
    e, d = build_networks((1, 28, 28), 20, NetSpec("fc", hidden_dims=hidden))
    assert (_count(e), _count(d)) == (enc, dec)


def test_mirrored_decoder_reverses_widths():
    _, d = build_networks((1, 28, 28), 20, NetSpec("fc", hidden_dims=[1024, 512, 128], mirror_decoder=True))
    widths = [m.out_features for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [128, 512, 1024, 784]


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("fbase", [16, 32, 64])
def test_conv_shapes(shape, fbase):
    e, d = build_networks(shape, 20, NetSpec("conv", fbase=fbase))
    x = torch.rand(5, *shape)
    loc, raw = e(x)
    assert loc.shape == raw.shape == (5, 20)
    assert d(torch.randn(15, 20)).shape == (15, *shape)  # decoders take flat [N, D]


def test_svhn_fc():
    e, d = build_networks((3, 32, 32), 20, NetSpec("fc", hidden_dims=[400]))
    loc, _ = e(torch.rand(2, 3, 32, 32))
    assert loc.shape == (2, 20) and d(torch.randn(2, 20)).shape == (2, 3, 32, 32)
