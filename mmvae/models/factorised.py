"""The factorised model: a shared MMVAE plus a private latent per modality.

``decoder='separate'`` is the seed's ``fummvae``: a private unimodal VAE per modality next to a
complete MMVAE, sharing nothing but the loss. ``decoder='joint'`` is the MMVAE+-style
architecture: each modality's decoder reads [z_shared, z_private]; self-reconstruction uses the
modality's own private posterior sample, cross-reconstruction d←r uses the shared sample of r with
a private latent drawn from the prior, so whatever d needs from r must be in the shared latent.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import DiagDist
from ..nets import NetSpec
from .mmvae import MMVAE, evaluating
from .modality import ModalitySpec
from .output import ForwardOutput


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


class _JointDecoderView(nn.Module):
    """An expert whose decoder takes z_shared and fills the private half from the prior."""

    def __init__(self, expert, private_prior):
        super().__init__()
        self.expert, self.private_prior = expert, private_prior

    def decode(self, z: Tensor) -> Tensor:
        z_pr = self.private_prior().rsample(z[..., 0].numel())[:, 0].view(*z.shape[:-1], -1)
        return self.expert.decode(torch.cat([z, z_pr], -1))

    def posterior_params(self, x):
        return self.expert.posterior_params(x)


class SharedView:
    """The shared part as an MMVAE-like object for generation and coherence: encode → shared
    posteriors, decode(z_shared) (private latents from the prior in joint mode)."""

    def __init__(self, model: FactorisedMMVAE):
        self.model = model
        self.shared = model.shared
        if model.joint_decoder:
            self.experts = [_JointDecoderView(e, p.prior) for e, p in zip(model.shared.experts, model.private)]
        else:
            self.experts = list(model.shared.experts)

    names = property(lambda self: self.shared.names)
    M = property(lambda self: self.shared.M)
    likelihoods = property(lambda self: self.shared.likelihoods)

    def encode(self, xs):
        return self.shared.encode(xs)

    def prior(self):
        return self.shared.prior()

    def train(self, mode=True):
        self.model.train(mode)
        return self

    def eval(self):
        return self.train(False)

    @property
    def training(self):
        return self.model.training

    def parameters(self):
        return self.model.parameters()

    def joint_posterior_sample(self, xs):
        return self.shared.joint_posterior_sample(xs)

    @torch.no_grad()
    def generate(self, n: int) -> list[Tensor]:
        with evaluating(self.model):
            z = self.prior().rsample(n)[:, 0]
            return [e.decode(z) for e in self.experts]

    @torch.no_grad()
    def translate(self, x: Tensor, source: int, mean_latent: bool = False) -> list[Tensor]:
        with evaluating(self.model):
            q = DiagDist(self.shared.family, *self.shared.experts[source].posterior_params(x))
            z = q.loc if mean_latent else q.rsample(1)[0]
            return [e.decode(z) for e in self.experts]


class FactorisedMMVAE(nn.Module):
    """Shared MMVAE (latent D) + per-modality private latents (D_p), trained jointly."""

    def __init__(self, modalities: Sequence[ModalitySpec], latent_dim: int = 20, private_latent_dim: int = 20,
                 family: str = "Normal", scale_param: str | None = None, learn_prior: bool = False,
                 decoder_scale: float = 0.75, llik_scalings: Sequence[float] | None = None,
                 nets: Sequence[NetSpec] | None = None, decoder: str = "separate"):
        super().__init__()
        nets = list(nets) if nets is not None else [NetSpec() for _ in modalities]
        self.joint_decoder = decoder == "joint"
        common = dict(family=family, scale_param=scale_param, learn_prior=learn_prior, decoder_scale=decoder_scale)
        self.shared = MMVAE(modalities, latent_dim, llik_scalings=llik_scalings, nets=nets,
                            decoder_latent_dim=latent_dim + private_latent_dim if self.joint_decoder else None,
                            **common)
        self.private = nn.ModuleList(
            MMVAE([m], private_latent_dim, llik_scalings=[1.0], nets=[n], **common) for m, n in zip(modalities, nets))
        if self.joint_decoder:  # private parts keep encoder + prior; decoding is the shared decoders'
            for p in self.private:
                p.experts[0].decoder = None
        self.critics = nn.ModuleList(ClubCritic(private_latent_dim, latent_dim) for _ in modalities)

    @property
    def names(self) -> list[str]:
        return self.shared.names

    @property
    def M(self) -> int:
        return self.shared.M

    def view(self) -> SharedView:
        return SharedView(self)

    # the trainer's figure helpers and the evaluation suite use these
    def encode(self, xs):
        return self.shared.encode(xs)

    def prior(self):
        return self.shared.prior()

    def generate(self, n: int):
        return self.view().generate(n)

    @torch.no_grad()
    def reconstruct(self, xs) -> dict[tuple[int, int], Tensor]:
        with evaluating(self):
            out = self.forward(xs, K=1, decodes="all")
            return {k: v[0] for k, v in out.shared.decodes.items()}

    @property
    def iwae_model(self):
        """Likelihoods are estimated for the shared MMVAE (separate decoders only)."""
        return None if self.joint_decoder else self.shared

    def probe_encoders(self) -> dict:
        enc = {}
        for m, name in enumerate(self.names):
            enc[f"{name}_shared"] = lambda xs, m=m: self.shared.encode(xs)[m]
            enc[f"{name}_private"] = lambda xs, m=m: self.private[m].encode([xs[m]])[0]
        return enc

    def check_batch(self, xs) -> None:
        self.shared.check_batch(xs)

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> FactorisedOutput:
        if not self.joint_decoder:
            shared = self.shared(xs, K=K, decodes=decodes)
            private = [p([x], K=K, decodes="all") for p, x in zip(self.private, xs)]
            return FactorisedOutput(shared, private, False, self.critics)
        self.shared.check_batch(xs)
        private = [p([x], K=K, decodes="none") for p, x in zip(self.private, xs)]
        posts = self.shared.encode(xs)
        samples = [q.rsample(K) for q in posts]
        out = {}
        for r, d in self.shared.pairs(decodes):
            if r == d:
                z_pr = private[d].samples[0]
            else:
                z_pr = self.private[d].prior().rsample(K * samples[r].shape[1])[:, 0].view(K, -1, z_pr_dim(self))
            out[(r, d)] = self.shared.experts[d].decode(torch.cat([samples[r], z_pr], -1))
        shared = ForwardOutput(posts, samples, out, self.shared.prior(), self.shared.likelihoods, self.names)
        return FactorisedOutput(shared, private, True, self.critics)


def z_pr_dim(model: FactorisedMMVAE) -> int:
    return model.private[0].latent_dim
