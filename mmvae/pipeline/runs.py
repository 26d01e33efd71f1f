"""Loading a finished (or interrupted) run folder back: its config and its trained model."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import RunConfig
from ..data.datasets import dataset_sources
from ..errors import CheckpointError, ConfigError
from ..models import build_model, resolve_model
from ..models.build import model_modality
from ..models.modality import ModalitySpec
from ..training.checkpoint import load_model_state, read_checkpoint
from .components import prepare_model


@dataclass
class LoadedRun:
    run_dir: Path
    cfg: RunConfig
    model: torch.nn.Module
    meta: dict

    @property
    def epochs_done(self) -> int:
        return int(self.meta["epoch"]) - 1


def modalities_for(cfg: RunConfig) -> list[ModalitySpec]:
    """The model's modality slots and shapes, from the dataset's sources (no data is loaded)."""
    specs = [ModalitySpec(s.slot, s.shape) for s in dataset_sources(cfg.data)]
    if resolve_model(cfg.model.model)[0].unimodal:
        specs = [s for s in specs if s.name == model_modality(cfg.model)]
    return specs


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Config and model weights of ``run_dir`` from its verified last checkpoint."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.yaml). Pass a folder written by `mmvae train`.")
    cfg = RunConfig.from_yaml(run_dir / "config.yaml")
    meta, tensors = read_checkpoint(run_dir)
    written_by = (meta.get("config") or {}).get("model", {}).get("model")
    if written_by and written_by != cfg.model.model and resolve_model(written_by)[0] is not resolve_model(cfg.model.model)[0]:
        raise CheckpointError(
            f"The checkpoint in {run_dir} holds a '{written_by}' model, but its config.yaml names '{cfg.model.model}': "
            "the weights cannot be loaded as another model. Restore the run's config.yaml (the checkpoint's record "
            f"{run_dir / 'checkpoints' / 'last.json'} keeps the config it was trained with).")
    model = build_model(cfg.model, modalities_for(cfg))
    load_model_state(model, tensors, source=str(run_dir))
    model = prepare_model(model, cfg, torch.device(device)).eval()
    return LoadedRun(run_dir, cfg, model, meta)
