"""Experiment trackers (``--log-to tensorboard,wandb,mlflow``) behind one small interface.

A :class:`Tracker` receives the resolved config, metrics at a global step, figures (PNG files)
and the final metrics; one adapter per tracker library translates those calls. Each library is
an optional extra (``pip install 'mmvae[wandb]'``): :func:`check_installed` refuses a missing
one before anything is started. :class:`TrackerCallback` feeds the trainer's step traces,
epoch rows and figures to every tracker; the pipeline opens it on rank 0 only.

Tracker runs go under the run folder unless the user configured the library otherwise:
``RUN_DIR/tensorboard``; W&B offline in ``RUN_DIR/wandb`` (``WANDB_MODE``, ``WANDB_DIR`` and
``WANDB_PROJECT`` are honoured); MLflow in a local store ``RUN_DIR/mlruns`` (``MLFLOW_TRACKING_URI``
and ``MLFLOW_EXPERIMENT_NAME`` are honoured).
"""
from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import TRACKERS
from ..errors import ConfigError

# tracker name → the package it needs
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
assert tuple(PACKAGES) == TRACKERS


def check_installed(names: Iterable[str]) -> None:
    """Refuses trackers whose package is missing, naming the pip command; nothing is started."""
    missing = [n for n in dict.fromkeys(names) if importlib.util.find_spec(PACKAGES[n]) is None]
    if missing:
        listed = ", ".join(missing)
        raise ConfigError(
            f"--log-to {listed} needs the {listed} package{'s' if len(missing) > 1 else ''}, which "
            f"{'are' if len(missing) > 1 else 'is'} not installed in this Python environment. Install "
            f"{'them' if len(missing) > 1 else 'it'} with pip install 'mmvae[{','.join(missing)}]' "
            f"(or pip install {' '.join(PACKAGES[n] for n in missing)}), or drop {listed} from --log-to "
            "(train.log_to). Nothing was started: no run folder was made or changed.")


def numbers(d: Mapping[str, Any] | list | tuple, prefix: str = "", sep: str = "/") -> dict[str, float]:
    """The finite numbers of a nested dict (lists indexed), keys joined with ``sep``; strings,
    booleans and None are left out."""
    out: dict[str, float] = {}
    items = d.items() if isinstance(d, Mapping) else enumerate(d)
    for key, value in items:
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, (Mapping, list, tuple)):
            out.update(numbers(value, name, sep))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
    return out


class Tracker:
    """What the training run tells an experiment tracker."""

    name = ""

    def log_config(self, config: dict) -> None:
        """The resolved run config (nested dict)."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Numbers at a global training step."""

    def log_figure(self, name: str, path: Path, step: int) -> None:
        """A PNG file written by the run, under ``name``."""

    def log_final(self, metrics: dict[str, float]) -> None:
        """The final evaluation's numbers, once."""

    def close(self, failed: bool = False) -> None:
        """Flushes and ends the tracker run (marked failed when training raised)."""


class TensorBoardTracker(Tracker):
    """Event files in ``RUN_DIR/tensorboard``: scalars, images and the config as text."""

    name = "tensorboard"

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        self.last_step = 0

    def log_config(self, config: dict) -> None:
        import yaml

        text = yaml.safe_dump(config, sort_keys=False)
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()))

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.last_step = max(self.last_step, step)

    def log_figure(self, name: str, path: Path, step: int) -> None:
        import matplotlib.image

        image = matplotlib.image.imread(path)
        if image.ndim == 3:
            self.writer.add_image(f"figures/{name}", image[..., :3], step, dataformats="HWC")
        else:
            self.writer.add_image(f"figures/{name}", image, step, dataformats="HW")

    def log_final(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"final/{key}", value, self.last_step)

    def close(self, failed: bool = False) -> None:
        self.writer.close()


class WandbTracker(Tracker):
    """A W&B run, offline into ``RUN_DIR/wandb`` unless ``WANDB_MODE``/``WANDB_DIR`` say otherwise."""

    name = "wandb"

    def __init__(self, run_dir: Path):
        import wandb

        self.wandb = wandb
        kwargs: dict[str, Any] = {"name": Path(run_dir).name}
        if not os.environ.get("WANDB_MODE"):
            kwargs["mode"] = "offline"
        if not os.environ.get("WANDB_DIR"):
            kwargs["dir"] = str(run_dir)
        if not os.environ.get("WANDB_PROJECT"):
            kwargs["project"] = "mmvae"
        if not os.environ.get("WANDB_CONSOLE"):  # leave the terminal (and progress bars) alone
            kwargs["settings"] = wandb.Settings(console="off")
        self.run = wandb.init(**kwargs)

    def log_config(self, config: dict) -> None:
        self.run.config.update(config, allow_val_change=True)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def log_figure(self, name: str, path: Path, step: int) -> None:
        self.run.log({f"figures/{name}": self.wandb.Image(str(path))}, step=step)

    def log_final(self, metrics: dict[str, float]) -> None:
        self.run.summary.update({f"final/{k}": v for k, v in metrics.items()})

    def close(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)


