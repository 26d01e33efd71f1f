"""Experiment trackers (--log-to): the names, the check that a tracker is installed, and each
adapter offline, reading back what it wrote (TensorBoard event files, the W&B offline run's
records, MLflow's local store); one tiny end-to-end run with all three."""
from __future__ import annotations

import json
import re
import types
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mmvae import pipeline
from mmvae.cli.main import main
from mmvae.config import TRACKERS, RunConfig, validate
from mmvae.errors import ConfigError
from mmvae.training import loggers
from mmvae.training.loggers import ADAPTERS, Tracker, TrackerCallback, numbers

from .conftest import tiny_config


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Each library's defaults, as a user without tracker settings has them; W&B quiet."""
    for var in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_CONSOLE", "MLFLOW_TRACKING_URI",
                "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


def need(name: str):
    return pytest.importorskip(loggers.PACKAGES[name], reason=f"{name} is not installed (pip install 'mmvae[{name}]')")


# ---------------------------------------------------------------------- names and installation


def test_names_are_checked_and_do_not_change_the_run(capsys):
    assert set(ADAPTERS) == set(TRACKERS) == set(loggers.PACKAGES)
    cfg = RunConfig()
    cfg.train.log_to = ["tensorbord"]
    with pytest.raises(ConfigError, match="did you mean 'tensorboard'"):
        validate(cfg)
    cfg.train.log_to = ["tensorboard", "mlflow"]
    assert validate(cfg).hash() == RunConfig().hash()
    assert main(["train", "--log-to", "wandb,mlfow", "--epochs", "1"]) == 2
    assert "not 'mlfow'; did you mean 'mlflow'" in " ".join(capsys.readouterr().err.split())


def test_cli_flag_takes_a_comma_separated_list():
    from mmvae.cli.main import build_parser
    from mmvae.cli.train_cmd import config_from_args

    cfg, _ = config_from_args(build_parser().parse_args(["train", "--log-to", "tensorboard, wandb"]))
    assert cfg.train.log_to == ["tensorboard", "wandb"]


def test_a_tracker_not_installed_stops_before_anything_is_made(tmp_path, monkeypatch):
    monkeypatch.setitem(loggers.PACKAGES, "wandb", "mmvae_no_such_package")
    cfg = tiny_config(log_to=["tensorboard", "wandb"])
    cfg.run_dir = str(tmp_path / "run")
    with pytest.raises(ConfigError) as e:
        pipeline.train(cfg)
    msg = " ".join(str(e.value).split())
    assert "--log-to wandb needs the wandb package" in msg and "pip install 'mmvae[wandb]'" in msg
    assert "Nothing was started" in msg and not (tmp_path / "run").exists()


def test_a_tracker_that_cannot_start_is_one_paragraph(tmp_path, monkeypatch):
    need("tensorboard")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")
    need("mlflow")
    with pytest.raises(ConfigError, match="The mlflow tracker could not start .*MLFLOW_TRACKING_URI"):
        TrackerCallback.open(["tensorboard", "mlflow"], tmp_path, {})


def test_numbers_flattens_the_final_metrics():
    metrics = {"joint_coherence": {"accuracy": 0.5}, "latent": [0.1, 0.2], "protocol": {"a": "text"},
               "ok": True, "none": None, "nan": float("nan"), "epochs": 3}
    assert numbers(metrics) == {"joint_coherence/accuracy": 0.5, "latent/0": 0.1, "latent/1": 0.2, "epochs": 3.0}


def test_a_failing_tracker_is_switched_off_and_training_goes_on(tmp_path):
    class Broken(Tracker):
        name = "broken"
        closed = None

        def log_metrics(self, step, metrics):
            raise RuntimeError("server went away")

        def close(self, failed=False):
            Broken.closed = failed

    cb = TrackerCallback([Broken()])
    with pytest.warns(UserWarning, match="broken tracker failed .*switched off"):
        cb.on_epoch_end(_trainer(tmp_path), {"epoch": 1, "train_loss": 1.0})
    assert cb.trackers == [] and Broken.closed is True


# ---------------------------------------------------------------------- each adapter, read back


def _trainer(run_dir: Path) -> types.SimpleNamespace:
    """What the callback reads of a trainer at the end of epoch 1 (4 steps) and of training."""
    figures = run_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    plt.imsave(figures / "gen_mnist_001.png", np.random.default_rng(0).random((10, 12)), cmap="gray")
    plt.imsave(figures / "loss_curves.png", np.random.default_rng(1).random((10, 12, 3)))
    trace = [{"epoch": 1, "step": 2, "epoch_f": 0.5, "loss": 3.0}, {"epoch": 1, "step": 4, "epoch_f": 1.0, "loss": 2.0}]
    return types.SimpleNamespace(global_step=4, step=4, fig_dir=figures, step_trace=trace)


