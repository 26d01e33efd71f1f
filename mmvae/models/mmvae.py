"""The mixture-of-experts multimodal VAE (Shi et al., 2019).

q_Φ(z | x_1..x_M) = (1/M) Σ_m q_φm(z | x_m): each modality has an encoder ("expert") and a
decoder; every decoder can read a latent from any encoder. With M = 1 this is a plain VAE.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn

from ..distributions import FAMILIES, DiagDist, PixelLikelihood, scale_from_raw
from ..errors import ConfigError, DataError
from ..nets import NetSpec, build_networks
from .modality import ModalitySpec, auto_llik_scalings
from .output import ForwardOutput
from .prior import Prior


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Puts ``model`` in eval mode and restores its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class Expert(nn.Module):
    """One modality's encoder q_φ(z | x) and decoder mean μ_θ(z)."""

    def __init__(self, spec: ModalitySpec, latent_dim: int, net: NetSpec, scale_param: str,
                 decoder_latent_dim: int | None = None):
        super().__init__()
        self.spec = spec
        self.scale_param = scale_param
        self.encoder, self.decoder = build_networks(spec.shape, latent_dim, net)
        if decoder_latent_dim not in (None, latent_dim):  # decoders that read [z, extra] latents
            self.decoder = build_networks(spec.shape, decoder_latent_dim, net)[1]

    def posterior_params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        loc, raw = self.encoder(x)
        return loc, scale_from_raw(raw, self.scale_param)

    def decode(self, z: Tensor) -> Tensor:
        """Decoder means for z of shape [..., D] → [..., C, H, W]."""
        lead = z.shape[:-1]
        mean = self.decoder(z.reshape(-1, z.shape[-1]))
        # float: under bf16 autocast the likelihood still sums 784–3072 pixels in float32
        return mean.float().view(*lead, *self.spec.shape)

    def log_likelihood(self, z: Tensor, x: Tensor, likelihood: PixelLikelihood) -> Tensor:
        """Unscaled log p(x | z) for z [..., D] and x [B, C, H, W] (z's batch dimension last).

        Inference only: a decoder that can emit its pixels in a cheaper order (see
        ``ConvDecoder.forward_any_order``) does so, and x is put in the same order.
        """
        any_order = getattr(self.decoder, "forward_any_order", None)
        if any_order is None:
            return likelihood.log_prob(x, self.decode(z))
        lead = z.shape[:-1]
        mean, order = any_order(z.reshape(-1, z.shape[-1]))
        return likelihood.log_prob(order(x), mean.float().view(*lead, *self.spec.shape))


