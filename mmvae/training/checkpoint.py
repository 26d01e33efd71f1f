"""Checkpoints as safetensors + JSON: no pickle, atomic, verified on load.

A checkpoint is ``checkpoints/ckpt-<global step>.safetensors`` (model and optimiser tensors,
RNG states) plus ``checkpoints/last.json``, which names that file, its SHA-256, the epoch and
step, the optimiser hyper-parameters, running sums and the package version and config hash.
The JSON is renamed into place last, so it always points at a complete weights file; older
weights files are removed after.
"""
from __future__ import annotations

import json
import os
import secrets
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError, OutputError
from ..utils import atomic_write_text, sha256_file

FORMAT = 1


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Optimiser state as flat tensors ``optim/<param>/<key>`` and JSON-able param groups."""
    sd = opt.state_dict()
    tensors = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim/{pid}/{key}"] = t.detach().cpu().contiguous()
    return tensors, sd["param_groups"]


def save_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, meta: dict[str, Any]) -> Path:
    """Writes weights + JSON atomically; ``meta`` must hold a ``global_step``."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_tensors, groups = optimizer_tensors(opt)
    tensors.update(opt_tensors)
    tensors["rng/cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng/cuda"] = torch.cuda.get_rng_state()
    # A fresh name each time: the file last.json points to is never overwritten, so a crash at
    # any moment leaves either the old or the new checkpoint complete and recorded.
    name = f"ckpt-{meta['global_step']:09d}-{secrets.token_hex(3)}.safetensors"
    weights = folder / name
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=name + ".", suffix=".tmp")
        os.close(fd)
        save_file(tensors, tmp)
        os.replace(tmp, weights)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"Could not write checkpoint {weights}: {e}. Check free space and permissions; "
                          "the previous checkpoint is intact.") from None
    from .. import __version__

    record = dict(meta, format=FORMAT, weights=name, sha256=sha256_file(weights),
                  param_groups=groups, mmvae_version=__version__)
    atomic_write_text(folder / "last.json", json.dumps(record, indent=1))
    for old in folder.glob("ckpt-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return weights


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / "checkpoints" / "last.json").is_file()


def read_checkpoint(run_dir: Path, expected_config_hash: str | None = None):
    """(meta, tensors) of a run folder's last checkpoint, verified; never unpickles."""
    folder = Path(run_dir) / "checkpoints"
    meta_path = folder / "last.json"
    if not meta_path.is_file():
        raise CheckpointError(
            f"{run_dir} has no checkpoint ({meta_path} is missing). Train first with "
            f"`mmvae train --run-dir {run_dir}`, or point at a run folder that has one."
        )
    try:
        meta = json.loads(meta_path.read_text())
        weights = folder / meta["weights"]
        want = meta["sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path} is not a valid checkpoint record ({e}). Delete the run's "
                              "checkpoints folder to start over.") from None
    if not weights.is_file():
        raise CheckpointError(f"Checkpoint weights {weights} named by {meta_path} are missing.")
    if sha256_file(weights) != want:
        raise CheckpointError(
            f"Checkpoint {weights} does not match the SHA-256 recorded in {meta_path}: the file was "
            "changed or damaged after it was written. Restore it or retrain; it will not be loaded."
        )
    try:
        tensors = load_file(weights)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"Checkpoint {weights} could not be read as safetensors ({e}).") from None
    from .. import __version__

    if meta.get("mmvae_version") != __version__:
        warnings.warn(f"Checkpoint was written by mmvae {meta.get('mmvae_version')}, this is {__version__}.")
    if expected_config_hash and meta.get("config_hash") != expected_config_hash:
        warnings.warn("Checkpoint config hash differs from the current configuration: the run's "
                      "settings were changed since it was written.")
    return meta, tensors


def load_model_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Loads ``model/…`` tensors strictly, with a clear error on missing, extra or misshapen ones."""
    state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    state = model.upgrade_state_dict(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [f"{k}: {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{'…' if len(missing) > 5 else ''}")
        if extra:
            parts.append(f"unexpected tensors {extra[:5]}{'…' if len(extra) > 5 else ''}")
        if shapes:
            parts.append(f"wrong shapes ({'; '.join(shapes[:3])})")
        raise CheckpointError(
            f"The {source} does not fit this model: {', '.join(parts)}. It was written for another "
            "architecture or configuration; use the run's own config.yaml."
        )
    model.load_state_dict(state, strict=True)


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, pid, name = key.split("/", 2)
            state.setdefault(int(pid), {})[name] = value
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"Optimiser state in the checkpoint does not fit: {e}") from None
    match_param_layouts(opt)


def match_param_layouts(opt: torch.optim.Optimizer) -> None:
    """Puts each per-parameter state tensor (Adam's moments) in its parameter's memory layout.

    Checkpoints store tensors contiguous, and ``load_state_dict`` keeps that layout; a
    channels_last conv weight would then be updated with moments in another layout. The fused
    Adam kernel walks both as flat memory, so element i of the weight met element i of a
    differently ordered moment: resumed runs drifted from uninterrupted ones. Copying each moment
    into ``empty_like(param)`` restores the live layout (values unchanged).
    """
    for group in opt.param_groups:
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    opt.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
