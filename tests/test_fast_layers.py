"""The faster conv-net routes compute what the plain PyTorch layers compute, values and gradients."""
import copy

import pytest
import torch
from torch import nn

from mmvae.allocator import tune_allocator
from mmvae.models import MMVAE, ModalitySpec
from mmvae.models.expert import Expert
from mmvae.nets import AnyOrderDecoder, NetSpec, accelerate, plain
from mmvae.nets.accelerate import is_accelerated
from mmvae.nets.fast_layers import (
    dense_heads,
    grid_from_latent,
    phase_order,
    subpixel_applies,
    subpixel_phases,
    upsample_subpixel,
)
from mmvae.objectives import OBJECTIVES

LAYOUTS = [torch.contiguous_format, torch.channels_last]


def _grads(out, inputs, seed=0):
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    return torch.autograd.grad(out, inputs, g)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c_out,side", [(1, 14), (3, 16), (2, 5)])
def test_subpixel_upsample_matches_transposed_conv(layout, c_out, side):
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(8, c_out, 4, 2, 1).to(memory_format=layout)
    x = torch.randn(6, 8, side, side).contiguous(memory_format=layout).requires_grad_()
    assert subpixel_applies(x, layer)
    ref, out = layer(x), upsample_subpixel(x, layer)
    assert out.shape == ref.shape == (6, c_out, 2 * side, 2 * side)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    params = [x, layer.weight, layer.bias]
    for a, b in zip(_grads(out, params), _grads(ref, params)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_subpixel_route_only_for_its_shape():
    x = torch.randn(2, 8, 5, 5)
    assert not subpixel_applies(x, nn.ConvTranspose2d(8, 3, 3, 2, 1))  # 3×3 kernel
    assert not subpixel_applies(x, nn.ConvTranspose2d(8, 32, 4, 2, 1))  # wide output: oneDNN is fast
    assert not subpixel_applies(x, nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False))
    assert not subpixel_applies(x.double(), nn.ConvTranspose2d(8, 3, 4, 2, 1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not subpixel_applies(x, nn.ConvTranspose2d(8, 3, 4, 2, 1))


def test_phase_order_is_the_pixel_order_of_subpixel_phases():
    torch.manual_seed(1)
    layer = nn.ConvTranspose2d(8, 3, 4, 2, 1).to(memory_format=torch.channels_last)
    x = torch.randn(4, 8, 6, 6).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(subpixel_phases(x, layer), phase_order(layer(x)), rtol=1e-5, atol=1e-5)
    images = torch.arange(2 * 3 * 4 * 4.0).view(2, 3, 4, 4)
    permuted = phase_order(images)
    assert permuted.shape == images.shape
    assert torch.equal(permuted.flatten(1).sort(1).values, images.flatten(1))  # a permutation
    assert not torch.equal(permuted, images)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_dense_heads_match_full_extent_convolutions(layout):
    torch.manual_seed(2)
    heads = [nn.Conv2d(16, 5, 3, 1, 0), nn.Conv2d(16, 7, 3, 1, 0)]
    heads = [h.to(memory_format=layout) for h in heads]
    h = torch.randn(4, 16, 3, 3).contiguous(memory_format=layout).requires_grad_()
    outs = dense_heads(h, heads)
    refs = [c(h).flatten(1) for c in heads]
    for out, ref in zip(outs, refs):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    params = [h] + [p for c in heads for p in c.parameters()]
    for a, b in zip(_grads(torch.cat(outs, 1), params), _grads(torch.cat(refs, 1), params)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_grid_from_latent_matches_transposed_conv_of_a_pixel():
    torch.manual_seed(3)
    layer = nn.ConvTranspose2d(6, 10, 4, 1, 0)
    z = torch.randn(5, 6, requires_grad=True)
    out, ref = grid_from_latent(z, layer), layer(z.view(5, 6, 1, 1))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    params = [z, layer.weight, layer.bias]
    for a, b in zip(_grads(out, params), _grads(ref, params)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_log_likelihood_in_any_pixel_order_equals_image_order(shape):
    torch.manual_seed(4)
    model = MMVAE([ModalitySpec("m", shape)], latent_dim=6, family="Laplace", nets=[NetSpec("conv", fbase=8)])
    model = accelerate(model.to(memory_format=torch.channels_last)).eval()
    assert isinstance(model.decoder_network(0), AnyOrderDecoder)
    z, x = torch.randn(7, 4, 6), torch.rand(4, *shape)
    with torch.inference_mode():
        ref = model.likelihoods[0].log_prob(x, model.decode(z, 0))
        out = model.log_likelihood(z, 0, x)
    assert out.shape == (7, 4)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("arch", ["conv", "fc"])
def test_accelerate_keeps_parameters_and_computes_the_same(arch, monkeypatch):
    """The fast routes are one explicit step on a built model: same parameters and state-dict
    keys, the same objective value and gradients; ``plain`` reverts it."""
    from mmvae.nets import fast_layers

    monkeypatch.setattr(fast_layers, "ONEDNN_LINEAR", True)  # the AMD route too, on any CPU
    torch.manual_seed(8)
    mods = [ModalitySpec("mnist", (1, 28, 28)), ModalitySpec("svhn", (3, 32, 32))]
    spec = NetSpec(arch, hidden_dims=[256], fbase=8)
    ref = MMVAE(mods, latent_dim=5, nets=[spec, spec]).to(memory_format=torch.channels_last)
    fast = copy.deepcopy(ref)
    params_before = [id(p) for p in fast.parameters()]
    accelerate(fast)
    assert [id(p) for p in fast.parameters()] == params_before
    assert list(fast.state_dict()) == list(ref.state_dict())
    assert is_accelerated(fast) and not is_accelerated(ref)
    xs = [torch.rand(6, 1, 28, 28), torch.rand(6, 3, 32, 32)]
    info = OBJECTIVES.get("m_elbo_naive")
    results = []
    for model in (ref, fast):
        torch.manual_seed(9)
        res = info.fn(model(xs, K=2), xs)
        res.training_loss.backward()
        results.append((res.value.detach(), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-5, atol=1e-3)
    for a, b in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
    assert not is_accelerated(plain(fast))


def test_allocator_tuning_applies_on_glibc_and_can_be_turned_off(monkeypatch):
    import platform

    monkeypatch.setenv("MMVAE_MALLOC_TUNING", "0")
    assert tune_allocator() is False
    monkeypatch.delenv("MMVAE_MALLOC_TUNING")
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert tune_allocator() is expected


@pytest.mark.parametrize("n_in,n_out", [(400, 784), (784, 400), (20, 400)])
def test_fast_linear_matches_linear(n_in, n_out, monkeypatch):
    from mmvae.nets import fast_layers
    from mmvae.nets.fast_layers import FastLinear, linear_heads

    monkeypatch.setattr(fast_layers, "ONEDNN_LINEAR", True)  # the AMD route, on any CPU
    torch.manual_seed(5)
    fast = FastLinear(n_in, n_out)
    plain = nn.Linear(n_in, n_out)
    plain.load_state_dict(fast.state_dict())  # same parameters, same state-dict keys
    x = torch.randn(2, 16, n_in, requires_grad=True)
    out, ref = fast(x), plain(x)
    assert out.shape == (2, 16, n_out)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-4)
    for a, b in zip(_grads(out, [x, fast.weight, fast.bias]), _grads(ref, [x, plain.weight, plain.bias])):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)
    heads = [nn.Linear(n_in, 3), nn.Linear(n_in, 5)]
    outs = linear_heads(x, heads)
    for o, head in zip(outs, heads):
        torch.testing.assert_close(o, head(x), rtol=1e-5, atol=1e-4)


def test_onednn_linear_route_is_chosen_by_vendor_or_forced(monkeypatch):
    from mmvae.nets import fast_layers

    monkeypatch.setattr(fast_layers, "_cpu_vendor", lambda: "AuthenticAMD")
    assert fast_layers._prefer_onednn_linear() is True
    monkeypatch.setattr(fast_layers, "_cpu_vendor", lambda: "GenuineIntel")
    assert fast_layers._prefer_onednn_linear() is False
    monkeypatch.setenv("MMVAE_ONEDNN_LINEAR", "1")
    assert fast_layers._prefer_onednn_linear() is True
    monkeypatch.setenv("MMVAE_ONEDNN_LINEAR", "0")
    monkeypatch.setattr(fast_layers, "_cpu_vendor", lambda: "AuthenticAMD")
    assert fast_layers._prefer_onednn_linear() is False
    x, w = torch.randn(4, 400), torch.randn(784, 400)
    monkeypatch.setattr(fast_layers, "ONEDNN_LINEAR", False)
    assert not fast_layers._onednn_applies(x, w)
    monkeypatch.setattr(fast_layers, "ONEDNN_LINEAR", True)
    assert fast_layers._onednn_applies(x, w) == (torch.backends.mkldnn.is_available()
                                                 and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


@pytest.mark.integration
def test_networks_compile_with_torch_compile():
    """The fast routes step aside under torch.compile (``--compile``), which then works."""
    torch.manual_seed(6)
    experts = [Expert(ModalitySpec("a", (1, 28, 28)), 4, NetSpec("fc", [128]), "exp"),
               Expert(ModalitySpec("b", (3, 32, 32)), 4, NetSpec("conv", fbase=4), "exp")]
    for expert in experts:
        expert = accelerate(expert.to(memory_format=torch.channels_last))
        x = torch.rand(3, *expert.spec.shape)

        def loss(e, x=x):
            loc, raw = e.encoder(x)
            return (e.decode(loc + raw.exp()) - x).square().sum()

        eager_value = loss(expert)
        compiled_value = torch.compile(loss)(expert)
        compiled_value.backward()
        torch.testing.assert_close(compiled_value, eager_value, rtol=1e-4, atol=1e-3)
        assert all(p.grad is not None for p in expert.parameters())


@pytest.mark.parametrize("layer", [nn.Conv2d(8, 16, 4, 2, 1), nn.ConvTranspose2d(16, 8, 3, 2, 1),
                                   nn.ConvTranspose2d(16, 8, 4, 2, 1)])
def test_conv_with_bias_added_apart_matches_the_layer(layer):
    from mmvae.nets.fast_layers import conv_bias_apart

    torch.manual_seed(7)
    layer = layer.to(memory_format=torch.channels_last)
    x = torch.randn(5, layer.in_channels, 7, 7).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    out, ref = conv_bias_apart(x, layer), layer(x)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    params = [x, layer.weight, layer.bias]
    for a, b in zip(_grads(out, params), _grads(ref, params)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,objective", [("mmvae", "m_iwae_looser"), ("mvae", "mvae_elbo"),
                                            ("mopoe", "mopoe_elbo")])
def test_accelerated_training_step_equals_the_plain_model(name, objective):
    """The fast training path (biases apart, the first layer as a product and its ReLU out of
    place, the sub-pixel last layer) gives the plain model's objective and gradients, with the
    default conv nets and channels_last, for each aggregation."""
    from mmvae.config import ModelConfig
    from mmvae.models import build_model

    mods = [ModalitySpec(f"m{i}", (3, 28, 28)) for i in range(3)]
    torch.manual_seed(3)
    cfg = ModelConfig(model=name, latent_dim=6, nets={m.name: NetSpec("conv", fbase=4) for m in mods})
    ref = build_model(cfg, mods).to(memory_format=torch.channels_last)
    fast = accelerate(copy.deepcopy(ref))
    xs = [torch.rand(5, 3, 28, 28).contiguous(memory_format=torch.channels_last) for _ in mods]
    info = OBJECTIVES.get(objective)
    results = []
    for model in (ref, fast):
        torch.manual_seed(4)
        res = info.fn(model(xs, K=2, decodes=info.decodes), xs)
        if model is fast:  # the fast routes are the ones taken
            assert "_SubPixelUpsampleBackward" in _graph_nodes(res.training_loss)
        res.training_loss.backward()
        results.append((res.value.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (value_ref, grads_ref), (value_fast, grads_fast) = results
    assert is_accelerated(fast) and not is_accelerated(ref)
    torch.testing.assert_close(value_fast, value_ref, rtol=1e-6, atol=1e-4)
    assert len(grads_fast) == len(grads_ref)
    for a, b in zip(grads_fast, grads_ref):  # tolerance scaled to each parameter's gradient
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


def _graph_nodes(t: torch.Tensor) -> set[str]:
    """Names of the autograd nodes behind t."""
    seen, todo, names = set(), [t.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        todo.extend(f for f, _ in node.next_functions)
    return names


def test_double_backward_through_the_fast_routes_equals_the_plain_model():
    """A gradient penalty (backward of a gradient built with create_graph) works through the
    fast routes' hand-written backwards and gives the plain model's gradients."""
    mods = [ModalitySpec("a", (3, 28, 28)), ModalitySpec("b", (3, 28, 28))]
    torch.manual_seed(6)
    ref = MMVAE(mods, latent_dim=4, nets=[NetSpec("conv", fbase=4)] * 2).to(memory_format=torch.channels_last)
    fast = accelerate(copy.deepcopy(ref))
    xs = [torch.rand(3, 3, 28, 28) for _ in mods]
    info = OBJECTIVES.get("m_iwae")
    grads = []
    for model in (ref, fast):
        torch.manual_seed(7)
        params = [p for p in model.parameters() if p.requires_grad]
        loss = info.fn(model(xs, K=1, decodes=info.decodes), xs).training_loss
        first = torch.autograd.grad(loss, params, create_graph=True)
        penalty = sum(g.square().sum() for g in first)
        grads.append(torch.autograd.grad(penalty, params))
    for a, b in zip(grads[1], grads[0]):
        torch.testing.assert_close(a, b, rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 64, 64), (1, 40, 30)])
def test_decoder_means_in_pixel_order_differentiate_like_the_image_order(shape):
    """forward_any_order (the sub-pixel phases where they apply) has the gradients of the plain
    decoder's images put in the same order, for the seed's 28×28 decoder and mirrored ones."""
    torch.manual_seed(8)
    ref = Expert(ModalitySpec("a", shape), 5, NetSpec("conv", fbase=4), "softplus").decoder
    fast = accelerate(copy.deepcopy(ref).to(memory_format=torch.channels_last))
    z = torch.randn(6, 5, requires_grad=True)
    means, order = fast.forward_any_order(z)
    if shape[1:] == (28, 28):
        assert order is phase_order
    ref_means = order(ref(z))
    torch.testing.assert_close(means, ref_means, rtol=1e-4, atol=1e-5)
    inputs = [z, *ref.parameters()]
    g_ref = _grads(ref_means, inputs, seed=1)
    g_fast = _grads(means, [z, *fast.parameters()], seed=1)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())
