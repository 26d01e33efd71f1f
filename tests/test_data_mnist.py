"""MNIST reader: the real files (when present) and damaged copies of them."""
import gzip

import pytest
import torch

from mmvae.data.mnist import FILES, load_mnist, verify_mnist
from mmvae.errors import DataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_mnist_counts_and_labels(mnist_dir):
    x, y = load_mnist(mnist_dir, "train")
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.uint8
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(y).tolist() == TRAIN_COUNTS
    xt, yt = load_mnist(mnist_dir, "test")
    assert xt.shape == (10000, 1, 28, 28)
    assert yt[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(yt).tolist() == TEST_COUNTS
    assert verify_mnist(mnist_dir) == []


def _copy_test_split(src, dst, gz: bool):
    for kind in ("images", "labels"):
        stem = FILES[("test", kind)][0]
        source = src / stem if (src / stem).exists() else src / (stem + ".gz")
        raw = source.read_bytes() if source.suffix != ".gz" else gzip.decompress(source.read_bytes())
        if gz:
            (dst / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (dst / stem).write_bytes(raw)


def test_gzip_and_plain_give_the_same_arrays(mnist_dir, tmp_path):
    (tmp_path / "gz").mkdir()
    (tmp_path / "plain").mkdir()
    _copy_test_split(mnist_dir, tmp_path / "gz", gz=True)
    _copy_test_split(mnist_dir, tmp_path / "plain", gz=False)
    a = load_mnist(tmp_path / "gz", "test")
    b = load_mnist(tmp_path / "plain", "test")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_truncated_file_is_named_with_fix(mnist_dir, tmp_path):
    _copy_test_split(mnist_dir, tmp_path, gz=False)
    path = tmp_path / FILES[("test", "images")][0]
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.*(MD5|truncated).*download it again"):
        load_mnist(tmp_path, "test")
    with pytest.raises(DataError, match="truncated"):
        load_mnist(tmp_path, "test", verify=False)


def test_wrong_content_fails_checksum(mnist_dir, tmp_path):
    _copy_test_split(mnist_dir, tmp_path, gz=False)
    path = tmp_path / FILES[("test", "labels")][0]
    raw = bytearray(path.read_bytes())
    raw[100] = (raw[100] + 1) % 10
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="expected 27ae3e4e09519cfbb04c329615203637"):
        load_mnist(tmp_path, "test")


def test_missing_file_message_names_file_and_fixes(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, "train")
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and "--data-dir" in msg and "https://" in msg


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere", "train")


def test_not_an_idx_file(tmp_path):
    for (split, _kind), (stem, _, _) in FILES.items():
        if split == "test":
            (tmp_path / stem).write_bytes(b"\x00\x00\x08\x99" + b"\x00" * 20)
    with pytest.raises(DataError, match="magic number"):
        load_mnist(tmp_path, "test", verify=False)


def test_truncated_gz(mnist_dir, tmp_path):
    _copy_test_split(mnist_dir, tmp_path, gz=True)
    path = tmp_path / (FILES[("test", "images")][0] + ".gz")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match=r"\.gz could not be read .*truncated or corrupt"):
        load_mnist(tmp_path, "test")


def test_data_dir_that_is_a_file(tmp_path):
    f = tmp_path / "notadir"
    f.write_text("x")
    with pytest.raises(DataError, match="not a readable directory"):
        load_mnist(f, "train")
