"""A run killed mid-epoch and resumed ends with the same weights as an uninterrupted one (CPU)."""
import json

import pytest
import torch

from mmvae import pipeline
from mmvae.errors import CheckpointError, ConfigError
from mmvae.training.checkpoint import read_checkpoint
from mmvae.training.trainer import Trainer

from .conftest import tiny_config, tiny_conv_config

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


def _same_run(full_dir, cut_dir):
    a, b = _weights(full_dir), _weights(cut_dir)
    assert a.keys() == b.keys() and len(a) > 4
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = [json.loads(line) for line in (cut_dir / "metrics.jsonl").read_text().splitlines()]
    full_rows = [json.loads(line) for line in (full_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in full_rows]
    assert rows[-1]["train_loss"] == full_rows[-1]["train_loss"]
    assert rows[-1]["test_loss"] == full_rows[-1]["test_loss"]


# (interrupted before global step, checkpoint_every, where the last checkpoint is)
CUTS = {"mid-epoch": (18, 4, (2, 4, 16)), "epoch boundary": (13, 0, (2, 0, 12))}


@pytest.mark.parametrize("arch", ["conv", "fc"])
@pytest.mark.parametrize("cut_at", list(CUTS))
def test_resume_matches_uninterrupted(tmp_path, monkeypatch, arch, cut_at):
    """Bit-identical weights and losses after an interruption, with the default conv networks
    (channels_last, fast routes) and with FC networks."""
    make = tiny_conv_config if arch == "conv" else tiny_config
    full = make()
    full.run_dir = str(tmp_path / "full")
    pipeline.train(full)

    step, every, where = CUTS[cut_at]
    cut = make(checkpoint_every=every)
    cut.run_dir = str(tmp_path / "cut")
    _interrupt_at(monkeypatch, step)  # 12-step epochs
    with pytest.raises(KeyboardInterrupt):
        pipeline.train(cut)
    meta, _ = read_checkpoint(cut.run_dir)
    assert (meta["epoch"], meta["step"], meta["global_step"]) == where
    monkeypatch.undo()
    pipeline.train(cut, resume=True)
    _same_run(tmp_path / "full", tmp_path / "cut")


def test_extending_a_finished_run_matches_a_longer_run(tmp_path):
    """A finished 1-epoch run resumed with --epochs 2 equals a 2-epoch run (conv networks)."""
    full = tiny_conv_config(epochs=2)
    full.run_dir = str(tmp_path / "full")
    pipeline.train(full)
    short = tiny_conv_config(epochs=1)
    short.run_dir = str(tmp_path / "cut")
    pipeline.train(short)
    short.train.epochs = 2
    pipeline.train(short, resume=True)
    _same_run(tmp_path / "full", tmp_path / "cut")


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
