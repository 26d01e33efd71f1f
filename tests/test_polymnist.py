"""PolyMNIST: shapes, determinism, shared labels with own digit images, the inversion rule, the
textures, user backgrounds and their errors, real MNIST digits, and the registration."""
from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
import torch

from mmvae.config import DataConfig, RunConfig, validate
from mmvae.data import load_paired, load_unimodal, polymnist
from mmvae.data.datasets import DATASETS, dataset_sources
from mmvae.data.textures import textures
from mmvae.errors import ConfigError, DataError

COLOURS = [(200, 30, 60), (20, 90, 220), (240, 230, 40)]


def _cfg(data_dir, **kw) -> DataConfig:
    """Small PolyMNIST on the synthetic handwriting (``data_dir`` holds no MNIST)."""
    base = dict(dataset="polymnist", data_dir=str(data_dir), synthetic_train=200, synthetic_test=100)
    return DataConfig(**{**base, **kw})


def _write_backgrounds(folder, colours=COLOURS, size=(40, 50)):
    """One constant-colour PNG per colour, named so that sorting keeps their order."""
    folder.mkdir(exist_ok=True)
    for i, c in enumerate(colours):
        img = np.empty((*size, 3), dtype=np.uint8)
        img[:] = c
        matplotlib.image.imsave(folder / f"bg{i}.png", img)
    return folder


def _masks(images: torch.Tensor, colour) -> torch.Tensor:
    """Digit masks [N, 784] of images pasted on a constant background."""
    return (images != torch.tensor(colour, dtype=torch.uint8).view(1, 3, 1, 1)).any(1).flatten(1)


def _source_classes(masks: torch.Tensor, x_src: torch.Tensor, y_src: torch.Tensor) -> list[set[int]]:
    """For each mask, the classes of the digit-source images whose binarised form it is."""
    keys: dict[bytes, set[int]] = {}
    for m, y in zip((x_src > 128).flatten(1).numpy(), y_src.tolist()):
        keys.setdefault(m.tobytes(), set()).add(y)
    return [keys.get(m.tobytes(), set()) for m in masks.numpy()]


@pytest.mark.parametrize("M", [3, 5])
def test_shapes_names_and_aligned_index(tmp_path, M):
    cfg = _cfg(tmp_path, polymnist_modalities=M)
    sources = dataset_sources(cfg)
    assert [s.slot for s in sources] == [f"m{i}" for i in range(M)]
    assert all(s.shape == (3, 28, 28) and not s.real for s in sources)
    for split, n in (("train", 200), ("test", 100)):
        data = load_paired(cfg, split)
        assert data.names == [f"m{i}" for i in range(M)] and data.M == M and len(data) == n
        assert all(x.dtype == torch.uint8 and x.shape == (n, 3, 28, 28) for x in data.images)
        assert torch.equal(data.index, torch.arange(n).view(-1, 1).repeat(1, M))
        assert data.labels.dtype == torch.int64 and data.num_classes == 10
        xs, y = data.gather(torch.arange(4))
        assert len(xs) == M and xs[0].shape == (4, 3, 28, 28) and torch.equal(y, data.labels[:4])


def test_deterministic_and_seeded(tmp_path):
    a = polymnist.generate(_cfg(tmp_path), "train")
    b = polymnist.generate(_cfg(tmp_path), "train")
    c = polymnist.generate(_cfg(tmp_path, synthetic_seed=1), "train")
    assert all(torch.equal(x, y) for x, y in zip(a[0], b[0])) and torch.equal(a[1], b[1])
    assert not any(torch.equal(x, y) for x, y in zip(a[0], c[0]))


def test_one_modality_alone_equals_the_whole_dataset(tmp_path):
    cfg = _cfg(tmp_path)
    data = load_paired(cfg, "test")
    one = load_unimodal(cfg, "m2", "test")
    assert torch.equal(one.images[0], data.images[2]) and torch.equal(one.labels, data.labels)


