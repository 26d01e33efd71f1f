"""Fully connected encoder/decoder (the seed's ``fcEnc`` / ``fcDec``), plain PyTorch."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .registry import NETWORKS, NetSpec

# the seed clamps FC decoder means away from {0, 1} by this much
MEAN_CLAMP = 1e-6


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class FCEncoder(nn.Module):
    def __init__(self, n_in: int, hidden: list[int], latent_dim: int):
        super().__init__()
        self.trunk = _mlp([n_in, *hidden])
        self.loc = nn.Linear(hidden[-1], latent_dim)
        self.raw_scale = nn.Linear(hidden[-1], latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x.flatten(1))
        return self.loc(h), self.raw_scale(h)


class FCDecoder(nn.Module):
    def __init__(self, latent_dim: int, hidden: list[int], shape: tuple[int, int, int]):
        super().__init__()
        self.shape = shape
        self.trunk = _mlp([latent_dim, *hidden])
        self.out = nn.Linear(hidden[-1], math.prod(shape))

    def forward(self, z: Tensor) -> Tensor:
        mean = torch.sigmoid(self.out(self.trunk(z)))
        return mean.clamp(MEAN_CLAMP, 1 - MEAN_CLAMP).view(-1, *self.shape)


@NETWORKS.register("fc")
def build_fc(shape: tuple[int, int, int], latent_dim: int, spec: NetSpec):
    if not spec.hidden_dims:
        raise ValueError("fc networks need at least one hidden layer")
    dec_hidden = list(reversed(spec.hidden_dims)) if spec.mirror_decoder else list(spec.hidden_dims)
    return (
        FCEncoder(math.prod(shape), list(spec.hidden_dims), latent_dim),
        FCDecoder(latent_dim, dec_hidden, shape),
    )
