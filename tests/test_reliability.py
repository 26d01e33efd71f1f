"""Faults: a SIGKILLed run, crashes while checkpointing, tampered checkpoints, unwritable
figures and reports, contradictory options."""
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmvae import pipeline
from mmvae.cli.main import main
from mmvae.errors import CheckpointError, ConfigError, OutputError
from mmvae.training import checkpoint as ckpt
from mmvae.training.checkpoint import read_checkpoint, sha256_file

from .conftest import tiny_config
from .test_cli import TINY

RUN_ARGS = [*TINY, "--epochs", "2", "--checkpoint-every", "2", "--no-figures", "--no-analytics", "--no-final-eval"]
# the networks a user gets by default: conv (narrow here), channels_last, fast routes
CONV_RUN_ARGS = [a for a in RUN_ARGS if a not in ("--no_conv", "--hidden_dims", "32")] + ["--fBase", "4"]


def _weights(run):
    _, t = read_checkpoint(run)
    return {k: v for k, v in t.items() if k.startswith("model/")}


def _rows(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.integration
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(["train", *CONV_RUN_ARGS, "--run-dir", str(full)]) == 0
    env = {**os.environ, "MMVAE_PROGRESS": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_slow_train.py")), "train",
                             *CONV_RUN_ARGS, "--run-dir", str(cut)], env=env)
    record = cut / "checkpoints" / "last.json"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until a mid-epoch checkpoint of epoch 1 exists
        if record.exists():
            meta = json.loads(record.read_text())
            if meta["global_step"] >= 4:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    meta = json.loads(record.read_text())
    assert meta["global_step"] < 24, "the run finished before it could be killed"
    # The crashed folder is recognised: starting over is refused, resuming works.
    assert main(["train", *CONV_RUN_ARGS, "--run-dir", str(cut)]) == 2
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0
    a, b = _weights(full), _weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ra, rb = _rows(full), _rows(cut)
    assert [r["epoch"] for r in rb] == [1, 2]
    for key in ("train_loss", "test_loss", "test_kl_svhn"):
        assert rb[-1][key] == pytest.approx(ra[-1][key], rel=1e-6)
    assert not list((cut / "checkpoints").glob("*.tmp"))


@pytest.mark.integration
def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    before = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())

    def failing_save(tensors, path):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "save_file", failing_save)
    cfg2 = tiny_config(epochs=2)
    cfg2.run_dir = cfg.run_dir
    with pytest.raises(OutputError, match="No space left on device.*previous checkpoint is intact"):
        pipeline.train(cfg2, resume=True)
    monkeypatch.undo()
    after = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert after == before
    read_checkpoint(tmp_path / "run")  # still verifies
    assert not list((tmp_path / "run" / "checkpoints").glob("*.tmp"))


def _retamper(run, change):
    """Edits the weights and updates the recorded SHA-256, as a hand edit would."""
    folder = Path(run) / "checkpoints"
    meta = json.loads((folder / "last.json").read_text())
    path = folder / meta["weights"]
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path)
    meta["sha256"] = sha256_file(path)
    (folder / "last.json").write_text(json.dumps(meta))


@pytest.mark.integration
@pytest.mark.parametrize("change,message", [
    (lambda t: t.pop(next(k for k in t if k.startswith("model/"))), "missing tensors"),
    (lambda t: t.__setitem__(next(k for k in t if k.endswith("weight")), torch.zeros(3, 3)), "wrong shapes"),
    (lambda t: t.__setitem__("model/extra.weight", torch.zeros(2)), "unexpected tensors"),
])
def test_checkpoint_that_does_not_fit_is_refused(tmp_path, change, message):
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    _retamper(cfg.run_dir, change)
    with pytest.raises(CheckpointError, match=message):
        _resume(cfg)


def _resume(cfg):
    cfg2 = tiny_config(epochs=2)
    cfg2.run_dir = cfg.run_dir
    pipeline.train(cfg2, resume=True)


@pytest.mark.integration
def test_checkpoint_records_version_and_config_and_warns_on_mismatch(tmp_path):
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    record = Path(cfg.run_dir) / "checkpoints" / "last.json"
    meta = json.loads(record.read_text())
    assert meta["mmvae_version"] and meta["config_hash"] == cfg.hash()
    meta["mmvae_version"], meta["config_hash"] = "0.0.1", "0" * 16
    record.write_text(json.dumps(meta))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_checkpoint(cfg.run_dir, cfg.hash())
    text = " ".join(str(w.message) for w in caught)
    assert "mmvae 0.0.1" in text and "config hash differs" in text


