"""The network registry and the per-modality network specification."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ..registry import Registry


@dataclass
class NetSpec:
    """How to build one modality's encoder and decoder.

    arch: ``fc`` (fully connected) or ``conv`` (the seed's strided convolutions).
    hidden_dims: FC hidden widths, encoder order (seed default ``[400]``; README variants
        ``[512]``, ``[1024, 512]``, ``[1024, 512, 128]``).
    mirror_decoder: FC decoder uses the hidden widths reversed. The seed does not mirror
        (its decoder reuses the encoder order), so the default is False.
    fbase: conv base width f; channels are f, 2f, 4f (seed variants 16, 32, 64).
    """

    arch: str = "conv"
    hidden_dims: list[int] = field(default_factory=lambda: [400])
    mirror_decoder: bool = False
    fbase: int = 32


CONV_MIN_SIDE = 28  # smallest image side the conv nets take

Builder = Callable[[tuple[int, int, int], int, NetSpec], tuple[nn.Module, nn.Module]]
NETWORKS: Registry[Builder] = Registry("network architecture")


def auto_spec(shape: tuple[int, int, int]) -> NetSpec:
    """The networks a modality gets when ``model.nets`` names none: convolutional from 28×28
    up (the seed's conv nets at 28 and 32), fully connected with one 400-wide layer below, where
    a few strided convolutions would leave almost nothing of the image."""
    return NetSpec("conv") if min(shape[1:]) >= CONV_MIN_SIDE else NetSpec("fc", [400])


def build_networks(shape: tuple[int, int, int], latent_dim: int, spec: NetSpec):
    """(encoder, decoder) for images of ``shape`` = (C, H, W)."""
    return NETWORKS.get(spec.arch)(shape, latent_dim, spec)
