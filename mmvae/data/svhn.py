"""SVHN cropped digits from ``train_32x32.mat`` / ``test_32x32.mat`` (MATLAB v5, via scipy)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .files import check_readable_dir, download, md5_file, verify_splits

URL = "http://ufldl.stanford.edu/housenumbers/"
FILES = {
    "train": ("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test": ("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
}


def read_svhn_mat(path: Path):
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) from an SVHN .mat file; label 10 → 0."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises ValueError, OSError, TypeError… on damaged files
        raise DataError(
            f"{path} could not be read as a MATLAB file ({e.__class__.__name__}: {e}); it is "
            f"truncated or corrupt. Delete it and download it again from {URL}{path.name}."
        ) from None
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        raise DataError(
            f"{path} has no variable {' or '.join(missing)}; an SVHN file holds X (32×32×3×N "
            f"uint8) and y (N×1). Download the official file from {URL}{path.name}."
        )
    X, y = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if X.ndim != 4 or X.shape[:3] != (32, 32, 3):
        raise DataError(
            f"{path}: X has shape {tuple(X.shape)}, expected 32×32×3×N (the official layout). "
            f"Download the official file from {URL}{path.name}."
        )
    if X.shape[3] != len(y):
        raise DataError(f"{path}: X has {X.shape[3]} images but y has {len(y)} labels.")
    if X.dtype != np.uint8:
        raise DataError(f"{path}: X has dtype {X.dtype}, expected uint8.")
    labels = y.astype(np.int64)
    if len(labels) and (labels.min() < 1 or labels.max() > 10):
        raise DataError(
            f"{path}: labels must be 1..10 (10 meaning digit 0), found {labels.min()}..{labels.max()}."
        )
    labels = labels % 10
    images = torch.from_numpy(np.ascontiguousarray(X.transpose(3, 2, 0, 1)))
    return images, torch.from_numpy(labels)


def load_svhn(root: str | Path, split: str, download_missing: bool = False, verify: bool = True):
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of the ``train`` or ``test`` split."""
    root = Path(root)
    name, md5 = FILES[split]
    path = root / name
    if not path.is_file():
        if download_missing:
            download([URL + name], path)
        else:
            check_readable_dir(root, "SVHN")
            raise DataError(
                f"SVHN file {name} is missing from {root}. Download it from {URL}{name} into that "
                "folder, run `mmvae data prepare --dataset svhn --download`, or pass --data-dir "
                "with the folder that has it."
            )
    if verify:
        got = md5_file(path)
        if got != md5:
            raise DataError(
                f"{path} has MD5 {got}, expected {md5} for the official {name}. Delete it and "
                f"download it again from {URL}{name} (or pass --no-verify for a file you made)."
            )
    return read_svhn_mat(path)


def verify_svhn(root: str | Path) -> list[str]:
    """Problems found with the SVHN files in ``root`` (empty when both are good)."""
    return verify_splits(load_svhn, root)