@pytest.mark.integration
def test_checkpoint_is_never_unpickled(tmp_path):
    """A pickle disguised as weights is rejected by safetensors, not executed."""
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    folder = Path(cfg.run_dir) / "checkpoints"
    meta = json.loads((folder / "last.json").read_text())
    marker = tmp_path / "pwned"
    import pickle

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (folder / meta["weights"]).write_bytes(pickle.dumps(Evil()))
    meta["sha256"] = sha256_file(folder / meta["weights"])
    (folder / "last.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="could not be read as safetensors"):
        read_checkpoint(cfg.run_dir)
    assert not marker.exists()


@pytest.mark.integration
def test_unwritable_figures_do_not_stop_training(tmp_path, monkeypatch):
    import mmvae.training.figures as figs

    def broken(*a, **k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(figs, "save_grid", broken)
    cfg = tiny_config(epochs=1)
    cfg.eval.figures = True
    cfg.run_dir = str(tmp_path / "run")
    with pytest.warns(UserWarning, match="Could not write figure .*Read-only file system"):
        pipeline.train(cfg)
    assert read_checkpoint(cfg.run_dir)[0]["epoch"] == 2


def test_unwritable_report_says_what_failed(tmp_path, monkeypatch):
    from mmvae.report import run_report

    def broken(path, text):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(run_report, "atomic_write_text", broken)
    with pytest.raises(OutputError, match=r"Could not write the report .*checkpoints are intact.*mmvae evaluate"):
        run_report.write_report(tmp_path, {"model": "x"})


@pytest.mark.parametrize("argv,needle", [
    (["--obj", "elbo_naive", "--looser"], "looser"),
    (["--model", "mnist", "--obj", "elbo_naive"], "elbo_naive"),
    (["--dreg-as-released", "--obj", "elbo"], "dreg"),
    (["--nan-policy", "ignore"], "'train.nan_policy' must be one of stop, skip"),
])
def test_contradictory_options(argv, needle, tmp_path, capsys):
    assert main(["train", *TINY, "--run-dir", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_config_file_unknown_key_from_the_cli(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  latent_dimm: 3\n")
    assert main(["train", "--config", str(path)]) == 2
    assert "Did you mean 'latent_dim'" in capsys.readouterr().err


@pytest.mark.integration
def test_resume_refuses_changed_settings(tmp_path, capsys):
    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    assert main(["train", "--resume", cfg.run_dir, "--lr", "0.1"]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "train.lr: 0.001 in the run, 0.1 asked" in err
    with pytest.raises(ConfigError):
        from mmvae.cli.main import build_parser
        from mmvae.cli.train_cmd import config_from_args

        config_from_args(build_parser().parse_args(["train", "--resume", str(tmp_path / "nothing")]))


@pytest.mark.integration
def test_resume_accepts_the_same_values_and_machine_settings(tmp_path, capsys):
    """Repeating the run's own values, or changing where it runs, is no change: no refusal and
    no false "settings differ" warning; the message for a real change names old and new."""
    run = str(tmp_path / "run")
    assert main(["train", *RUN_ARGS, "--epochs", "1", "--run-dir", run]) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "--resume", run, "--model", "mnist_svhn", "--obj", "elbo", "--device", "cpu",
                     "--threads", "1", "--epochs", "2"]) == 0
    assert not [w for w in caught if "settings" in str(w.message) or "hash" in str(w.message)]
    assert [r["epoch"] for r in _rows(run)] == [1, 2]
    capsys.readouterr()
    assert main(["train", "--resume", run, "--model", "fummvae"]) == 2
    assert "model.model: 'mnist_svhn' in the run, 'fummvae' asked" in capsys.readouterr().err.replace("\n", " ")


@pytest.mark.parametrize("change,error", [
    (lambda c: c.model.nets.__setitem__("photo", c.model.nets["mnist"]), "model.nets.photo"),
    (lambda c: setattr(c.data, "dataset", "polymnist") or setattr(c.data, "backgrounds", "/nonexistent/bgs")
     or c.model.nets.clear(), "backgrounds"),
])
def test_bad_input_leaves_no_run_folder(tmp_path, change, error):
    """Data and networks are checked before the run folder is made: nothing is written."""
    from mmvae.errors import MMVAEError

    cfg = tiny_config(epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    change(cfg)
    with pytest.raises(MMVAEError, match=error):
        pipeline.train(cfg)
    assert not (tmp_path / "run").exists()