class MMVAE(nn.Module):
    """Mixture-of-experts multimodal VAE over any number of image modalities."""

    def __init__(
        self,
        modalities: Sequence[ModalitySpec],
        latent_dim: int = 20,
        family: str = "Normal",
        scale_param: str | None = None,
        learn_prior: bool = False,
        decoder_scale: float = 0.75,
        llik_scalings: Sequence[float] | None = None,
        nets: Sequence[NetSpec] | None = None,
        decoder_latent_dim: int | None = None,
    ):
        super().__init__()
        if latent_dim < 1:
            raise ConfigError(f"latent_dim must be at least 1, got {latent_dim}.")
        if decoder_scale <= 0:
            raise ConfigError(f"decoder_scale must be positive, got {decoder_scale}.")
        self.modalities = list(modalities)
        self.latent_dim = latent_dim
        self.family = FAMILIES.get(family)
        self.scale_param = scale_param or self.family.default_scale_param
        nets = list(nets) if nets is not None else [NetSpec() for _ in self.modalities]
        if len(nets) != len(self.modalities):
            raise ConfigError("one network specification is needed per modality")
        self.experts = nn.ModuleList(
            Expert(m, latent_dim, n, self.scale_param, decoder_latent_dim) for m, n in zip(self.modalities, nets)
        )
        self.prior = Prior(latent_dim, self.family, self.scale_param, learn_prior)
        lams = list(llik_scalings) if llik_scalings is not None else auto_llik_scalings(self.modalities)
        self.likelihoods = [PixelLikelihood(self.family, decoder_scale, lam) for lam in lams]

    @property
    def M(self) -> int:
        return len(self.experts)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.modalities]

    def index(self, name: str) -> int:
        if name not in self.names:
            raise ConfigError(f"Unknown modality '{name}'; this model has {', '.join(self.names)}.")
        return self.names.index(name)

    # ------------------------------------------------------------------ inference

    def encode(self, xs: Sequence[Tensor]) -> list[DiagDist]:
        """q_m(z | x_m) for every modality."""
        return [DiagDist(self.family, *e.posterior_params(x)) for e, x in zip(self.experts, xs)]

    def decode_pairs(self, samples: Sequence[Tensor], pairs: Iterable[tuple[int, int]]):
        """Decoder means for the requested (encoder r, decoder d) pairs.

        All latents that go to one decoder are concatenated and decoded in a single call.
        """
        by_decoder: dict[int, list[int]] = {}
        for r, d in sorted(set(pairs)):
            by_decoder.setdefault(d, []).append(r)
        out: dict[tuple[int, int], Tensor] = {}
        for d, rs in by_decoder.items():
            if len(rs) == 1:
                out[(rs[0], d)] = self.experts[d].decode(samples[rs[0]])
                continue
            means = self.experts[d].decode(torch.cat([samples[r] for r in rs], 0))
            for r, mean in zip(rs, means.split([samples[r].shape[0] for r in rs], 0)):
                out[(r, d)] = mean
        return out

    def pairs(self, which: str | Iterable[tuple[int, int]] = "all") -> list[tuple[int, int]]:
        """Decode pairs by name: ``all`` (every r→d), ``diag`` (r→r only) or ``none``."""
        if which == "all":
            return [(r, d) for r in range(self.M) for d in range(self.M)]
        if which == "diag":
            return [(m, m) for m in range(self.M)]
        if which == "none":
            return []
        return list(which)

    def check_batch(self, xs: Sequence[Tensor]) -> None:
        """A batch is one tensor per modality, all with the same number of items and the
        modality's image shape; anything else is a DataError, never a silent broadcast."""
        if len(xs) != self.M:
            raise DataError(f"The model has {self.M} modalities ({', '.join(self.names)}) but the batch has {len(xs)} tensors.")
        sizes = [x.shape[0] for x in xs]
        if len(set(sizes)) != 1:
            raise DataError(f"The modalities of a batch have different sizes {sizes}; each item must be "
                            "a pair (build batches with PairedData.gather).")
        for x, e in zip(xs, self.experts):
            if tuple(x.shape[1:]) != tuple(e.spec.shape):
                raise DataError(f"Modality '{e.spec.name}' expects images {tuple(e.spec.shape)}, got "
                                f"{tuple(x.shape[1:])}.")

    def forward(self, xs: Sequence[Tensor], K: int = 1, decodes="all") -> ForwardOutput:
        """Encode every modality, draw K reparameterised samples each, decode ``decodes``."""
        self.check_batch(xs)
        posteriors = self.encode(xs)
        samples = [q.rsample(K) for q in posteriors]
        return ForwardOutput(
            posteriors=posteriors,
            samples=samples,
            decodes=self.decode_pairs(samples, self.pairs(decodes)),
            prior=self.prior(),
            likelihoods=self.likelihoods,
            names=self.names,
        )

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(self, n: int) -> list[Tensor]:
        """Decoder means of n joint samples z ~ p(z), one list entry per modality."""
        with evaluating(self):
            z = self.prior().rsample(n)[:, 0]
            return [e.decode(z) for e in self.experts]

    @torch.no_grad()
    def reconstruct(self, xs: Sequence[Tensor]) -> dict[tuple[int, int], Tensor]:
        """Decoder means for every (source r, target d) pair from one posterior sample."""
        with evaluating(self):
            out = self.forward(xs, K=1, decodes="all")
            return {k: v[0] for k, v in out.decodes.items()}

    @torch.no_grad()
    def translate(self, x: Tensor, source: int, mean_latent: bool = False) -> list[Tensor]:
        """Cross-generation: decoder means of every modality from q(z | x_source)."""
        with evaluating(self):
            q = DiagDist(self.family, *self.experts[source].posterior_params(x))
            z = q.loc if mean_latent else q.rsample(1)[0]
            return [e.decode(z) for e in self.experts]

    def joint_posterior_sample(self, xs: Sequence[Tensor]) -> Tensor:
        """z ~ q_Φ(z | x_1..x_M): per item, a uniformly chosen expert's sample, [B, D]."""
        qs = self.encode(xs)
        zs = torch.stack([q.rsample(1)[0] for q in qs])  # [M, B, D]
        pick = torch.randint(self.M, (zs.shape[1],), device=zs.device)
        return zs[pick, torch.arange(zs.shape[1], device=zs.device)]