def test_labels_shared_and_each_modality_draws_its_own_digit(tmp_path):
    cfg = _cfg(tmp_path, polymnist_modalities=3, backgrounds=str(_write_backgrounds(tmp_path / "bg")))
    images, labels = polymnist.generate(cfg, "train")
    x_src, y_src = polymnist.load_digits(cfg, "train")
    masks = [_masks(x, c) for x, c in zip(images, COLOURS)]
    # the pasted digits are binarised digit-source images of the tuple's class
    for m in masks:
        assert all(int(lab) in cls for lab, cls in zip(labels, _source_classes(m, x_src, y_src)))
    differ = (masks[0] != masks[1]).any(1).float().mean()
    assert differ > 0.9, f"only {differ:.0%} of tuples have different digits in m0 and m1"
    counts = torch.bincount(labels, minlength=10)
    assert torch.equal(counts, torch.bincount(y_src, minlength=10))  # 200 tuples over 200 digits


def test_digit_pixels_are_the_inverted_background(tmp_path):
    cfg = _cfg(tmp_path, polymnist_modalities=3, backgrounds=str(_write_backgrounds(tmp_path / "bg")))
    images, _ = polymnist.generate(cfg, "test")
    for x, c in zip(images, COLOURS):
        px = x.permute(0, 2, 3, 1).reshape(-1, 3)
        inverted = torch.tensor([255 - v for v in c], dtype=torch.uint8)
        assert ((px == torch.tensor(c, dtype=torch.uint8)).all(1) | (px == inverted).all(1)).all()
        assert (px == inverted).all(1).float().mean() > 0.05  # digits are there


def test_composite_on_a_known_background_and_mask():
    bg = torch.randint(0, 256, (64, 64, 3), dtype=torch.uint8)
    digits = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    digits[0, 0, 5:20, 10:14] = 200
    digits[1, 0, 3:9, 3:25] = 129
    digits[1, 0, 10:12, :] = 128  # not above 128: background
    ys, xs = torch.tensor([0, 36]), torch.tensor([7, 30])
    crops = polymnist.crop(polymnist.row_windows(bg), ys, xs)
    for i in range(2):
        assert torch.equal(crops[i], bg[ys[i]:ys[i] + 28, xs[i]:xs[i] + 28].permute(2, 0, 1))
    out = polymnist.composite(digits, crops)
    mask = (digits > 128).expand(-1, 3, -1, -1)
    assert torch.equal(out[mask], 255 - crops[mask]) and torch.equal(out[~mask], crops[~mask])


def test_textures_differ_in_colour_and_structure():
    ts = textures(5, seed=0, size=128)
    assert all(t.shape == (128, 128, 3) and t.dtype == torch.uint8 for t in ts)
    means = torch.stack([t.float().mean((0, 1)) for t in ts])
    assert torch.pdist(means).min() > 40
    spectra = []
    for t in ts:
        g = t.float().mean(-1)
        f = torch.fft.rfft2((g - g.mean()) / g.std()).abs().flatten()
        spectra.append(f / f.norm())
    sim = torch.stack(spectra) @ torch.stack(spectra).T
    assert (sim - torch.eye(5)).max() < 0.7, sim
    assert all(torch.equal(a, b) for a, b in zip(ts, textures(5, seed=0, size=128)))
    assert not any(torch.equal(a, b) for a, b in zip(ts, textures(5, seed=1, size=128)))


