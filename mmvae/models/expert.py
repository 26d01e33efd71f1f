"""One modality's encoder q_φ(z | x) and decoder mean μ_θ(z)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..distributions import scale_from_raw
from ..nets import NetSpec, build_networks
from .modality import ModalitySpec


class Expert(nn.Module):
    """Encoder and decoder of one modality; ``decoder_latent_dim`` lets the decoder read a wider
    latent (e.g. [shared, private]) than the encoder writes."""

    def __init__(self, spec: ModalitySpec, latent_dim: int, net: NetSpec, scale_param: str,
                 decoder_latent_dim: int | None = None):
        super().__init__()
        self.spec = spec
        self.scale_param = scale_param
        self.encoder, self.decoder = build_networks(spec.shape, latent_dim, net)
        if decoder_latent_dim not in (None, latent_dim):
            self.decoder = build_networks(spec.shape, decoder_latent_dim, net)[1]

    def posterior_params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(loc, scale) in float32: under bf16 autocast the networks run in bf16, but samples,
        densities, importance weights and objectives are computed in float32."""
        loc, raw = self.encoder(x)
        return loc.float(), scale_from_raw(raw.float(), self.scale_param)

    def decode(self, z: Tensor) -> Tensor:
        """Decoder means for z of shape [..., D] → [..., C, H, W]."""
        lead = z.shape[:-1]
        mean = self.decoder(z.reshape(-1, z.shape[-1]))
        # float: under bf16 autocast the likelihood still sums 784–3072 pixels in float32
        return mean.float().view(*lead, *self.spec.shape)


def decode_grouped(decode, items: list) -> dict:
    """``decode`` applied once to the latents of all ``items`` (key, latents [k, ..., D]),
    concatenated along the first dimension; returns key → its slice of the means."""
    sizes = [z.shape[0] for _, z in items]
    means = decode(torch.cat([z for _, z in items], 0)) if len(items) > 1 else decode(items[0][1])
    return {key: mean for (key, _), mean in zip(items, means.split(sizes, 0))}
