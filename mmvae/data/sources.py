"""Image sources: real MNIST / SVHN and the synthetic handwriting / street digits.

A source gives (uint8 images, int64 labels) for a split; it fills one modality slot of a model
(``mnist`` = 1×28×28, ``svhn`` = 3×32×32).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..registry import Registry
from . import synthetic
from .files import cache_dir
from .mnist import FILES as MNIST_FILES
from .mnist import load_mnist
from .svhn import FILES as SVHN_FILES
from .svhn import load_svhn


@dataclass(frozen=True)
class Source:
    """One modality's images: ``load(split, data_cfg)`` → (uint8 images [N, C, H, W], int64 labels).

    ``content(data_cfg)`` says what the images are drawn from (JSON-able: a generator's version
    and settings, a hash of a user's images), so a judge trained on them is reused only for the
    same distribution; None for real files, which are fixed by their checksums.
    """

    name: str
    slot: str  # the model modality it fills
    shape: tuple[int, int, int]
    real: bool
    load: Callable  # (split, DataConfig) -> (images, labels)
    description: str
    content: Callable | None = None


SOURCES: Registry[Source] = Registry("image source")


def default_data_dir() -> Path:
    return Path(os.environ.get("MMVAE_DATA", "data"))


def _candidates(data_dir: str | None, sub: str, probe: str) -> Path:
    """The folder that holds the files: DATA_DIR, DATA_DIR/<sub> or torchvision's layout."""
    root = Path(data_dir) if data_dir else default_data_dir()
    for cand in (root, root / sub, root / sub.upper() / "raw", root / sub.upper()):
        if (cand / probe).is_file() or (cand / (probe + ".gz")).is_file():
            return cand
    return root / sub if (root / sub).is_dir() else root


def mnist_dir(data_dir: str | None) -> Path:
    return _candidates(data_dir, "mnist", MNIST_FILES[("train", "labels")][0])


def svhn_dir(data_dir: str | None) -> Path:
    return _candidates(data_dir, "svhn", SVHN_FILES["train"][0])


def _load_mnist(split, cfg):
    return load_mnist(mnist_dir(cfg.data_dir), split, cfg.download, cfg.verify)


def _load_svhn(split, cfg):
    return load_svhn(svhn_dir(cfg.data_dir), split, cfg.download, cfg.verify)


def _synthetic_content(cfg) -> list:
    """The generator's version: any size or seed draws from the same distribution of digits."""
    return [synthetic.GENERATOR_VERSION]


def _synthetic_loader(modality: str):
    def load(split, cfg):
        n = cfg.synthetic_train if split == "train" else cfg.synthetic_test
        return load_synthetic(modality, n, cfg.synthetic_seed, split)

    return load


def load_synthetic(modality: str, n: int, seed: int, split: str, use_cache: bool = True):
    """Generated digits, cached as .npy under the cache folder by (version, modality, n, seed)."""
    key = json.dumps([synthetic.GENERATOR_VERSION, modality, n, seed, split])
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = cache_dir() / "synthetic"
    img_path, lab_path = folder / f"{modality}-{split}-{tag}-x.npy", folder / f"{modality}-{split}-{tag}-y.npy"
    if use_cache and img_path.exists() and lab_path.exists():
        try:
            x = torch.from_numpy(np.load(img_path, allow_pickle=False))
            y = torch.from_numpy(np.load(lab_path, allow_pickle=False))
            if len(x) == n == len(y):
                return x, y
        except (ValueError, OSError):
            pass  # damaged cache entries are regenerated
    from ..progress import progress_bar

    what = {"synthmnist": "synthetic handwriting", "synthsvhn": "synthetic street digits"}.get(modality, modality)
    with progress_bar(total=n, desc=f"generating {what} ({split}, once: cached for later runs)", unit="img") as bar:
        x, y = synthetic.generate(modality, n, seed, split, progress=bar.update)
    if use_cache:
        folder.mkdir(parents=True, exist_ok=True)
        for path, arr in ((img_path, x), (lab_path, y)):
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npy")
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr.numpy())
            os.replace(tmp, path)
    return x, y


SOURCES.register("mnist")(Source("mnist", "mnist", (1, 28, 28), True, _load_mnist, "real MNIST (IDX files)"))
SOURCES.register("svhn")(Source("svhn", "svhn", (3, 32, 32), True, _load_svhn, "real SVHN cropped digits (.mat)"))
SOURCES.register("synthmnist")(Source(
    "synthmnist", "mnist", (1, 28, 28), False, _synthetic_loader("synthmnist"),
    "synthetic handwriting-like digits (1×28×28)", _synthetic_content))
SOURCES.register("synthsvhn")(Source(
    "synthsvhn", "svhn", (3, 32, 32), False, _synthetic_loader("synthsvhn"),
    "synthetic street-number-like digits (3×32×32)", _synthetic_content))
