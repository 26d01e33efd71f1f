"""One modality's encoder q_φ(z | x) and decoder mean μ_θ(z)."""
from __future__ import annotations

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
        loc, raw = self.encoder(x)
        return loc, scale_from_raw(raw, self.scale_param)

    def decode(self, z: Tensor) -> Tensor:
        """Decoder means for z of shape [..., D] → [..., C, H, W]."""
        lead = z.shape[:-1]
        mean = self.decoder(z.reshape(-1, z.shape[-1]))
        # float: under bf16 autocast the likelihood still sums 784–3072 pixels in float32
        return mean.float().view(*lead, *self.spec.shape)
