"""Network variants have the parameter counts of the seed's (seed-spec §2.2, verified there);
conv nets of other sizes, the automatic choice per modality and its fast routes."""
import copy

import pytest
import torch

from mmvae.models import MMVAE, ModalitySpec
from mmvae.nets import accelerate, auto_spec, build_networks
from mmvae.nets.accelerate import is_accelerated
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


# ---------------------------------------------------------------- conv nets of any size, auto choice


@pytest.mark.parametrize("shape,fbase,enc,dec", [
    ((1, 28, 28), 16, 64_408, 47_473), ((1, 28, 28), 32, 210_696, 148_193), ((1, 28, 28), 64, 749_032, 509_377),
    ((3, 32, 32), 16, 82_840, 62_323), ((3, 32, 32), 32, 247_560, 206_563), ((3, 32, 32), 64, 822_760, 740_803),
])
def test_conv_28_and_32_keep_the_seed_parameters(shape, fbase, enc, dec):
    e, d = build_networks(shape, 20, NetSpec("conv", fbase=fbase))
    assert (_count(e), _count(d)) == (enc, dec)
    assert [k for k in d.state_dict() if k.endswith("weight")] == [f"net.{i}.weight" for i in (0, 2, 4, 6)]


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 28, 64), (2, 40, 30), (1, 29, 29), (3, 100, 33)])
def test_conv_any_size_from_28_decodes_the_input_size(shape):
    e, d = build_networks(shape, 6, NetSpec("conv", fbase=4))
    loc, raw = e(torch.rand(3, *shape))
    assert loc.shape == raw.shape == (3, 6)
    assert d(torch.randn(5, 6)).shape == (5, *shape)


def test_conv_64_halves_four_times_and_mirrors():
    e, d = build_networks((3, 64, 64), 6, NetSpec("conv", fbase=8))
    convs = [m for m in e.trunk if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64] and e.loc.kernel_size == (4, 4)
    ups = [m for m in d.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [64, 32, 16, 8, 3]


def test_conv_refuses_images_below_28():
    from mmvae.errors import ConfigError

    with pytest.raises(ConfigError, match="from 28×28 up, not 16×40.*'fc'"):
        build_networks((1, 16, 40), 4, NetSpec("conv"))


@pytest.mark.parametrize("shape,arch", [((1, 8, 8), "fc"), ((3, 27, 64), "fc"), ((1, 28, 28), "conv"),
                                        ((3, 32, 32), "conv"), ((3, 64, 48), "conv")])
def test_auto_spec_fc_for_small_images_conv_from_28(shape, arch):
    spec = auto_spec(shape)
    assert spec.arch == arch
    assert spec == (NetSpec("conv") if arch == "conv" else NetSpec("fc", [400]))


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 40, 30)])
def test_accelerated_model_of_other_sizes_computes_the_plain_one(shape):
    torch.manual_seed(0)
    ref = MMVAE([ModalitySpec("a", shape), ModalitySpec("b", (1, 8, 8))], latent_dim=5,
                nets=[NetSpec("conv", fbase=4), auto_spec((1, 8, 8))]).eval()
    fast = accelerate(copy.deepcopy(ref).to(memory_format=torch.channels_last))
    assert is_accelerated(fast)
    xs, z = [torch.rand(6, *shape), torch.rand(6, 1, 8, 8)], torch.randn(6, 5)
    with torch.no_grad():
        for m in range(2):
            q_ref, q_fast = ref.encode(xs[m], m).shared, fast.encode(xs[m], m).shared
            torch.testing.assert_close(q_ref.loc, q_fast.loc, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(q_ref.scale, q_fast.scale, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(ref.decode(z, m), fast.decode(z, m), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(ref.log_likelihood(z[:, None].expand(6, 6, 5), m, xs[m]),
                                       fast.log_likelihood(z[:, None].expand(6, 6, 5), m, xs[m]), rtol=1e-4, atol=1e-3)


def test_network_specs_fall_back_to_the_automatic_choice_and_refuse_stray_entries():
    from mmvae.config import ModelConfig
    from mmvae.errors import ConfigError
    from mmvae.models.build import check_network_names, network_specs

    cfg = ModelConfig()  # the default entries: mnist and svhn conv
    mods = [ModalitySpec("photo", (3, 64, 64)), ModalitySpec("mnist", (1, 28, 28)), ModalitySpec("tiny", (1, 8, 8))]
    cfg.nets["mnist"].arch = "fc"
    assert [s.arch for s in network_specs(cfg, mods)] == ["conv", "fc", "fc"]
    check_network_names(cfg, [m.name for m in mods])  # svhn: an untouched default entry, ignored
    cfg.nets["svhn"].fbase = 16  # e.g. --fBase 16 on data without an svhn modality
    with pytest.raises(ConfigError, match="model.nets.svhn .*modalities are photo, mnist, tiny"):
        check_network_names(cfg, [m.name for m in mods])
    cfg.nets = {"phot": NetSpec("fc")}
    with pytest.raises(ConfigError, match=r"'phot'.*--set model.nets.photo.arch=fc"):
        check_network_names(cfg, [m.name for m in mods])


def test_set_path_creates_the_nets_entry_of_a_new_modality():
    from mmvae.config import RunConfig, set_path

    cfg = RunConfig()
    set_path(cfg, "model.nets.photo.arch", "fc")
    set_path(cfg, "model.nets.photo.hidden_dims", [64])
    assert cfg.model.nets["photo"] == NetSpec("fc", [64])
