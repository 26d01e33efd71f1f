"""The latent prior p(z) = Fam(0, scale), with an optionally learnable scale."""
from __future__ import annotations

import torch
from torch import nn

from ..distributions import DiagDist, Family, scale_from_raw


class Prior(nn.Module):
    """Zero-mean prior; its scale uses the same parameterisation as the posteriors.

    At initialisation the scale is 1 for both parameterisations (exp(0/2) = 1 and
    softmax(0)·D = 1). With ``learn`` the raw scale is trained; the mean always stays 0.
    """

    def __init__(self, latent_dim: int, family: Family, scale_param: str, learn: bool = False):
        super().__init__()
        self.family = family
        self.scale_param = scale_param
        self.register_buffer("loc", torch.zeros(1, latent_dim))
        self.raw_scale = nn.Parameter(torch.zeros(1, latent_dim), requires_grad=learn)

    def forward(self) -> DiagDist:
        return DiagDist(self.family, self.loc, scale_from_raw(self.raw_scale, self.scale_param, eta=0.0))
