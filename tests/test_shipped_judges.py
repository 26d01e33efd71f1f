"""The judges shipped inside the package: their files match their records, they reach the
accuracy targets, evaluation uses them without training, and a changed file is refused by name."""
import json
import shutil

import pytest

from mmvae.config import DataConfig
from mmvae.data.datasets import DATASETS
from mmvae.data.sources import SOURCES
from mmvae.errors import CheckpointError
from mmvae.evaluation import judges
from mmvae.evaluation.judges import TARGETS, get_classifier, shipped_records
from mmvae.utils import sha256_file

# PolyMNIST's five modalities with real MNIST digits (as in the literature); PolyMNIST on the
# synthetic handwriting trains its judges on first use (99.9% in about a minute each), so that the
# shipped weights stay within the project's 3 MB
EXPECTED = sorted(["mnist", "synthmnist", "synthsvhn", *[f"polymnist_m{i}" for i in range(5)]])
MAX_BYTES = 3 * 10**6


def test_every_judge_ships_with_its_record_and_hash():
    records = shipped_records()
    assert sorted(meta["source"] for _, meta in records) == EXPECTED
    digits = {meta["distribution"][3] for _, meta in records if meta["source"].startswith("polymnist")}
    assert digits == {"mnist"}
    total = 0
    for path, meta in records:
        assert path.is_file(), path
        assert sha256_file(path) == meta["sha256"], f"{path} does not match its record"
        assert meta["dtype"] == "float16" and meta["command"].startswith("mmvae classifiers train --source")
        assert len(meta["data_sha256"]) == 64 and meta["n_train"] >= 50000
        target = TARGETS["real"] if meta["distribution"][1:] == ["real"] else TARGETS["generated"]
        assert meta["test_accuracy"] >= target, f"{meta['source']}: {meta['test_accuracy']:.4f} < {target}"
        total += path.stat().st_size + path.with_suffix(".json").stat().st_size
    assert total <= MAX_BYTES, f"shipped judges take {total / 2**20:.2f} MB"


def test_evaluation_uses_the_shipped_judges_without_training(tmp_path):
    said = []
    cfg = DataConfig(synthetic_train=300, synthetic_test=100)  # any size: the same generator
    for name in ("synthmnist", "synthsvhn"):
        clf = get_classifier(SOURCES.get(name), cfg, folder=tmp_path, log=said.append)
        assert clf.shipped and clf.describe()["shipped"] and clf.version >= 3
    assert not said and not list(tmp_path.iterdir())  # nothing trained, nothing cached


def test_polymnist_on_real_digits_uses_the_shipped_judges(tmp_path, mnist_dir):
    cfg = DataConfig(dataset="polymnist", data_dir=str(mnist_dir.parent))
    said = []
    for source in DATASETS.get("polymnist").sources(cfg):
        clf = get_classifier(source, cfg, folder=tmp_path, log=said.append)
        assert clf.shipped and clf.test_accuracy >= TARGETS["generated"]
    assert not said and not list(tmp_path.iterdir())


def test_a_changed_shipped_judge_is_refused_by_name(tmp_path, monkeypatch):
    copy = tmp_path / "judges"
    shutil.copytree(judges.shipped_dir(), copy)
    monkeypatch.setattr(judges, "shipped_dir", lambda: copy)
    weights = next(copy.glob("synthsvhn-*.safetensors"))
    raw = bytearray(weights.read_bytes())
    raw[-5] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"judge shipped with mmvae for 'synthsvhn'.*Reinstall mmvae.*--ship"):
        get_classifier(SOURCES.get("synthsvhn"), DataConfig(), folder=tmp_path / "cache", log=print)
    record = json.loads(next(copy.glob("synthmnist-*.json")).read_text())
    assert record["source"] == "synthmnist"  # the others are untouched and still load
    assert get_classifier(SOURCES.get("synthmnist"), DataConfig(), folder=tmp_path / "cache", log=print).shipped


def test_other_data_falls_back_to_training_a_judge(tmp_path):
    """PolyMNIST with other textures, or on the synthetic handwriting, is another distribution:
    no shipped judge applies."""
    for cfg in (DataConfig(dataset="polymnist", synthetic_seed=7), DataConfig(dataset="polymnist")):
        source = DATASETS.get("polymnist").sources(cfg)[0]
        assert judges.shipped_judge(source, cfg) is None
