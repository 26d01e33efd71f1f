"""Label-matched random pairing of two datasets, as the original MNIST–SVHN pairing does.

For each digit class: n = min(count₁, count₂, max_d) images of each dataset are kept (the
first n in a stable sort by label), and dm times both kept lists are permuted independently
and zipped. Every kept image appears exactly dm times, each time with another random partner
of its class. Unlike the original, the permutations come from a dedicated seeded generator,
and the result is cached under the labels' checksums, max_d, dm and the seed.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np
import torch

from ..errors import DataError
from .files import cache_dir

PAIRING_VERSION = 1


def rand_match_on_idx(labels1: torch.Tensor, labels2: torch.Tensor, max_d: int, dm: int, seed: int):
    """(idx1, idx2, rep): pair i is (dataset1[idx1[i]], dataset2[idx2[i]]); rep[i] ∈ [0, dm)."""
    gen = torch.Generator().manual_seed(seed)
    _, order1 = torch.sort(labels1, stable=True)
    _, order2 = torch.sort(labels2, stable=True)
    sorted1, sorted2 = labels1[order1], labels2[order2]
    idx1, idx2, rep = [], [], []
    for label in torch.unique(labels1).tolist():
        l_idx1 = order1[sorted1 == label]
        l_idx2 = order2[sorted2 == label]
        n = min(len(l_idx1), len(l_idx2), max_d)
        l_idx1, l_idx2 = l_idx1[:n], l_idx2[:n]
        for r in range(dm):
            idx1.append(l_idx1[torch.randperm(n, generator=gen)])
            idx2.append(l_idx2[torch.randperm(n, generator=gen)])
            rep.append(torch.full((n,), r, dtype=torch.int64))
    if not idx1:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty, empty
    return torch.cat(idx1), torch.cat(idx2), torch.cat(rep)


def expected_pairs(counts1, counts2, max_d: int, dm: int) -> int:
    """Number of pairs for per-class counts (the classes of dataset 1 drive the loop)."""
    return dm * sum(min(a, b, max_d) for a, b in zip(counts1, counts2))


def labels_checksum(labels: torch.Tensor) -> str:
    return hashlib.sha256(labels.to(torch.int64).numpy().tobytes()).hexdigest()[:16]


def cached_pairing(labels1, labels2, max_d: int, dm: int, seed: int, use_cache: bool = True):
    """rand_match_on_idx with an on-disk cache keyed by both label checksums, max_d, dm, seed."""
    meta = {
        "version": PAIRING_VERSION, "labels1": labels_checksum(labels1),
        "labels2": labels_checksum(labels2), "max_d": max_d, "dm": dm, "seed": seed,
    }
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir() / "pairs" / f"pairs-{key}.npy" if use_cache else None
    if path is not None and path.exists():
        try:
            arr = np.load(path, allow_pickle=False)
            idx1, idx2, rep = (torch.from_numpy(arr[:, i].astype(np.int64)) for i in range(3))
            _check(labels1, labels2, idx1, idx2)
            return idx1, idx2, rep
        except (ValueError, OSError, DataError, IndexError):
            path.unlink(missing_ok=True)  # a damaged cache entry is rebuilt
    idx1, idx2, rep = rand_match_on_idx(labels1, labels2, max_d, dm, seed)
    _check(labels1, labels2, idx1, idx2)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, torch.stack([idx1, idx2, rep], 1).numpy().astype(np.int32))
        os.replace(tmp, path)
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return idx1, idx2, rep


def _check(labels1, labels2, idx1, idx2) -> None:
    if len(idx1) != len(idx2) or (len(idx1) and not torch.equal(labels1[idx1], labels2[idx2])):
        raise DataError("pairing index is inconsistent with the labels")
