"""The embedded default data: procedurally generated paired digits (no download).

Two modalities share only the digit identity: ``synthmnist`` (handwriting-like, 1×28×28) and
``synthsvhn`` (street-number-like, 3×32×32). Generation is deterministic given the seed, the
split and the generator version, and works in fixed chunks so the result does not depend on
the machine's thread count.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch

from .handwriting import HandwritingRenderer
from .street import StreetRenderer

GENERATOR_VERSION = 1
CHUNK = 512
_SPLIT_SALT = {"train": 0, "test": 1}
_MOD_SALT = {"synthmnist": 11, "synthsvhn": 23}

_renderers: dict[str, object] = {}


def _renderer(modality: str):
    if modality not in _renderers:
        _renderers[modality] = HandwritingRenderer() if modality == "synthmnist" else StreetRenderer()
    return _renderers[modality]


def synthetic_labels(n: int, seed: int, split: str) -> torch.Tensor:
    """Balanced digit labels (n/10 of each, in a seeded random order)."""
    gen = torch.Generator().manual_seed(seed * 1000 + 7 + _SPLIT_SALT[split])
    labels = torch.arange(n) % 10
    return labels[torch.randperm(n, generator=gen)]


def generate(modality: str, n: int, seed: int, split: str, progress=None,
             workers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, int64 labels) of ``n`` synthetic digits of ``modality``.

    Chunks are rendered by ``workers`` threads (default: one per core), each op single-threaded:
    the renderers' many small ops keep the cores busier that way than with intra-op threads
    (60k street digits: 13 s with two intra-op threads, about 6 s with two workers on the 2-core
    CPU of docs/performance.md). Every chunk has its own seeded generator, so the result does not
    depend on the number of workers.
    """
    if modality not in _MOD_SALT:
        raise ValueError(f"unknown synthetic modality {modality!r}")
    labels = synthetic_labels(n, seed, split)
    render = _renderer(modality).render
    starts = list(range(0, n, CHUNK))

    def chunk(i: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(
            ((seed * 7919 + _MOD_SALT[modality]) * 31 + _SPLIT_SALT[split]) * 100_003 + i
        )
        out = render(labels[starts[i] : starts[i] + CHUNK], gen)
        if progress is not None:
            progress(len(out))
        return out

    workers = workers or min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        return torch.cat([chunk(i) for i in range(len(starts))]), labels
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            chunks = list(pool.map(chunk, range(len(starts))))
    finally:
        torch.set_num_threads(threads)
    return torch.cat(chunks), labels
