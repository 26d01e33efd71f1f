"""What a model needs to know about one modality."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ModalitySpec:
    """A modality's name (its slot in the model, e.g. ``mnist``) and image shape (C, H, W)."""

    name: str
    shape: tuple[int, int, int]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def auto_llik_scalings(modalities: list[ModalitySpec]) -> list[float]:
    """The original's default likelihood scaling: λ_m = max_n |x_n| / |x_m|.

    For MNIST–SVHN this gives λ_MNIST = 3·32·32 / 28·28 = 3.918… and λ_SVHN = 1, so each
    modality's log-likelihood counts as if it had as many pixels as the largest one.
    """
    largest = max(m.numel for m in modalities)
    return [largest / m.numel for m in modalities]
