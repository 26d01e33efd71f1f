"""Products of Gaussian experts, for every subset of modalities at once.

The product of Normal densities N(μ_m, σ_m²) (and optionally the prior N(0, σ_p²)) is, up to
normalisation, the Normal with precision T = Σ_m T_m (T_m = 1/σ_m²) and mean μ = Σ_m T_m μ_m / T.
Subsets are rows of a 0/1 mask, so all 2^M − 1 of them are one matrix product over the stacked
experts, not a Python loop per subset.
"""
from __future__ import annotations

import functools
import itertools

import torch
from torch import Tensor

from ..distributions import DiagDist


@functools.lru_cache(maxsize=64)
def nonempty_subsets(M: int, max_size: int | None = None) -> tuple[tuple[int, ...], ...]:
    """Every non-empty subset of range(M) (up to ``max_size`` elements), by size then order."""
    top = M if max_size is None else max_size
    return tuple(s for k in range(1, top + 1) for s in itertools.combinations(range(M), k))


def subset_mask(subsets: list[tuple[int, ...]], M: int, device=None) -> Tensor:
    """[S, M] float mask: row s has ones at the modalities of subsets[s] (built once per list)."""
    return _mask(tuple(map(tuple, subsets)), M).to(device)


@functools.lru_cache(maxsize=256)
def _mask(subsets: tuple[tuple[int, ...], ...], M: int) -> Tensor:
    mask = torch.zeros(len(subsets), M)
    for s, members in enumerate(subsets):
        mask[s, list(members)] = 1.0
    return mask


def product_of_experts(experts: list[DiagDist], mask: Tensor, prior: DiagDist | None = None,
                       with_prior: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(loc, scale), each [S, B, D], of the Normal product of the experts each mask row selects.

    experts: M Normal experts with batch shape [B, D]; mask: [S, M]; ``prior`` (zero mean) joins
    the rows where ``with_prior`` [S] is true (all rows when it is None).
    """
    loc = torch.stack([e.loc for e in experts])  # [M, B, D]
    precision = torch.stack([e.scale for e in experts]).pow(-2)
    mask = mask.to(loc.dtype)
    total = torch.einsum("sm,mbd->sbd", mask, precision)
    weighted = torch.einsum("sm,mbd->sbd", mask, precision * loc)
    if prior is not None:
        prior_precision = prior.scale.pow(-2)  # [1, D]
        rows = torch.ones(len(mask), dtype=loc.dtype, device=loc.device) if with_prior is None \
            else with_prior.to(loc.dtype)
        total = total + rows.view(-1, 1, 1) * prior_precision
    return weighted / total, total.rsqrt()
