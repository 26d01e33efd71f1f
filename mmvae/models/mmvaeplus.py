"""MMVAE+ (Palumbo, Daunhawer & Vogt, ICLR 2023): a mixture-of-experts MMVAE whose modalities
also have private latents w_m, with auxiliary priors that keep shared information out of them.

Per modality m: an encoder with separate branches (two networks) for the shared z_m and the
private w_m; a decoder reading [z, w]. Priors p(z), p(w) are fixed (zero location, unit scale);
each modality has an auxiliary prior r_m(w) with a learnable scale. In training,
self-reconstruction decodes [z_m, w_m] with the modality's own samples, and cross-reconstruction
d ← r decodes [z_r, w̃] with w̃ ~ r_d: what d needs from r must then be in the shared z_r, since
w̃ knows nothing of the item. ``variant='factorized'`` (MMVAE_f, the paper's ablation) uses the
target's own posterior sample w_d instead. At test time, generation with no private latent given
draws it from p(w), as the authors' code does.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..distributions import FAMILIES, DiagDist, PixelLikelihood, UniformMixture, scale_from_raw
from ..errors import ConfigError
from ..nets import NetSpec, build_networks
from .build import model_settings, network_specs
from .contract import Encoding, MultimodalVAE
from .expert import decode_grouped
from .modality import ModalitySpec
from .prior import Prior
from .registry import ModelInfo, register_model


class PlusExpert(nn.Module):
    """One modality's two encoder branches (shared z, private w) and its [z, w] decoder."""

    def __init__(self, spec: ModalitySpec, z_dim: int, w_dim: int, net: NetSpec, scale_param: str):
        super().__init__()
        self.spec, self.scale_param = spec, scale_param
        self.encoder_z = build_networks(spec.shape, z_dim, net)[0]
        self.encoder_w = build_networks(spec.shape, w_dim, net)[0]
        self.decoder = build_networks(spec.shape, z_dim + w_dim, net)[1]

    def posterior_params(self, x: Tensor, branch: nn.Module) -> tuple[Tensor, Tensor]:
        loc, raw = branch(x)
        return loc.float(), scale_from_raw(raw.float(), self.scale_param)

    def decode(self, z: Tensor, w: Tensor) -> Tensor:
        return self.decode_joint(torch.cat([z, w], -1))

    def decode_joint(self, u: Tensor) -> Tensor:
        """Means [..., C, H, W] at joint latents u = [z, w] of shape [..., D_z + D_w]."""
        lead = u.shape[:-1]
        return self.decoder(u.reshape(-1, u.shape[-1])).float().view(*lead, *self.spec.shape)


@dataclass
class PlusOutput:
    """What the MMVAE+ objectives read: per modality m the posteriors q(z|x_m), q(w|x_m), their
    K samples z[m], w[m] ([K, B, D]), and the decoder means decodes[(r, d)] of modality d
    from source r (self: [z_r, w_r]; cross: [z_r, w̃ ~ r_d], or [z_r, w_d] for MMVAE_f)."""

    qz: list[DiagDist]
    qw: list[DiagDist]
    z: list[Tensor]
    w: list[Tensor]
    decodes: dict[tuple[int, int], Tensor]
    prior_z: DiagDist
    prior_w: DiagDist
    likelihoods: list[PixelLikelihood]
    names: list[str]

    @property
    def M(self) -> int:
        return len(self.names)

    @property
    def K(self) -> int:
        return self.z[0].shape[0]

    def llik(self, r: int, d: int, x: Tensor) -> Tensor:
        """λ_d Σ_pixels log p_d(x_d | decode r→d), shape [K, B]."""
        lik = self.likelihoods[d]
        return lik.log_prob(x, self.decodes[(r, d)]) * lik.llik_scaling


