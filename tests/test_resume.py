"""A run killed mid-epoch and resumed ends with the same weights as an uninterrupted one (CPU)."""
import json

import pytest
import torch

from mmvae import pipeline
from mmvae.errors import CheckpointError, ConfigError
from mmvae.training.checkpoint import read_checkpoint
from mmvae.training.trainer import Trainer

from .conftest import tiny_config

pytestmark = pytest.mark.integration  # end-to-end training runs


def _weights(run_dir):
    _, tensors = read_checkpoint(run_dir)
    return {k: v for k, v in tensors.items() if k.startswith("model/")}


def _interrupt_at(monkeypatch, global_step):
    original = Trainer.train_step

    def step(self, xs):
        if self.global_step == global_step:
            raise KeyboardInterrupt
        return original(self, xs)

    monkeypatch.setattr(Trainer, "train_step", step)


def test_resume_mid_epoch_matches_uninterrupted(tmp_path, monkeypatch):
    full = tiny_config()
    full.run_dir = str(tmp_path / "full")
    pipeline.train(full)

    cut = tiny_config(checkpoint_every=4)
    cut.run_dir = str(tmp_path / "cut")
    _interrupt_at(monkeypatch, 18)  # epoch 2 of 12-step epochs; last checkpoint at step 16
    with pytest.raises(KeyboardInterrupt):
        pipeline.train(cut)
    meta, _ = read_checkpoint(cut.run_dir)
    assert (meta["epoch"], meta["step"], meta["global_step"]) == (2, 4, 16)
    monkeypatch.undo()
    pipeline.train(cut, resume=True)

    a, b = _weights(full.run_dir), _weights(cut.run_dir)
    assert a.keys() == b.keys() and len(a) > 4
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = [json.loads(line) for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    full_rows = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["train_loss"] == pytest.approx(full_rows[-1]["train_loss"], rel=1e-6)
    assert rows[-1]["test_loss"] == pytest.approx(full_rows[-1]["test_loss"], rel=1e-6)


def test_tampered_checkpoint_is_refused(tmp_path):
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    meta = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    weights = tmp_path / "run" / "checkpoints" / meta["weights"]
    raw = bytearray(weights.read_bytes())
    raw[-10] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        pipeline.train(cfg, resume=True)


def test_existing_run_is_not_overwritten(tmp_path):
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match="already holds a trained run.*--resume"):
        pipeline.train(cfg)
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == before