class MlflowTracker(Tracker):
    """An MLflow run in a local store ``RUN_DIR/mlruns`` (SQLite, artifacts beside it) unless
    ``MLFLOW_TRACKING_URI`` names another; params are the flattened config."""

    name = "mlflow"

    def __init__(self, run_dir: Path):
        from mlflow import MlflowClient

        root = Path(run_dir).resolve() / "mlruns"
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # MLflow's plain-file store is deprecated: a SQLite file keeps it local
            root.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{root / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "mmvae"
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            experiment = found.experiment_id
        else:
            location = None if os.environ.get("MLFLOW_TRACKING_URI") else (root / "artifacts").as_uri()
            experiment = self.client.create_experiment(name, artifact_location=location)
        self.run_id = self.client.create_run(experiment, run_name=Path(run_dir).name,
                                             tags={"mmvae.run_dir": str(run_dir)}).info.run_id
        self.last_step = 0

    def log_config(self, config: dict) -> None:
        from mlflow.entities import Param

        flat = _flatten_params(config)
        params = [Param(k, v) for k, v in flat.items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[i:i + 1000])
        self.last_step = max(self.last_step, step)

    def log_figure(self, name: str, path: Path, step: int) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path="figures")

    def log_final(self, metrics: dict[str, float]) -> None:
        self.log_metrics(self.last_step, {f"final/{k}": v for k, v in metrics.items()})

    def close(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


def _flatten_params(d: Mapping, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in d.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(_flatten_params(value, name))
        else:
            out[name] = str(value)[:500]  # older MLflow versions cap param values at 500 characters
    return out


ADAPTERS: dict[str, type[Tracker]] = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker,
                                      "mlflow": MlflowTracker}

# figures written once at the end of training (the per-epoch ones end in _<epoch>.png)
END_FIGURES = ("loss_curves", "umap_posterior_prior", "kl_per_dimension")


class TrackerCallback:
    """Trainer callback that sends step traces, epoch rows and figures to every tracker.

    Per-step numbers go out as ``step/<key>``, epoch rows as ``epoch/<key>``, both at the global
    training step; figures under their file name without the epoch. The pipeline calls
    :meth:`finish` after the final evaluation.
    """

    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    @classmethod
    def open(cls, names: Iterable[str], run_dir: Path, config: dict) -> TrackerCallback:
        """Starts one tracker run per name (each once) and logs the config to each."""
        trackers: list[Tracker] = []
        for name in dict.fromkeys(names):
            try:
                trackers.append(ADAPTERS[name](Path(run_dir)))
                trackers[-1].log_config(config)
            except Exception as e:  # the library's own error: its settings, login or store
                cls(trackers).close(failed=True)
                raise ConfigError(
                    f"The {name} tracker could not start ({type(e).__name__}: {str(e).strip()[:300]}). Check its "
                    "settings (environment variables such as WANDB_MODE or MLFLOW_TRACKING_URI, a login), or drop "
                    f"{name} from --log-to. Nothing was trained; rerun with the same --run-dir.") from e
        return cls(trackers)

    def _each(self, method: str, *args) -> None:
        """Calls ``method`` on every tracker; a tracker that fails is switched off with a warning
        (like figures, trackers never stop training: metrics.jsonl has every number)."""
        for tracker in list(self.trackers):
            try:
                getattr(tracker, method)(*args)
            except Exception as e:  # noqa: BLE001 - any library error
                warnings.warn(f"The {tracker.name} tracker failed ({type(e).__name__}: {e}); it is switched off "
                              "for the rest of this run. The run folder's metrics and figures are unaffected.")
                self.trackers.remove(tracker)
                with contextlib.suppress(Exception):
                    tracker.close(failed=True)

    def on_epoch_end(self, trainer, row: dict) -> None:
        start = trainer.global_step - trainer.step  # global step before this epoch's steps
        for trace in trainer.step_trace:
            values = numbers({k: v for k, v in trace.items() if k not in ("epoch", "step")})
            self._each("log_metrics", start + int(trace["step"]), {f"step/{k}": v for k, v in values.items()})
        self._each("log_metrics", trainer.global_step, {f"epoch/{k}": v for k, v in numbers(row).items()})
        for path in sorted(trainer.fig_dir.glob(f"*_{int(row['epoch']):03d}.png")):
            self._each("log_figure", path.stem[:-4], path, trainer.global_step)

    def on_fit_end(self, trainer) -> None:
        for name in END_FIGURES:
            path = trainer.fig_dir / f"{name}.png"
            if path.is_file():
                self._each("log_figure", name, path, trainer.global_step)

    def finish(self, final_metrics: Mapping | None) -> None:
        """Logs the final evaluation's numbers (``metrics.json``, flattened)."""
        if final_metrics:
            self._each("log_final", numbers(final_metrics))

    def __enter__(self) -> TrackerCallback:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.close(failed=exc_type is not None)
        except Exception:
            if exc_type is None:
                raise

    def close(self, failed: bool = False) -> None:
        """Ends every tracker run, even when one of them fails to close."""
        errors = []
        for tracker in self.trackers:
            try:
                tracker.close(failed)
            except Exception as e:  # noqa: BLE001 - one tracker must not keep the others open
                errors.append(e)
        if errors:
            raise errors[0]
