"""Strided convolutional encoder/decoder (the seed's conv MNIST and SVHN nets), plain PyTorch.

4×4 stride-2 convolutions halve the image until each side is at most 4 (28×28 → 3×3, 32×32 →
4×4, 64×64 → 4×4); a side already at most 4 is kept by a 3-wide stride-1 kernel, so non-square
images work too. Channels are f, 2f, 4f, 8f (8f from then on). A convolution covering the
whole remaining extent gives the D-dimensional loc and raw scale. The decoder mirrors it with
transposed convolutions, ``output_padding`` restoring odd sizes, and a sigmoid. At 28×28 the
decoder is the seed's (a 4×4 first layer and a 3×3 second one) so its parameters are unchanged.
Faster CPU routes with the same parameters are applied by :func:`mmvae.nets.accelerate`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .registry import CONV_MIN_SIDE, NETWORKS, NetSpec


def conv_sizes(h: int, w: int) -> list[tuple[int, int]]:
    """Feature-map sizes from the image down to the head's input: each step halves every side
    larger than 4 (a 4×4, stride-2, padding-1 convolution) and keeps the others."""
    sizes = [(h, w)]
    while max(sizes[-1]) > 4:
        sizes.append(tuple(s // 2 if s > 4 else s for s in sizes[-1]))
    return sizes


def _channels(n_layers: int, f: int) -> list[int]:
    return [f * 2 ** min(i, 3) for i in range(n_layers)]


def _step(before: tuple[int, int], after: tuple[int, int]) -> tuple[tuple, tuple]:
    """(kernel, stride) per axis of the layer between two feature-map sizes."""
    halves = [a != b for a, b in zip(before, after)]
    return tuple(4 if x else 3 for x in halves), tuple(2 if x else 1 for x in halves)


class ConvEncoder(nn.Module):
    def __init__(self, channels: int, size: int | tuple[int, int], latent_dim: int, f: int):
        super().__init__()
        h, w = (size, size) if isinstance(size, int) else size
        sizes = conv_sizes(h, w)
        widths = [channels, *_channels(len(sizes) - 1, f)]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            kernel, stride = _step(sizes[i], sizes[i + 1])
            layers += [nn.Conv2d(widths[i], widths[i + 1], kernel, stride, 1), nn.ReLU(inplace=True)]
        self.trunk = nn.Sequential(*layers)
        self.loc = nn.Conv2d(widths[-1], latent_dim, sizes[-1], 1, 0)
        self.raw_scale = nn.Conv2d(widths[-1], latent_dim, sizes[-1], 1, 0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)
        return self.loc(h).flatten(1), self.raw_scale(h).flatten(1)


def _seed_28_layers(latent_dim: int, channels: int, f: int) -> list[nn.Module]:
    """The seed's 28×28 decoder: 1 → 4 → 7 → 14 → 28."""
    return [
        nn.ConvTranspose2d(latent_dim, 4 * f, 4, 1, 0), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(4 * f, 2 * f, 3, 2, 1), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(2 * f, f, 4, 2, 1), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(f, channels, 4, 2, 1),
    ]


def _mirror_layers(latent_dim: int, channels: int, h: int, w: int, f: int) -> list[nn.Module]:
    """Transposed convolutions retracing the encoder's sizes from a 1×1 latent."""
    sizes = conv_sizes(h, w)
    widths = [channels, *_channels(len(sizes) - 1, f)]
    layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[-1], sizes[-1], 1, 0)]
    for i in reversed(range(len(sizes) - 1)):
        kernel, stride = _step(sizes[i], sizes[i + 1])
        # a stride-2 layer gives 2n; output_padding adds the row/column an odd side lost
        extra = tuple(t - n * s for t, n, s in zip(sizes[i], sizes[i + 1], stride))
        layers += [nn.ReLU(inplace=True),
                   nn.ConvTranspose2d(widths[i + 1], widths[i], kernel, stride, 1, output_padding=extra)]
    return layers


class ConvDecoder(nn.Module):
    def __init__(self, latent_dim: int, channels: int, size: int | tuple[int, int], f: int):
        super().__init__()
        h, w = (size, size) if isinstance(size, int) else size
        self.latent_dim = latent_dim
        layers = (_seed_28_layers(latent_dim, channels, f) if (h, w) == (28, 28)
                  else _mirror_layers(latent_dim, channels, h, w, f))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.net(z.reshape(-1, self.latent_dim, 1, 1)))


@NETWORKS.register("conv")
def build_conv(shape: tuple[int, int, int], latent_dim: int, spec: NetSpec):
    c, h, w = shape
    if min(h, w) < CONV_MIN_SIDE:
        raise ConfigError(
            f"The conv architecture takes images from {CONV_MIN_SIDE}×{CONV_MIN_SIDE} up, not {h}×{w}. "
            "Use arch 'fc' for smaller images (the automatic choice does)."
        )
    if spec.fbase < 1:
        raise ConfigError(f"fbase must be a positive integer, got {spec.fbase}.")
    return ConvEncoder(c, (h, w), latent_dim, spec.fbase), ConvDecoder(latent_dim, c, (h, w), spec.fbase)
