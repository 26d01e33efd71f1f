"""MNIST from its four IDX files (``.gz`` or uncompressed), verified by MD5 of the content."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .files import check_readable_dir, download, md5_bytes, read_maybe_gzip, verify_splits

MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
# (split, kind) → (file stem, MD5 of the *decompressed* IDX content, item count)
FILES = {
    ("train", "images"): ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb", 60000),
    ("train", "labels"): ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624", 60000),
    ("test", "images"): ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea", 10000),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637", 10000),
}
_MAGIC = {"images": 2051, "labels": 2049}


def find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def parse_idx(raw: bytes, kind: str, path: Path) -> np.ndarray:
    """uint8 array of an IDX file: images [N, 28, 28] or labels [N]."""
    if len(raw) < 8:
        raise DataError(f"{path} is too short to be an IDX file; download it again.")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _MAGIC[kind]:
        raise DataError(
            f"{path} has IDX magic number {magic}, expected {_MAGIC[kind]} for MNIST {kind}: it "
            "is not an MNIST file or it is damaged. Download it again from " + MIRRORS[0] + "."
        )
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DataError(
            f"{path} holds {len(raw) - offset} data bytes but its header promises {expected}; the "
            "file is truncated. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_mnist(root: str | Path, split: str, download_missing: bool = False, verify: bool = True):
    """(images uint8 [N, 1, 28, 28], labels int64 [N]) of the ``train`` or ``test`` split."""
    root = Path(root)
    arrays = {}
    for kind in ("images", "labels"):
        stem, md5, count = FILES[(split, kind)]
        path = find(root, stem) if root.exists() else None
        if path is None:
            if download_missing:
                path = download([m + stem + ".gz" for m in MIRRORS], root / (stem + ".gz"))
            else:
                check_readable_dir(root, "MNIST")
                raise DataError(
                    f"MNIST file {stem}(.gz) is missing from {root}. Download it from "
                    f"{MIRRORS[0]}{stem}.gz into that folder, run `mmvae data prepare --dataset "
                    "mnist --download`, or pass --data-dir with the folder that has it."
                )
        raw = read_maybe_gzip(path)
        if verify and md5_bytes(raw) != md5:
            raise DataError(
                f"{path} has the wrong content: MD5 of the decompressed file is {md5_bytes(raw)}, "
                f"expected {md5}. Delete it and download it again ({MIRRORS[0]}{stem}.gz)."
            )
        arr = parse_idx(raw, kind, path)
        if len(arr) != count and verify:
            raise DataError(f"{path} has {len(arr)} items, expected {count}.")
        arrays[kind] = arr
    if len(arrays["images"]) != len(arrays["labels"]):
        raise DataError(f"MNIST {split} images and labels in {root} have different lengths.")
    labels = torch.from_numpy(arrays["labels"].astype(np.int64))
    if labels.numel() and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"MNIST {split} labels in {root} are outside 0..9; the file is damaged.")
    return torch.from_numpy(arrays["images"].copy()).unsqueeze(1), labels


def verify_mnist(root: str | Path) -> list[str]:
    """Problems found with the MNIST files in ``root`` (empty when all four are good)."""
    return verify_splits(load_mnist, root)
