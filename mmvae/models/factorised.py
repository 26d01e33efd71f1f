"""The factorised model: a shared MMVAE plus a private latent per modality.

``decoder='separate'`` is the seed's ``fummvae``: a private unimodal VAE per modality next to a
complete MMVAE, sharing nothing but the loss. ``decoder='joint'`` is the MMVAE+-style
architecture: each modality's decoder reads [z_shared, z_private]; self-reconstruction uses the
modality's own private posterior sample, cross-reconstruction d←r uses the shared sample of r with
a private latent drawn from the prior, so whatever d needs from r must be in the shared latent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..distributions import DiagDist
from ..errors import ConfigError
from ..nets import NetSpec
from .build import model_settings, network_specs
from .contract import Encoding, MultimodalVAE
from .mmvae import MMVAE
from .modality import ModalitySpec
from .output import ForwardOutput
from .registry import ModelInfo, register_model


@dataclass
class FactorisedOutput:
    """``shared``: the MMVAE part (decodes already include private latents in joint mode);
    ``private[m]``: modality m's private VAE (one modality; decodes only in separate mode)."""

    shared: ForwardOutput
    private: list[ForwardOutput]
    joint_decoder: bool
    critics: nn.ModuleList | None = None

    @property
    def M(self) -> int:
        return self.shared.M

    @property
    def names(self) -> list[str]:
        return self.shared.names


class ClubCritic(nn.Module):
    """q_ψ(z_shared | z_private) = Normal(μ(z_pr), σ(z_pr)) for the CLUB upper bound."""

    def __init__(self, private_dim: int, shared_dim: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(private_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * shared_dim))

    def forward(self, z_private: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_var = self.net(z_private).chunk(2, -1)
        return mu, log_var.clamp(-10, 10)


class FactorisedMMVAE(MultimodalVAE):
    """Shared MMVAE (latent D) + per-modality private latents (D_p), trained jointly."""

    optional_parameters = True  # the CLUB critics are used by the fission objective only

    def __init__(self, modalities: Sequence[ModalitySpec], latent_dim: int = 20, private_latent_dim: int = 20,
                 family: str = "Normal", scale_param: str | None = None, learn_prior: bool = False,
                 decoder_scale: float = 0.75, llik_scalings: Sequence[float] | None = None,
                 nets: Sequence[NetSpec] | None = None, decoder: str = "separate", likelihood: str | None = None):
        if private_latent_dim < 1:
            raise ConfigError(f"private_latent_dim must be at least 1, got {private_latent_dim}.")
        super().__init__(modalities, latent_dim, [private_latent_dim] * len(modalities))
        nets = list(nets) if nets is not None else [NetSpec() for _ in modalities]
        self.joint_decoder = decoder == "joint"
        common = dict(family=family, scale_param=scale_param, learn_prior=learn_prior, decoder_scale=decoder_scale,
                      likelihood=likelihood)
        self.shared = MMVAE(modalities, latent_dim, llik_scalings=llik_scalings, nets=nets,
                            decoder_latent_dim=latent_dim + private_latent_dim if self.joint_decoder else None,
                            **common)
        self.private = nn.ModuleList(
            MMVAE([m], private_latent_dim, llik_scalings=[1.0], nets=[n], **common) for m, n in zip(modalities, nets))
        if self.joint_decoder:  # private parts keep encoder + prior; decoding is the shared decoders'
            for p in self.private:
                p.experts[0].decoder = None
        self.critics = nn.ModuleList(ClubCritic(private_latent_dim, latent_dim) for _ in modalities)
        self.likelihoods = self.shared.likelihoods

    @property
    def kind(self) -> str:
        return "factorised"

    @property
    def likelihood_defined(self) -> bool:
        return not self.joint_decoder  # joint decoders need the private latent too

    @property
    def private_in_decoder(self) -> bool:
        return self.joint_decoder

    # ------------------------------------------------------------------ the contract

    def encode(self, x: Tensor, m: int) -> Encoding:
        return Encoding(self.shared.encode(x, m).shared, self.private[m].encode(x, 0).shared)

    def decode(self, z: Tensor, m: int, w: Tensor | None = None) -> Tensor:
        """Separate decoders read z alone (``w`` is ignored: the private VAE has its own decoder);
        joint decoders read [z, w], with w ~ p(w_m) when not given."""
        if not self.joint_decoder:
            return self.shared.decode(z, m)
        if w is None:
            w = self.private_prior(m).sample_batch(z.shape[:-1])
        return self.shared.experts[m].decode(torch.cat([z, w], -1))

    def decoder_network(self, m: int) -> nn.Module | None:
        return None if self.joint_decoder else self.shared.experts[m].decoder

    def prior(self) -> DiagDist:
        return self.shared.prior()

    def private_prior(self, m: int) -> DiagDist:
        return self.private[m].prior()

    def joint_posterior(self, encodings: Mapping[int, Encoding]):
        return self.shared.joint_posterior(encodings)

    def upgrade_state_dict(self, state: dict) -> dict:
        return self.shared.upgrade_state_dict(state)

    # ------------------------------------------------------------------ training forward

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> FactorisedOutput:
        if not self.joint_decoder:
            shared = self.shared(xs, K=K, decodes=decodes)
            private = [p([x], K=K, decodes="all") for p, x in zip(self.private, xs)]
            return FactorisedOutput(shared, private, False, self.critics)
        self.check_batch(xs)
        private = [p([x], K=K, decodes="none") for p, x in zip(self.private, xs)]
        posts = [e.shared for e in self.shared.encode_all(xs)]
        samples = [q.rsample(K) for q in posts]
        out = {}
        for r, d in self.shared.pairs(decodes):
            w = private[d].samples[0] if r == d else self.private_prior(d).sample_batch(samples[r].shape[:-1])
            out[(r, d)] = self.shared.experts[d].decode(torch.cat([samples[r], w], -1))
        shared = ForwardOutput(posts, samples, out, self.shared.prior(), self.shared.likelihoods, self.names)
        return FactorisedOutput(shared, private, True, self.critics)


@dataclass
class FactorisedOptions:
    """Options of the factorised model (``model.options``)."""

    decoder: Literal["separate", "joint"] = "separate"  # joint: decoders read [shared, private]


def build_factorised(cfg, modalities: list[ModalitySpec], options: FactorisedOptions) -> FactorisedMMVAE:
    return FactorisedMMVAE(modalities, nets=network_specs(cfg, modalities),
                           private_latent_dim=cfg.private_latent_dim or cfg.latent_dim,
                           decoder=options.decoder, **model_settings(cfg, modalities))


register_model(ModelInfo(
    "fummvae", build_factorised, kind="factorised", options=FactorisedOptions,
    description="factorised MMVAE: shared MMVAE latent + a private latent per modality"))
