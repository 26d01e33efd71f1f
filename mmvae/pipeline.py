"""Composes data, model and objective from a :class:`RunConfig`: what ``mmvae train`` runs.

Library use::

    from mmvae.config import RunConfig
    from mmvae import pipeline
    cfg = RunConfig(); cfg.train.obj = "elbo_naive"; cfg.train.epochs = 2
    run_dir = pipeline.train(cfg)
"""
from __future__ import annotations

import datetime
import functools
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import RunConfig, validate
from .data import load_paired, load_unimodal
from .data.paired import PairedData
from .errors import ConfigError, OutputError
from .models.build import build_model, model_kind
from .models.modality import ModalitySpec
from .objectives import OBJECTIVES, resolve_objective_name
from .training.checkpoint import atomic_write_text, has_checkpoint
from .training.distributed import from_environment
from .training.trainer import Trainer


@dataclass
class Components:
    cfg: RunConfig
    device: torch.device
    model: torch.nn.Module
    objective: object
    objective_name: str
    info: object
    K: int
    train_data: PairedData | None
    test_data: PairedData


def resolve_device(name: str) -> torch.device:
    if torch.cuda.is_available():  # TF32 matmuls/convs on GPU: ~1e-3 relative, ample for VAEs
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} was asked for but no CUDA GPU is available; use --device cpu.")
    return torch.device(name)


def load_data(cfg: RunConfig, splits=("train", "test")) -> dict[str, PairedData]:
    """Paired data for multimodal models; the model's modality alone for unimodal ones."""
    out = {}
    for split in splits:
        if model_kind(cfg.model) == "unimodal":
            out[split] = load_unimodal(cfg.data, cfg.model.model, split)
        else:
            out[split] = load_paired(cfg.data, split)
    return out


def make_objective(cfg: RunConfig):
    """(callable(out, xs) → ObjectiveResult, registered name, info, K)."""
    kind = model_kind(cfg.model)
    name = resolve_objective_name(cfg.train.obj, kind, cfg.train.looser)
    info = OBJECTIVES.get(name)
    options = {}
    if "dreg" in name:
        options["as_released"] = cfg.train.dreg_as_released
    elif cfg.train.dreg_as_released:
        raise ConfigError("--dreg-as-released applies only to the dreg objectives.")
    if info.kind == "factorised":
        options["weights"] = dict(cfg.train.objective_weights)
    elif cfg.train.objective_weights:
        raise ConfigError("objective_weights apply only to the factorised (fummvae) objectives.")
    K = cfg.train.K or (20 if info.estimator == "iwae" else 1)
    if info.estimator == "iwae" and K == 1:
        warnings.warn(f"{name} with K=1 is an ELBO (one importance sample); pass --K > 1 for a tighter bound.")
    fn = functools.partial(info.fn, **options) if options else info.fn
    return fn, name, info, K


def build(cfg: RunConfig, splits=("train", "test"), device: torch.device | None = None) -> Components:
    validate(cfg)
    device = device or resolve_device(cfg.train.device)
    data = load_data(cfg, splits)
    test = data["test"]
    if cfg.eval.test_pairs == "distinct":
        test = test.distinct()
    train = data.get("train")
    if train is not None and cfg.train.batch_size > len(train):
        raise ConfigError(
            f"--batch-size {cfg.train.batch_size} is larger than the training set ({len(train)} pairs). "
            "Lower the batch size or use more data (larger --dm / --max_d)."
        )
    fn, name, info, K = make_objective(cfg)
    torch.manual_seed(cfg.train.seed)
    mods = [ModalitySpec(n, s) for n, s in zip(test.names, test.shapes)]
    model = build_model(cfg.model, mods).to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Components(cfg, device, model, fn, name, info, K,
                      train.to(device) if train is not None else None, test.to(device))


def figure_batch(data: PairedData, seed: int, n: int = 256):
    """A fixed random subset of the test pairs (pairs are stored sorted by digit)."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data), generator=gen)[:n].to(data.device)
    return data.gather(idx)


def new_run_dir(cfg: RunConfig) -> Path:
    if cfg.run_dir:
        return Path(cfg.run_dir)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    group = cfg.experiment or cfg.model.model
    return Path("runs") / group / f"{stamp}-{secrets.token_hex(2)}"


def prepare_run_dir(run_dir: Path, cfg: RunConfig, resume: bool) -> None:
    if not resume and has_checkpoint(run_dir):
        raise ConfigError(
            f"{run_dir} already holds a trained run. Continue it with `mmvae train --resume {run_dir}`, "
            "or choose another --run-dir; nothing was overwritten."
        )
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
    if cfg.data.dataset == "auto":
        from .data.datasets import resolve_dataset

        cfg.data.dataset, reason = resolve_dataset(cfg.data)
        if is_rank_zero():
            print(f"dataset: {cfg.data.dataset} ({reason})")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    dist, dist_device = from_environment(cfg.train.device)
    run_dir = new_run_dir(cfg)
    if dist.is_main:
        prepare_run_dir(run_dir, cfg, resume)
    dist.barrier()
    comp = build(cfg, device=dist_device)
    dist.device = comp.device
    if cfg.train.compile:
        comp.model = torch.compile(comp.model)
    fig_xs, fig_labels = figure_batch(comp.test_data, cfg.train.seed)
    trainer = Trainer(cfg, run_dir, comp.model, comp.objective, comp.info, comp.K,
                      comp.train_data, comp.test_data, (fig_xs, fig_labels), dist, callbacks)
    if resume:
        trainer.resume()
    trainer.fit()
    if cfg.eval.final_eval and dist.is_main:
        from .evaluation.final import evaluate_and_report

        evaluate_and_report(cfg, comp.model, run_dir, comp.train_data, comp.test_data, trainer.epoch - 1)
    return run_dir


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
