"""``mmvae train`` as a library call: a run folder, the trainer, the final evaluation."""
from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path

import torch

from ..config import RunConfig, validate
from ..errors import ConfigError, OutputError
from ..training.checkpoint import has_checkpoint
from ..training.distributed import from_environment
from ..training.loggers import TrackerCallback, check_installed
from ..training.trainer import Trainer
from ..utils import atomic_write_text
from .components import build, epoch_metrics, figure_batch


def new_run_dir(cfg: RunConfig) -> Path:
    if cfg.run_dir:
        return Path(cfg.run_dir)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    group = cfg.experiment or cfg.model.model
    return Path("runs") / group / f"{stamp}-{secrets.token_hex(2)}"


def refuse_overwrite(run_dir: Path, resume: bool) -> None:
    if not resume and has_checkpoint(run_dir):
        raise ConfigError(
            f"{run_dir} already holds a trained run. Continue it with `mmvae train --resume {run_dir}`, "
            "or choose another --run-dir; nothing was overwritten."
        )


def prepare_run_dir(run_dir: Path, cfg: RunConfig) -> None:
    """The run folder with its figures/ and checkpoints/ and config.yaml (written last of all
    checks, so bad input leaves nothing behind)."""
    try:
        (run_dir / "figures").mkdir(parents=True, exist_ok=True)
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise OutputError(f"Cannot write to the run folder {run_dir}: {e}. Choose a writable --run-dir.") from None
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())


def train(cfg: RunConfig, resume: bool = False, callbacks=None) -> Path:
    """Trains (or resumes) a run and returns its folder."""
    validate(cfg)
    check_installed(cfg.train.log_to)  # a missing tracker package stops here, before any folder is made
    if cfg.data.dataset == "auto":
        from ..data.datasets import resolve_dataset

        cfg.data.dataset, reason = resolve_dataset(cfg.data)
        if is_rank_zero():
            print(f"dataset: {cfg.data.dataset} ({reason})")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    dist, dist_device = from_environment(cfg.train.device)
    run_dir = new_run_dir(cfg)
    if dist.is_main:
        refuse_overwrite(run_dir, resume)
    comp = build(cfg, device=dist_device)  # loads and checks the data and networks first
    if dist.is_main:
        prepare_run_dir(run_dir, cfg)
    dist.barrier()
    dist.device = comp.device
    if cfg.train.compile:
        comp.model = torch.compile(comp.model)
    fig_xs, fig_labels = figure_batch(comp.test_data, cfg.train.seed)
    tracking = TrackerCallback.open(cfg.train.log_to if dist.is_main else (), run_dir, cfg.to_dict())
    trainer = Trainer(cfg, run_dir, comp.model, comp.objective, comp.info, comp.K,
                      comp.train_data, comp.test_data, (fig_xs, fig_labels), dist, [*(callbacks or []), tracking],
                      options=comp.options, epoch_metrics=epoch_metrics(cfg, comp.train_data, comp.test_data))
    with tracking:  # the tracker runs end (marked failed on an exception) after the final evaluation
        if resume:
            trainer.resume()
        trainer.fit()
        if cfg.eval.final_eval and dist.is_main:
            from .evaluate import evaluate_and_report

            tracking.finish(evaluate_and_report(cfg, comp.model, run_dir, comp.train_data, comp.test_data,
                                                trainer.epoch - 1))
    return run_dir


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
