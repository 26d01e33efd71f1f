"""Named paired datasets and the functions that load them as :class:`PairedData`."""
from __future__ import annotations

import torch

from ..errors import ConfigError, DataError
from ..registry import Registry
from .paired import PairedData
from .pairing import cached_pairing
from .sources import SOURCES

DATASETS: Registry[tuple[str, ...]] = Registry("dataset")
DATASETS.register("synthetic", description="synthetic handwriting + synthetic street digits (no download)")(
    ("synthmnist", "synthsvhn"))
DATASETS.register("mnist_svhn", description="real MNIST + real SVHN")(("mnist", "svhn"))
DATASETS.register("mnist_synthsvhn", description="real MNIST + synthetic street digits")(("mnist", "synthsvhn"))
DATASETS.register("synthmnist_svhn", description="synthetic handwriting + real SVHN")(("synthmnist", "svhn"))


def resolve_dataset(cfg) -> tuple[str, str]:
    """(dataset, reason) for ``dataset: auto``: real MNIST–SVHN when both are present (or may be
    downloaded), real MNIST with synthetic street digits when only MNIST is, else synthetic."""
    if cfg.dataset != "auto":
        return cfg.dataset, "as configured"
    from .mnist import FILES as MNIST_FILES
    from .sources import mnist_dir, svhn_dir
    from .svhn import FILES as SVHN_FILES

    stem = MNIST_FILES[("train", "labels")][0]
    m = mnist_dir(cfg.data_dir)
    has_mnist = (m / stem).is_file() or (m / (stem + ".gz")).is_file()
    has_svhn = (svhn_dir(cfg.data_dir) / SVHN_FILES["train"][0]).is_file()
    if cfg.download or (has_mnist and has_svhn):
        return "mnist_svhn", "real MNIST and SVHN found" if not cfg.download else "--download given"
    if has_mnist:
        return "mnist_synthsvhn", f"real MNIST found in {m}, no SVHN: pairing it with synthetic street digits"
    return "synthetic", "no real MNIST/SVHN found (pass --data-dir): using the embedded synthetic digits"


def dataset_sources(name: str) -> list:
    return [SOURCES.get(s) for s in DATASETS.get(name)]


def load_paired(cfg, split: str) -> PairedData:
    """The label-matched pairs of the configured dataset's modalities for ``split``."""
    sources = dataset_sources(resolve_dataset(cfg)[0])
    loaded = [s.load(split, cfg) for s in sources]
    max_d = cfg.max_d if split == "train" or cfg.test_max_d is None else cfg.test_max_d
    labels = [y for _, y in loaded]
    idx = [torch.arange(len(labels[0]))]
    pairs_of_0 = None
    rep = None
    for m in range(1, len(sources)):
        i0, im, rep_m = cached_pairing(labels[0], labels[m], max_d, cfg.dm, cfg.pairing_seed + (m - 1))
        if pairs_of_0 is None:
            pairs_of_0, rep = i0, rep_m
            idx = [i0, im]
        elif not torch.equal(i0, pairs_of_0):
            raise DataError("pairing of more than two modalities needs the same first-modality order")
        else:
            idx.append(im)
    if len(sources) == 1:
        rep = torch.zeros(len(labels[0]), dtype=torch.int64)
    index = torch.stack(idx, 1)
    if len(index) == 0:
        raise DataError(f"Pairing {cfg.dataset} {split} produced no pairs; check max_d and dm.")
    return PairedData(
        names=[s.slot for s in sources], sources=[s.name for s in sources],
        images=[x for x, _ in loaded], index=index, labels=labels[0][index[:, 0]], rep=rep,
        num_classes=int(max(int(y.max()) for y in labels)) + 1,
    )


def load_unimodal(cfg, slot: str, split: str) -> PairedData:
    """All images of the dataset's ``slot`` modality (mnist or svhn) as one-modality data."""
    sources = [s for s in dataset_sources(resolve_dataset(cfg)[0]) if s.slot == slot]
    if not sources:
        raise ConfigError(f"Dataset '{cfg.dataset}' has no '{slot}' modality.")
    s = sources[0]
    x, y = s.load(split, cfg)
    n = len(y)
    return PairedData(
        names=[slot], sources=[s.name], images=[x], index=torch.arange(n).view(-1, 1),
        labels=y, rep=torch.zeros(n, dtype=torch.int64), num_classes=int(y.max()) + 1,
    )
