"""SVHN .mat reader on small files written in the official layout (X 32×32×3×N uint8, y N×1)."""
import numpy as np
import pytest
import scipy.io
import torch

from mmvae.data.svhn import load_svhn, read_svhn_mat
from mmvae.errors import DataError


def _write(path, n=12, layout="official", dtype=np.uint8, labels=None):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(32, 32, 3, n)).astype(dtype)
    if layout == "nchw":
        X = X.transpose(3, 2, 0, 1)
    y = np.asarray(labels if labels is not None else (np.arange(n) % 10) + 1).reshape(-1, 1)
    scipy.io.savemat(path, {"X": X, "y": y})
    return X, y


def test_official_layout_is_read_and_label_10_is_0(tmp_path):
    X, y = _write(tmp_path / "test_32x32.mat")
    images, labels = load_svhn(tmp_path, "test", verify=False)
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.tolist() == [(i % 10 + 1) % 10 for i in range(12)]
    assert labels[9] == 0  # stored as 10
    # Pixel (row 3, col 5, channel 1) of image 7 keeps its place.
    assert images[7, 1, 3, 5] == X[3, 5, 1, 7]


def test_checksum_mismatch_names_expected_md5_and_fix(tmp_path):
    _write(tmp_path / "train_32x32.mat")
    with pytest.raises(DataError, match=r"expected e26dedcc434d2e4c54c9b2d4a06d8373.*--no-verify"):
        load_svhn(tmp_path, "train", verify=True)


def test_wrong_layout(tmp_path):
    _write(tmp_path / "test_32x32.mat", layout="nchw")
    with pytest.raises(DataError, match=r"expected 32×32×3×N"):
        read_svhn_mat(tmp_path / "test_32x32.mat")


def test_truncated_file(tmp_path):
    path = tmp_path / "test_32x32.mat"
    _write(path, n=50)
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_svhn_mat(path)


def test_bad_labels_and_dtype(tmp_path):
    _write(tmp_path / "a.mat", labels=[0] * 12)
    with pytest.raises(DataError, match="labels must be 1..10"):
        read_svhn_mat(tmp_path / "a.mat")
    _write(tmp_path / "b.mat", dtype=np.float32)
    with pytest.raises(DataError, match="dtype float32"):
        read_svhn_mat(tmp_path / "b.mat")


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"train_32x32.mat is missing.*http.*--data-dir"):
        load_svhn(tmp_path, "train")