def test_backgrounds_folder_first_images_by_name(tmp_path):
    folder = _write_backgrounds(tmp_path / "bg")
    (folder / "a_notes.txt").write_text("not an image")
    grey = np.full((30, 30), 0.25, dtype=np.float32)
    matplotlib.image.imsave(folder / "bg3.png", grey, cmap="gray", vmin=0, vmax=1)
    matplotlib.image.imsave(folder / "bg4.jpg", np.full((32, 40, 3), 90, dtype=np.uint8))
    bgs = polymnist.read_backgrounds(folder, 5)
    for bg, c in zip(bgs[:3], COLOURS):
        assert bg.shape == (40, 50, 3) and bg.dtype == torch.uint8 and (bg == torch.tensor(c, dtype=torch.uint8)).all()
    assert bgs[3].shape == (30, 30, 3) and (bgs[3] == 64).all()
    assert bgs[4].shape == (32, 40, 3) and (bgs[4].int() - 90).abs().max() <= 3
    a, b = polymnist.content(_cfg(tmp_path, backgrounds=str(folder))), polymnist.content(_cfg(tmp_path))
    assert a != b and b[-1] is None


@pytest.mark.parametrize("case,needle", [
    ("missing", "does not exist"),
    ("too_few", "holds 2 PNG/JPEG images, but PolyMNIST with 3 modalities needs 3"),
    ("unreadable", "could not be read"),
    ("small", "must be at least 28×28"),
])
def test_bad_backgrounds_raise_data_error(tmp_path, case, needle):
    folder = tmp_path / "bg"
    if case != "missing":
        _write_backgrounds(folder, COLOURS[:2])
    if case == "unreadable":
        (folder / "bg2.png").write_bytes(b"this is not a PNG")
    if case == "small":
        matplotlib.image.imsave(folder / "bg2.png", np.zeros((20, 40, 3), dtype=np.uint8))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cfg = _cfg(tmp_path, polymnist_modalities=3, backgrounds=str(folder))
    with pytest.raises(DataError, match=needle):
        load_paired(cfg, "test")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_real_mnist_digits(mnist_dir):
    cfg = DataConfig(dataset="polymnist", data_dir=str(mnist_dir), synthetic_train=300, synthetic_test=10000,
                     polymnist_modalities=2)
    assert polymnist.digit_source(cfg) == "mnist" and "mnist" in polymnist.content(cfg)
    data = load_paired(cfg, "test")
    x_src, y_src = polymnist.load_digits(cfg, "test")
    assert torch.equal(torch.bincount(data.labels, minlength=10), torch.bincount(y_src, minlength=10))
    # the digits drawn for the first tuples are binarised MNIST test images of the tuple's class
    bg = polymnist.textures(2, cfg.synthetic_seed, polymnist.TEXTURE_SIZE)[0]
    gen = polymnist._gen(cfg.synthetic_seed, "test", "mnist", "crop", 0)
    ys, xs = polymnist.random_crops(bg, len(data), gen)
    crops = polymnist.crop(polymnist.row_windows(bg), ys[:300], xs[:300])
    masks = (data.images[0][:300] != crops).any(1).flatten(1)
    classes = _source_classes(masks, x_src, y_src)
    assert all(int(lab) in cls for lab, cls in zip(data.labels[:300], classes))


def test_config_and_cli_flags(tmp_path):
    from mmvae.cli.main import build_parser
    from mmvae.cli.train_cmd import config_from_args

    args = build_parser().parse_args(["train", "--dataset", "polymnist", "--modalities", "3",
                                      "--backgrounds", str(tmp_path)])
    cfg = config_from_args(args)[0]
    assert (cfg.data.dataset, cfg.data.polymnist_modalities, cfg.data.backgrounds) == ("polymnist", 3, str(tmp_path))
    assert "polymnist" in DATASETS
    bad = RunConfig()
    bad.data.polymnist_modalities = 1
    with pytest.raises(ConfigError, match="polymnist_modalities' must be ≥ 2"):
        validate(bad)
    # a modality's judge is keyed by its images' distribution, which the number of modalities does not change
    assert polymnist.content(_cfg(tmp_path)) == polymnist.content(_cfg(tmp_path, polymnist_modalities=4))
    assert polymnist.content(_cfg(tmp_path)) != polymnist.content(_cfg(tmp_path, synthetic_seed=1))
