"""MultiVae 1.0.3's MMVAE, MVAE and MoPoE built with the same networks and distributions as ours
(benchmark only).

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

from mmvae.nets import plain


def import_multivae():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import multivae  # noqa: F401
    from multivae.data.datasets.base import MultimodalBaseDataset
    from multivae.models import MMVAE, MMVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    return MMVAE, MMVAEConfig, MultimodalBaseDataset, ModelOutput, BaseEncoder, BaseDecoder


def wrapped_networks(our_model, plain: bool):
    """(encoders, decoders) dicts of pythae modules around copies of our experts' networks:
    mmvae's modules as they are, or with ``plain`` their stock-PyTorch versions."""
    _, _, _, ModelOutput, BaseEncoder, BaseDecoder = import_multivae()

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

    wrap = plain_copy if plain else copy.deepcopy
    names = our_model.names
    return ({n: Enc(wrap(e.encoder)) for n, e in zip(names, our_model.experts)},
            {n: Dec(wrap(e.decoder)) for n, e in zip(names, our_model.experts)})


def multivae_model(kind: str, our_model, plain: bool = True, random_subsets: int = 1):
    """MultiVae's MVAE (``kind`` poe) or MoPoE (``mopoe``) with our networks and Normal likelihoods
    of our scale and scalings."""
    import_multivae()
    from multivae.models import MVAE, MoPoE, MoPoEConfig, MVAEConfig

    names = our_model.names
    common = dict(n_modalities=len(names), latent_dim=our_model.latent_dim,
                  input_dims={n: tuple(s) for n, s in zip(names, our_model.shapes)},
                  uses_likelihood_rescaling=True,
                  rescale_factors={n: lk.llik_scaling for n, lk in zip(names, our_model.likelihoods)},
                  decoders_dist={n: "normal" for n in names},
                  decoder_dist_params={n: {"scale": our_model.likelihoods[0].scale} for n in names})
    encoders, decoders = wrapped_networks(our_model, plain)
    if kind == "poe":  # no KL warm-up: the same objective as ours at every step
        return MVAE(MVAEConfig(**common, use_subsampling=True, k=random_subsets, warmup=0), encoders, decoders)
    return MoPoE(MoPoEConfig(**common), encoders, decoders)


def plain_copy(net: nn.Module) -> nn.Module:
    """A copy of an mmvae network as a user would run it: the same stock PyTorch layers and
    weights, without mmvae's fast routes (:func:`mmvae.nets.plain`)."""
    return plain(copy.deepcopy(net))


def check_plain(net: nn.Module, x: torch.Tensor) -> None:
    """Fails unless the plain version of ``net`` computes what ``net`` does."""
    with torch.no_grad():
        ours, stock = net(x), plain_copy(net)(x)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), stock if isinstance(stock, tuple) else (stock,)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def multivae_mmvae(our_model, loss: str, K: int, learn_prior: bool = False, plain: bool = False):
    """A MultiVae MMVAE whose encoders/decoders are copies of our experts' networks: mmvae's
    modules as they are, or with ``plain`` their stock-PyTorch versions (:func:`plain_copy`)."""
    MMVAE, MMVAEConfig, *_ = import_multivae()
    names = our_model.names
    shapes = {n: tuple(s) for n, s in zip(names, our_model.shapes)}
    dist = "laplace_with_softmax" if our_model.family.name == "Laplace" else "normal"
    lik = "laplace" if our_model.family.name == "Laplace" else "normal"
    cfg = MMVAEConfig(
        n_modalities=len(names), latent_dim=our_model.latent_dim, input_dims=shapes,
        uses_likelihood_rescaling=True,
        rescale_factors={n: lk.llik_scaling for n, lk in zip(names, our_model.likelihoods)},
        decoders_dist={n: lik for n in names}, decoder_dist_params={n: {"scale": 0.75} for n in names},
        K=K, prior_and_posterior_dist=dist, learn_prior=learn_prior, loss=loss,
    )
    return MMVAE(cfg, *wrapped_networks(our_model, plain))


def multivae_step_fn(model, names):
    """(xs) -> loss tensor for a MultiVae model."""
    _, _, MultimodalBaseDataset, *_ = import_multivae()

    def step(xs):
        batch = MultimodalBaseDataset(data=dict(zip(names, xs)), labels=torch.zeros(len(xs[0]), dtype=torch.long))
        return model(batch).loss

    return step


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