class MMVAEPlus(MultimodalVAE):
    """MMVAE+ over any M ≥ 2 modalities (and its factorised ablation MMVAE_f)."""

    def __init__(self, modalities: Sequence[ModalitySpec], latent_dim: int = 32, private_latent_dim: int = 32,
                 family: str = "Laplace", scale_param: str | None = None, learn_prior: bool = False,
                 decoder_scale: float = 0.75, llik_scalings: Sequence[float] | None = None,
                 nets: Sequence[NetSpec] | None = None, variant: str = "mmvaeplus", likelihood: str | None = None):
        if private_latent_dim < 1:
            raise ConfigError(f"MMVAE+ needs private latents: private_latent_dim must be at least 1, got "
                              f"{private_latent_dim}. Set --private-latent-dim (the official PolyMNIST setting is 32).")
        if len(modalities) < 2:
            raise ConfigError("MMVAE+ needs at least two modalities.")
        super().__init__(modalities, latent_dim, [private_latent_dim] * len(modalities))
        if variant not in ("mmvaeplus", "factorized"):
            raise ConfigError(f"MMVAE+ variant must be mmvaeplus or factorized, got '{variant}'.")
        self.variant = variant
        # MMVAE_f cross-decodes with the targets' own w, so its auxiliary priors are never used
        self.optional_parameters = variant == "factorized"
        self.family = FAMILIES.get(family)
        self.scale_param = scale_param or self.family.default_scale_param
        nets = list(nets) if nets is not None else [NetSpec() for _ in modalities]
        self.experts = nn.ModuleList(PlusExpert(m, latent_dim, private_latent_dim, n, self.scale_param)
                                     for m, n in zip(self.modalities, nets))
        self.prior_z = Prior(latent_dim, self.family, self.scale_param, learn_prior)
        self.prior_w = Prior(private_latent_dim, self.family, self.scale_param, False)
        self.aux_priors = nn.ModuleList(Prior(private_latent_dim, self.family, self.scale_param, True)
                                        for _ in self.modalities)
        lams = list(llik_scalings) if llik_scalings is not None else [1.0] * self.M
        lik_family = FAMILIES.get(likelihood) if likelihood else self.family
        self.likelihoods = [PixelLikelihood(lik_family, decoder_scale, lam) for lam in lams]

    @property
    def kind(self) -> str:
        return "mmvaeplus"

    @property
    def likelihood_defined(self) -> bool:
        return False  # the decoders read the private latent too

    # ------------------------------------------------------------------ the contract

    def encode(self, x: Tensor, m: int) -> Encoding:
        e = self.experts[m]
        return Encoding(DiagDist(self.family, *e.posterior_params(x, e.encoder_z)),
                        DiagDist(self.family, *e.posterior_params(x, e.encoder_w)))

    def decode(self, z: Tensor, m: int, w: Tensor | None = None) -> Tensor:
        """Means of modality m at [z, w]; with no w, w ~ p(w) (test-time generation)."""
        if w is None:
            w = self.prior_w().sample_batch(z.shape[:-1])
        return self.experts[m].decode(z, w)

    def prior(self) -> DiagDist:
        return self.prior_z()

    def private_prior(self, m: int) -> DiagDist:
        return self.prior_w()

    def auxiliary_prior(self, m: int) -> DiagDist:
        """r_m(w): the prior of the private latent used for cross-reconstruction into m."""
        return self.aux_priors[m]()

    def joint_posterior(self, encodings: Mapping[int, Encoding]):
        qs = [encodings[m].shared for m in sorted(encodings)]
        return qs[0] if len(qs) == 1 else UniformMixture(qs)

    # ------------------------------------------------------------------ training forward

    def cross_private(self, d: int, w: list[Tensor], lead: torch.Size) -> Tensor:
        """The private latent decoded with another modality's z into d: w̃ ~ r_d (MMVAE+) or the
        target's own posterior sample w_d (MMVAE_f)."""
        return w[d] if self.variant == "factorized" else self.auxiliary_prior(d).sample_batch(lead)

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> PlusOutput:
        self.check_batch(xs)
        encs = self.encode_all(xs)
        z = [e.shared.rsample(K) for e in encs]
        w = [e.private.rsample(K) for e in encs]
        by_decoder: dict[int, list] = {}
        for r in range(self.M):
            for d in range(self.M):
                wd = w[r] if r == d else self.cross_private(d, w, z[r].shape[:-1])
                by_decoder.setdefault(d, []).append(((r, d), torch.cat([z[r], wd], -1)))
        out = {}
        for d, items in by_decoder.items():  # one decoder call per modality
            out.update(decode_grouped(self.experts[d].decode_joint, items))
        return PlusOutput([e.shared for e in encs], [e.private for e in encs], z, w, out, self.prior_z(),
                          self.prior_w(), self.likelihoods, self.names)


@dataclass
class PlusOptions:
    """Options of MMVAE+ (``model.options``)."""

    variant: Literal["mmvaeplus", "factorized"] = "mmvaeplus"  # factorized: MMVAE_f, cross-decodes with w_d


def build_mmvaeplus(cfg, modalities: list[ModalitySpec], options: PlusOptions) -> MMVAEPlus:
    private = cfg.private_latent_dim if cfg.private_latent_dim is not None else cfg.latent_dim
    return MMVAEPlus(modalities, private_latent_dim=private, variant=options.variant,
                     nets=network_specs(cfg, modalities), **model_settings(cfg, modalities))


# The authors' PolyMNIST settings (Palumbo, Daunhawer & Vogt 2023, epalu/mmvaeplus): Laplace prior,
# posteriors and likelihood with softmax·D scales, likelihood scale 0.75, z and w of 32 dimensions;
# β = 2.5 is the objectives' default and K = 1 with the bound the trainer's.
OFFICIAL_DEFAULTS = {"model.distr": "Laplace", "model.decoder_scale": 0.75, "model.latent_dim": 32,
                     "model.private_latent_dim": 32}

register_model(ModelInfo(
    "mmvaeplus", build_mmvaeplus, kind="mmvaeplus", options=PlusOptions, defaults=OFFICIAL_DEFAULTS,
    description="MMVAE+: shared latents with private ones and auxiliary priors (Palumbo et al. 2023); "
                "--variant factorized gives MMVAE_f"))