def _drive(name: str, run_dir: Path) -> None:
    cb = TrackerCallback.open([name], run_dir, {"model": {"latent_dim": 4}, "train": {"lr": 0.001}})
    trainer = _trainer(run_dir)
    with cb:
        cb.on_epoch_end(trainer, {"epoch": 1, "train_loss": 2.5, "test_loss": 2.75, "bad": float("nan")})
        cb.on_fit_end(trainer)
        cb.finish({"joint_coherence": {"accuracy": 0.5}, "protocol": {"coherence": "text"}})


def tensorboard_log(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard(tmp_path):
    need("tensorboard")
    _drive("tensorboard", tmp_path)
    acc = tensorboard_log(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("step/loss")] == [(2, 3.0), (4, 2.0)]
    assert [(e.step, e.value) for e in acc.Scalars("epoch/test_loss")] == [(4, 2.75)]
    assert acc.Scalars("final/joint_coherence/accuracy")[0].value == 0.5
    assert "epoch/bad" not in acc.Tags()["scalars"]
    assert {"figures/gen_mnist", "figures/loss_curves"} <= set(acc.Tags()["images"])
    assert b"latent_dim: 4" in acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0]


def wandb_records(run_dir: Path) -> dict[str, dict]:
    """history (merged over steps), summary and config of the offline run's transaction log,
    read with W&B's protobuf records (the log is LevelDB-framed after a 7-byte header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = next((run_dir / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
    assert data[:4] == b":W&B"
    out: dict[str, dict] = {"history": {}, "summary": {}, "config": {}}
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # a block's tail too short for a record header is padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        pending, pos = pending + data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(pending)
            pending, which = b"", record.WhichOneof("record_type")
            items = {"history": lambda r: r.history.item, "summary": lambda r: r.summary.update,
                     "config": lambda r: r.config.update}.get(which)
            if items:
                out[which].update({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items(record)})
    return out


def test_wandb_offline(tmp_path):
    need("wandb")
    _drive("wandb", tmp_path)
    rec = wandb_records(tmp_path)
    assert rec["config"]["model"] == {"latent_dim": 4}
    assert rec["history"]["epoch/test_loss"] == 2.75 and rec["history"]["_step"] == 4
    assert "epoch/bad" not in rec["history"]
    assert rec["history"]["figures/gen_mnist/_type"] == "image-file"
    assert rec["summary"]["final/joint_coherence/accuracy"] == 0.5
    media = next((tmp_path / "wandb").glob("offline-run-*/files/media/images/figures"))
    assert {re.sub(r"_\d+_\w+\.png$", "", p.name) for p in media.iterdir()} == {"gen_mnist", "loss_curves"}


def mlflow_run(run_dir: Path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir.resolve() / 'mlruns' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("mmvae").experiment_id])
    return client, run


@pytest.mark.integration
def test_mlflow_local_store(tmp_path):
    """In the integration tier: MLflow builds its SQLite schema for each new store (about 5 s)."""
    need("mlflow")
    _drive("mlflow", tmp_path)
    client, run = mlflow_run(tmp_path)
    assert run.info.status == "FINISHED" and run.data.params["model.latent_dim"] == "4"
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "step/loss")] == [(2, 3.0), (4, 2.0)]
    assert run.data.metrics["epoch/test_loss"] == 2.75 and "epoch/bad" not in run.data.metrics
    assert run.data.metrics["final/joint_coherence/accuracy"] == 0.5
    arts = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "figures")}
    assert arts == {"gen_mnist_001.png", "loss_curves.png"}
    assert str(tmp_path / "mlruns") in run.info.artifact_uri


# ---------------------------------------------------------------------- a real run


@pytest.mark.integration
def test_a_tiny_run_logs_to_all_three(tmp_path):
    for name in TRACKERS:
        need(name)
    cfg = tiny_config(epochs=2, max_steps=3, log_to=list(TRACKERS))
    cfg.eval.figures = cfg.eval.final_eval = True
    cfg.eval.n_figure = 4
    cfg.eval.classifier_epochs, cfg.eval.iwae_K, cfg.eval.iwae_pairs = 1, 2, 10
    cfg.eval.joint_samples, cfg.eval.probe_train, cfg.eval.test_K = 100, 200, 0
    cfg.eval.classifier_dir = str(tmp_path / "clf")
    cfg.run_dir = str(tmp_path / "run")
    run_dir = pipeline.train(cfg)
    final = numbers(json.loads((run_dir / "metrics.json").read_text()))
    key = "joint_coherence/accuracy"
    acc = tensorboard_log(run_dir)
    assert [e.step for e in acc.Scalars("epoch/train_loss")] == [3, 6]
    assert acc.Scalars(f"final/{key}")[0].value == pytest.approx(final[key])
    assert any(t.startswith("figures/gen_") for t in acc.Tags()["images"])
    rec = wandb_records(run_dir)
    assert rec["summary"][f"final/{key}"] == pytest.approx(final[key]) and rec["history"]["_step"] == 6
    client, run = mlflow_run(run_dir)
    assert len(client.get_metric_history(run.info.run_id, "epoch/test_loss")) == 2
    assert run.data.metrics[f"final/{key}"] == pytest.approx(final[key]) and run.info.status == "FINISHED"
    assert run.data.params["train.log_to"] == str(list(TRACKERS))
