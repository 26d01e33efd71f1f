"""Strided convolutional encoder/decoder (the seed's conv MNIST and SVHN nets), plain PyTorch.

Three 4×4 stride-2 convolutions take 28×28 to 3×3 (MNIST) or 32×32 to 4×4 (SVHN); a conv head
of that size gives the D-dimensional loc and raw scale. The decoder mirrors it with transposed
convolutions (the second one has a 3×3 kernel at 28×28, 4×4 at 32×32) and a sigmoid. Faster
CPU routes with the same parameters are applied by :func:`mmvae.nets.accelerate`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .registry import NETWORKS, NetSpec

# image side → (side after three stride-2 convs, kernel of the decoder's second layer)
_GEOMETRY = {28: (3, 3), 32: (4, 4)}


class ConvEncoder(nn.Module):
    def __init__(self, channels: int, side: int, latent_dim: int, f: int):
        super().__init__()
        head, _ = _GEOMETRY[side]
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, f, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(f, 2 * f, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(2 * f, 4 * f, 4, 2, 1), nn.ReLU(inplace=True),
        )
        self.loc = nn.Conv2d(4 * f, latent_dim, head, 1, 0)
        self.raw_scale = nn.Conv2d(4 * f, latent_dim, head, 1, 0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)
        return self.loc(h).flatten(1), self.raw_scale(h).flatten(1)


class ConvDecoder(nn.Module):
    def __init__(self, latent_dim: int, channels: int, side: int, f: int):
        super().__init__()
        _, k2 = _GEOMETRY[side]
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 4 * f, 4, 1, 0), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * f, 2 * f, k2, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(f, channels, 4, 2, 1),
        )

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.net(z.reshape(-1, self.latent_dim, 1, 1)))


@NETWORKS.register("conv")
def build_conv(shape: tuple[int, int, int], latent_dim: int, spec: NetSpec):
    c, h, w = shape
    if h != w or h not in _GEOMETRY:
        raise ConfigError(
            f"The conv architecture supports 28×28 and 32×32 images, not {h}×{w}. "
            "Use arch 'fc' for other sizes."
        )
    if spec.fbase < 1:
        raise ConfigError(f"fbase must be a positive integer, got {spec.fbase}.")
    return ConvEncoder(c, h, latent_dim, spec.fbase), ConvDecoder(latent_dim, c, h, spec.fbase)
