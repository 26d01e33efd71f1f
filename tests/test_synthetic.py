"""The embedded synthetic paired digits: determinism, shapes, balance, pairing with real data."""
import torch

from mmvae.config import DataConfig
from mmvae.data import synthetic
from mmvae.data.datasets import load_paired


def test_deterministic_by_seed_and_split():
    a = synthetic.generate("synthsvhn", 40, seed=3, split="train")
    b = synthetic.generate("synthsvhn", 40, seed=3, split="train")
    c = synthetic.generate("synthsvhn", 40, seed=4, split="train")
    d = synthetic.generate("synthsvhn", 40, seed=3, split="test")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[0], d[0])


def test_shapes_dtypes_and_balance():
    x, y = synthetic.generate("synthmnist", 600, seed=0, split="train")
    assert x.shape == (600, 1, 28, 28) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [60] * 10
    s, _ = synthetic.generate("synthsvhn", 20, seed=0, split="train")
    assert s.shape == (20, 3, 32, 32) and s.dtype == torch.uint8


def test_not_one_font_and_not_trivial():
    """Images of one digit vary (not a single template), and digits differ on average."""
    x, y = synthetic.generate("synthmnist", 400, seed=0, split="train")
    x = x.float() / 255
    ones = x[y == 1]
    assert (ones - ones.mean(0)).pow(2).mean() > 0.01  # within-class variety
    means = torch.stack([x[y == d].mean(0) for d in range(10)])
    assert (means[0] - means[1]).abs().mean() > 0.03  # digits are distinguishable


def test_synthetic_pairs_share_only_the_digit():
    cfg = DataConfig(synthetic_train=200, synthetic_test=100, max_d=10, dm=2)
    data = load_paired(cfg, "test")
    assert data.names == ["mnist", "svhn"] and len(data) == 10 * 10 * 2
    xs, labels = data.gather(torch.arange(len(data)))
    assert xs[0].shape[1:] == (1, 28, 28) and xs[1].shape[1:] == (3, 32, 32)
    assert torch.equal(labels, data.labels)


def test_real_mnist_with_synthetic_street_digits(mnist_dir):
    cfg = DataConfig(dataset="mnist_synthsvhn", data_dir=str(mnist_dir.parent), synthetic_test=500,
                     max_d=20, dm=1)
    data = load_paired(cfg, "test")
    assert data.sources == ["mnist", "synthsvhn"]
    assert len(data) == 200
