"""Named datasets: each gives its modalities' image sources and loads a split as :class:`PairedData`.

Two kinds are built in: datasets that pair two sources by label as the original MNIST–SVHN
pairing does (``paired_sources``), and datasets whose items are already aligned tuples
(``aligned_tuples``: PolyMNIST, users' own data). Registering a :class:`DatasetInfo` in
:data:`DATASETS` makes a dataset available to ``--dataset`` and configs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import ConfigError, DataError
from ..registry import Registry
from .paired import PairedData
from .pairing import cached_pairing
from .sources import SOURCES, Source


@dataclass(frozen=True)
class DatasetInfo:
    """sources(data_cfg): one image source per modality, in order (its ``slot`` names the
    modality); load(data_cfg, split): the split's items."""

    name: str
    description: str
    sources: Callable[..., list[Source]]
    load: Callable[..., PairedData]


DATASETS: Registry[DatasetInfo] = Registry("dataset")


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    DATASETS.register(info.name)(info)
    return info


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


# functions name → None that may register a dataset not registered yet (users' recorded folders)
DATASET_FINDERS: list[Callable[[str], None]] = []


def find_dataset(name: str) -> DatasetInfo:
    """The dataset ``name``: registered in this process, or registered now by a finder (a
    folder recorded by ``mmvae data register`` is read here)."""
    for finder in DATASET_FINDERS:
        if name in DATASETS:
            break
        finder(name)
    try:
        return DATASETS.get(name)
    except ConfigError as e:
        raise ConfigError(f"{e} Your own data becomes a dataset with mmvae.data.register_arrays or register_folder "
                          "(in the same process), or with `mmvae data register NAME FOLDER` (once, for every "
                          "later command).") from None


def dataset_info(cfg) -> DatasetInfo:
    return find_dataset(resolve_dataset(cfg)[0])


def dataset_sources(cfg) -> list[Source]:
    """The configured dataset's sources, one per modality (nothing is loaded)."""
    return dataset_info(cfg).sources(cfg)


def load_paired(cfg, split: str) -> PairedData:
    """The items (pairs, tuples) of the configured dataset's modalities for ``split``."""
    return dataset_info(cfg).load(cfg, split)


def load_unimodal(cfg, slot: str, split: str) -> PairedData:
    """All images of the dataset's ``slot`` modality as one-modality data."""
    sources = [s for s in dataset_sources(cfg) if s.slot == slot]
    if not sources:
        names = ", ".join(s.slot for s in dataset_sources(cfg))
        raise ConfigError(f"Dataset '{cfg.dataset}' has no '{slot}' modality; it has {names}.")
    s = sources[0]
    x, y = s.load(split, cfg)
    n = len(x)
    return PairedData(
        names=[slot], sources=[s.name], images=[x], index=torch.arange(n).view(-1, 1),
        labels=y, rep=torch.zeros(n, dtype=torch.int64), num_classes=int(y.max()) + 1,
    )


# ---------------------------------------------------------------------- label-paired sources


def pair_by_label(name: str, sources: list[Source], cfg, split: str) -> PairedData:
    """Label-matched random pairs of the sources' images (the original MNIST–SVHN pairing)."""
    loaded = [s.load(split, cfg) for s in sources]
    max_d = cfg.max_d if split == "train" or cfg.test_max_d is None else cfg.test_max_d
    labels = [y for _, y in loaded]
    pairs_of_0, rep, idx = None, None, []
    for m in range(1, len(sources)):
        i0, im, rep_m = cached_pairing(labels[0], labels[m], max_d, cfg.dm, cfg.pairing_seed + (m - 1))
        if pairs_of_0 is None:
            pairs_of_0, rep, idx = i0, rep_m, [i0, im]
        elif not torch.equal(i0, pairs_of_0):
            raise DataError("pairing of more than two modalities needs the same first-modality order")
        else:
            idx.append(im)
    index = torch.stack(idx, 1)
    if len(index) == 0:
        raise DataError(f"Pairing {name} {split} produced no pairs; check max_d and dm.")
    return PairedData(
        names=[s.slot for s in sources], sources=[s.name for s in sources],
        images=[x for x, _ in loaded], index=index, labels=labels[0][index[:, 0]], rep=rep,
        num_classes=int(max(int(y.max()) for y in labels)) + 1,
    )


def paired_sources(name: str, source_names: tuple[str, ...], description: str) -> DatasetInfo:
    """A dataset pairing registered sources by label."""
    def sources(cfg=None):
        return [SOURCES.get(s) for s in source_names]

    return register_dataset(DatasetInfo(name, description, sources,
                                        lambda cfg, split: pair_by_label(name, sources(), cfg, split)))


# ---------------------------------------------------------------------- aligned tuples


def aligned_tuples(names: list[str], sources: list[str], images: list, labels, num_classes: int = 0) -> PairedData:
    """Items that are already tuples: item i is image i of every modality (all distinct)."""
    n = len(images[0])
    if any(len(x) != n for x in images):
        raise DataError(f"Aligned modalities must hold as many images each; got {[len(x) for x in images]}.")
    return PairedData(names=list(names), sources=list(sources), images=list(images),
                      index=torch.arange(n).view(-1, 1).repeat(1, len(images)), labels=labels,
                      rep=torch.zeros(n, dtype=torch.int64), num_classes=num_classes)


paired_sources("synthetic", ("synthmnist", "synthsvhn"), "synthetic handwriting + synthetic street digits (no download)")
paired_sources("mnist_svhn", ("mnist", "svhn"), "real MNIST + real SVHN")
paired_sources("mnist_synthsvhn", ("mnist", "synthsvhn"), "real MNIST + synthetic street digits")
paired_sources("synthmnist_svhn", ("synthmnist", "svhn"), "synthetic handwriting + real SVHN")
