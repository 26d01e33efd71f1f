"""MultiVae 1.0.3's MMVAE built with the same networks and distributions as ours (benchmark only).

MultiVae needs torchvision only for datasets and image utilities; where the installed
torchvision wheel cannot load its operators (CUDA build on a CPU machine), a stub module lets the
import proceed, and everything timed is MultiVae's own code.
"""
from __future__ import annotations

import copy
import sys
import types

import torch
from torch import nn

from mmvae.distributions import ETA
from mmvae.nets.conv import ConvDecoder, ConvEncoder
from mmvae.nets.fc import FCDecoder, FCEncoder


def import_multivae():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import multivae  # noqa: F401
    from multivae.data.datasets.base import MultimodalBaseDataset
    from multivae.models import MMVAE, MMVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    return MMVAE, MMVAEConfig, MultimodalBaseDataset, ModelOutput, BaseEncoder, BaseDecoder


def _plain_layers(module: nn.Module) -> nn.Module:
    """``module`` with its FastLinear layers swapped, in place, for plain ``nn.Linear`` (same weights)."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear) and type(child) is not nn.Linear:
            plain = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
            plain.load_state_dict(child.state_dict())
            setattr(module, name, plain)
        else:
            _plain_layers(child)
    return module


class PlainNet(nn.Module):
    """An mmvae encoder or decoder run as a user would write it with stock PyTorch modules:
    the same layers and weights, each called through its own ``forward`` (no fast routes)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.kind = type(net)
        self.net = _plain_layers(copy.deepcopy(net))

    def forward(self, x):
        n = self.net
        if self.kind is ConvEncoder:
            h = n.trunk(x)
            return n.loc(h).flatten(1), n.raw_scale(h).flatten(1)
        if self.kind is ConvDecoder:
            return torch.sigmoid(n.net(x.reshape(-1, n.latent_dim, 1, 1)))
        if self.kind is FCEncoder:
            h = n.trunk(x.flatten(1))
            return n.loc(h), n.raw_scale(h)
        if self.kind is FCDecoder:
            return torch.sigmoid(n.out(n.trunk(x))).clamp(ETA, 1 - ETA).view(-1, *n.shape)
        raise TypeError(f"no plain version of {self.kind.__name__}")


def check_plain(net: nn.Module, x: torch.Tensor) -> None:
    """Fails unless the plain version of ``net`` computes what ``net`` does."""
    with torch.no_grad():
        ours, plain = net(x), PlainNet(net)(x)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), plain if isinstance(plain, tuple) else (plain,)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def multivae_mmvae(our_model, loss: str, K: int, learn_prior: bool = False, plain: bool = False):
    """A MultiVae MMVAE whose encoders/decoders are copies of our experts' networks: mmvae's
    modules as they are, or with ``plain`` their stock-PyTorch versions (:class:`PlainNet`)."""
    MMVAE, MMVAEConfig, _, ModelOutput, BaseEncoder, BaseDecoder = import_multivae()

    class Enc(BaseEncoder):
        def __init__(self, net):
            BaseEncoder.__init__(self)
            self.net = net

        def forward(self, x):
            loc, raw = self.net(x)
            return ModelOutput(embedding=loc, log_covariance=raw)

    class Dec(BaseDecoder):
        def __init__(self, net):
            BaseDecoder.__init__(self)
            self.net = net

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z))

    names = our_model.names
    shapes = {e.spec.name: tuple(e.spec.shape) for e in our_model.experts}
    dist = "laplace_with_softmax" if our_model.family.name == "Laplace" else "normal"
    lik = "laplace" if our_model.family.name == "Laplace" else "normal"
    cfg = MMVAEConfig(
        n_modalities=len(names), latent_dim=our_model.latent_dim, input_dims=shapes,
        uses_likelihood_rescaling=True,
        rescale_factors={n: lk.llik_scaling for n, lk in zip(names, our_model.likelihoods)},
        decoders_dist={n: lik for n in names}, decoder_dist_params={n: {"scale": 0.75} for n in names},
        K=K, prior_and_posterior_dist=dist, learn_prior=learn_prior, loss=loss,
    )
    wrap = PlainNet if plain else copy.deepcopy
    encoders = {n: Enc(wrap(e.encoder)) for n, e in zip(names, our_model.experts)}
    decoders = {n: Dec(wrap(e.decoder)) for n, e in zip(names, our_model.experts)}
    return MMVAE(cfg, encoders, decoders)


def multivae_step_fn(model, names):
    """(xs) -> loss tensor for a MultiVae model."""
    _, _, MultimodalBaseDataset, *_ = import_multivae()

    def step(xs):
        batch = MultimodalBaseDataset(data=dict(zip(names, xs)), labels=torch.zeros(len(xs[0]), dtype=torch.long))
        return model(batch).loss

    return step


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
