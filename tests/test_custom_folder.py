"""Users' own paired data from a folder of PNGs and pairs.csv: reading, every refusal, and the
`mmvae data register` record that a later `mmvae train` (another process) finds."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mmvae.cli.main import main
from mmvae.config import DataConfig
from mmvae.data import DATASETS, load_paired, register_folder
from mmvae.data.folders import read_image
from mmvae.errors import DataError


def _write(folder, labels: bool = True, n: int = 6):
    """A folder with a grey 9×11 modality and an RGB 6×6 one; returns the images written."""
    g = np.random.default_rng(0)
    grey = g.integers(0, 256, (n, 9, 11), dtype=np.uint8)
    colour = g.integers(0, 256, (n, 6, 6, 3), dtype=np.uint8)
    (folder / "grey").mkdir(parents=True)
    (folder / "colour").mkdir()
    rows = ["grey,colour,split" + (",label" if labels else "")]
    for i in range(n):
        Image.fromarray(grey[i], "L").save(folder / "grey" / f"g{i}.png")
        Image.fromarray(colour[i], "RGB").save(folder / "colour" / f"c{i}.png")
        rows.append(f"g{i}.png,c{i}.png,{'train' if i < 4 else 'test'}" + (f",{i % 3}" if labels else ""))
    (folder / "pairs.csv").write_text("\n".join(rows) + "\n")
    return grey, colour


def test_folder_is_read_into_aligned_tuples(tmp_path):
    grey, colour = _write(tmp_path / "f")
    info = register_folder("ut-folder", tmp_path / "f")
    assert [s.shape for s in info.sources(None)] == [(1, 9, 11), (3, 6, 6)]
    train = load_paired(DataConfig(dataset="ut-folder"), "train")
    assert train.names == ["grey", "colour"] and len(train) == 4 and train.labels.tolist() == [0, 1, 2, 0]
    assert torch.equal(train.images[0][:, 0], torch.from_numpy(grey[:4]))
    assert torch.equal(train.images[1], torch.from_numpy(colour[:4]).permute(0, 3, 1, 2))
    test = load_paired(DataConfig(dataset="ut-folder"), "test")
    assert len(test) == 2 and test.num_classes == 3


def test_folder_without_labels_and_opaque_alpha(tmp_path):
    _write(tmp_path / "f", labels=False)
    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").shape == (3, 5, 5)  # an opaque alpha channel is dropped
    register_folder("ut-folder-nolabels", tmp_path / "f")
    assert not load_paired(DataConfig(dataset="ut-folder-nolabels"), "train").labelled


def _spoil(folder, kind: str) -> None:
    pairs = folder / "pairs.csv"
    lines = pairs.read_text().splitlines()
    if kind == "missing_image":
        (folder / "colour" / "c2.png").unlink()
    elif kind == "shapes":
        Image.fromarray(np.zeros((9, 10), np.uint8), "L").save(folder / "grey" / "g3.png")
    elif kind == "no_pairs_file":
        pairs.unlink()
    elif kind == "bad_split":
        pairs.write_text("\n".join(lines[:2] + [lines[2].replace("train", "val")] + lines[3:]))
    elif kind == "partial_labels":
        pairs.write_text("\n".join(lines[:3] + [lines[3].rsplit(",", 1)[0] + ","] + lines[4:]))
    elif kind == "label_text":
        pairs.write_text("\n".join(lines[:3] + [lines[3].rsplit(",", 1)[0] + ",cat"] + lines[4:]))
    elif kind == "no_test":
        pairs.write_text("\n".join(line.replace("test", "train") for line in lines))
    elif kind == "no_modality_folder":
        pairs.write_text("\n".join([lines[0].replace("colour", "depth")] + lines[1:]))
    elif kind == "no_split_column":
        pairs.write_text("\n".join(",".join(line.split(",")[:2]) for line in lines))


BAD = [
    ("missing_image", r"names 1 image\(s\) that are not in .*colour/c2\.png"),
    ("shapes", r"modality 'grey' have different shapes: g0\.png is 1×9×11 and g3\.png is 1×9×10"),
    ("no_pairs_file", r"has no pairs\.csv"),
    ("bad_split", r"line 3: split is 'val'"),
    ("partial_labels", r"labels on some rows and not on others \(line 4"),
    ("label_text", r"labels must be integers"),
    ("no_test", r"no 'test' rows"),
    ("no_modality_folder", r"modality 'depth', but .*depth is not a folder"),
    ("no_split_column", r"needs a 'split' column"),
]


@pytest.mark.parametrize("kind,match", BAD, ids=[b[0] for b in BAD])
def test_bad_folders_are_refused_and_nothing_is_recorded(tmp_path, monkeypatch, kind, match):
    monkeypatch.setenv("MMVAE_DATASETS", str(tmp_path / "registry.json"))
    _write(tmp_path / "f")
    _spoil(tmp_path / "f", kind)
    name = f"ut-badfolder-{kind.replace('_', '-')}"
    with pytest.raises(DataError, match=match):
        register_folder(name, tmp_path / "f", remember=True)
    assert name not in DATASETS and not (tmp_path / "registry.json").exists()


def test_cli_register_records_the_folder_and_info_lists_it(tmp_path, monkeypatch, capsys):
    registry = tmp_path / "registry.json"
    monkeypatch.setenv("MMVAE_DATASETS", str(registry))
    _write(tmp_path / "f")
    assert main(["data", "register", "ut-cli-folder", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    assert "modality grey: 1×9×11" in out and "modality colour: 3×6×6" in out and "3 classes" in out
    assert json.loads(registry.read_text()) == {"ut-cli-folder": {"folder": str((tmp_path / "f").resolve())}}
    assert main(["data", "info"]) == 0
    assert f"ut-cli-folder {(tmp_path / 'f').resolve()}" in capsys.readouterr().out
    _spoil(tmp_path / "f", "missing_image")
    assert main(["data", "register", "ut-cli-other", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and "not in" in err
    assert list(json.loads(registry.read_text())) == ["ut-cli-folder"]


def test_builtin_name_is_refused_by_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMVAE_DATASETS", str(tmp_path / "registry.json"))
    _write(tmp_path / "f")
    assert main(["data", "register", "mnist_svhn", str(tmp_path / "f")]) == 2
    assert "built-in dataset" in capsys.readouterr().err and not (tmp_path / "registry.json").exists()


@pytest.mark.integration
def test_a_registered_folder_trains_in_a_fresh_process(tmp_path):
    """`mmvae data register` in one process, `mmvae train --dataset NAME` in another."""
    env = {**os.environ, "MMVAE_DATASETS": str(tmp_path / "registry.json"), "MMVAE_PROGRESS": "0"}
    _write(tmp_path / "f", n=12)

    def mmvae(*argv):
        return subprocess.run([sys.executable, "-m", "mmvae", *argv], env=env, capture_output=True, text=True,
                              timeout=300)

    assert mmvae("data", "register", "ut-fresh", str(tmp_path / "f")).returncode == 0
    run = mmvae("train", "--dataset", "ut-fresh", "--run-dir", str(tmp_path / "run"), "--epochs", "1",
                "--batch-size", "4", "--latent-dim", "2", "--no-final-eval", "--no-analytics", "--test-K", "2")
    assert run.returncode == 0, run.stderr
    assert "dataset: ut-fresh" in (tmp_path / "run" / "config.yaml").read_text()
    assert (tmp_path / "run" / "figures" / "gen_colour_001.png").is_file()
