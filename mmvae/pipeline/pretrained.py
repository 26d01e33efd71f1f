"""Trained models as a folder of two files, saved and loaded in one call, without pickle.

``model.safetensors`` holds the weights (float32) and ``config.json`` what rebuilds the model:
the format version, the mmvae version, the model section of the run config, the modalities'
names and shapes, the dataset name and the SHA-256 of the weights file. Loading checks that
hash, the format version and that the tensors fit the model the config names, then returns the
model in eval mode with the fast routes the pipeline applies::

    model = mmvae.from_pretrained("my-model")   # a folder, or a Hugging Face Hub repo id
    images = model.generate(8)
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..config import ModelConfig, RunConfig
from ..errors import CheckpointError, ConfigError
from ..models import ModalitySpec, build_model, resolve_model
from ..utils import atomic_write_bytes, atomic_write_text
from . import hub
from .components import prepare_model, resolve_device

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "mmvae-pretrained"
FORMAT_VERSION = 1


def save_pretrained(source: str | Path | torch.nn.Module, folder: str | Path,
                    config: RunConfig | ModelConfig | None = None, dataset: str | None = None) -> Path:
    """Writes ``folder/model.safetensors`` and ``folder/config.json`` (each atomically).

    source: a run folder (its last checkpoint is saved) or a model; a model needs ``config``,
        the run config (or its model section) it was built from.
    dataset: the data it was trained on, when ``config`` is only a model section.
    Returns the folder.
    """
    run: dict[str, Any] = {}
    if isinstance(source, torch.nn.Module):
        if config is None:
            raise ConfigError("save_pretrained(model, folder) needs the config the model was built from: pass "
                              "config=RunConfig (or its .model section), or pass the run folder instead of the model.")
        model = source
    else:
        from .runs import load_run

        loaded = load_run(source)
        model, config = loaded.model, loaded.cfg
        run = {"epochs": loaded.epochs_done, "config_hash": loaded.cfg.hash()}
    if isinstance(config, RunConfig):
        dataset = dataset or config.data.dataset
        config = config.model
    data = save_safetensors(weights_of(model))
    folder = Path(folder)
    atomic_write_bytes(folder / WEIGHTS, data)
    record = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "mmvae_version": _version(),
        "model": dataclasses.asdict(config),
        "modalities": [{"name": m.name, "shape": list(m.shape)} for m in model.modalities],
        "dataset": dataset, "weights": WEIGHTS, "sha256": hashlib.sha256(data).hexdigest(), **run,
    }
    atomic_write_text(folder / CONFIG, json.dumps(record, indent=1) + "\n")
    return folder


def weights_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state as contiguous CPU tensors, floating point ones in float32 (the prefix a
    compiled model adds to every name is dropped)."""
    out = {}
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu", torch.float32 if t.is_floating_point() else t.dtype)
        out[name.removeprefix("_orig_mod.")] = t.contiguous().clone()
    return out


def from_pretrained(source: str | Path, device: str | torch.device = "cpu", revision: str | None = None):
    """The model saved in ``source`` (a folder, or a Hub repo id ``user/name`` that is not a local
    folder; ``revision``: its branch, tag or commit), on ``device``, in eval mode."""
    folder = Path(source)
    if not folder.is_dir():
        if not hub.looks_like_repo_id(str(source)):
            raise ConfigError(f"{source} is not a folder, nor a Hugging Face Hub repo id (user/name). Pass a folder "
                              "written by mmvae.save_pretrained (or `mmvae push`) or a repo id.")
        folder = hub.download(str(source), revision)
    meta, tensors = read_pretrained(folder)
    cfg = RunConfig()
    try:
        cfg.model = RunConfig.from_dict({"model": meta["model"]}).model
        resolve_model(cfg.model.model)
        modalities = [ModalitySpec(str(m["name"]), tuple(int(s) for s in m["shape"])) for m in meta["modalities"]]
        model = build_model(cfg.model, modalities)
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{folder / CONFIG} does not describe a model this mmvae can build ({e}). Save the model "
                          "again with mmvae.save_pretrained, or use the mmvae version that wrote it "
                          f"({meta.get('mmvae_version')}).") from None
    load_fitting(model, tensors, folder, meta)
    return prepare_model(model, cfg, resolve_device(str(device))).eval()


def read_pretrained(folder: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config.json, weights) of a saved folder: format version and SHA-256 checked; never unpickles."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG, folder / WEIGHTS
    if not weights_path.is_file():
        raise CheckpointError(f"{folder} holds no weights ({WEIGHTS} is missing). Pass a folder written by "
                              "mmvae.save_pretrained or `mmvae push`; a run folder is saved into one with "
                              f"mmvae.save_pretrained('{folder}', 'my-model').")
    try:
        meta = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder} has weights but no {CONFIG}, which says what model they belong to. Put "
                              "back the config.json saved with them, or save the model again with "
                              "mmvae.save_pretrained.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config_path} is not valid JSON ({e}). Put back the config.json saved with the "
                              "weights, or save the model again with mmvae.save_pretrained.") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or version != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format version {version!r}, and this mmvae ({_version()}) reads version "
            f"{FORMAT_VERSION} of the '{FORMAT}' format only. It was written by another mmvae version (or another "
            "library): upgrade mmvae (pip install -U mmvae), or save the model again with this version's "
            "mmvae.save_pretrained.")
    data = weights_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"{weights_path} does not match the SHA-256 recorded in {config_path}: the file was "
                              "changed or damaged after it was saved. Download or copy it again (or save the model "
                              "again); it will not be loaded.")
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{weights_path} could not be read as safetensors ({e}). Save the model again.") from None
    return meta, tensors


def load_fitting(model: torch.nn.Module, tensors: dict[str, torch.Tensor], folder: Path, meta: dict) -> None:
    """Loads the weights strictly; tensors that do not fit name the model the config describes."""
    state = model.upgrade_state_dict(dict(tensors))
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [f"{k} {tuple(state[k].shape)} where the model has {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or extra or shapes:
        found = []
        if missing:
            found.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
        if extra:
            found.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        if shapes:
            found.append(f"{len(shapes)} of other shapes (e.g. {shapes[0]})")
        m = meta["model"]
        mods = ", ".join(f"{x['name']} {'×'.join(map(str, x['shape']))}" for x in meta["modalities"])
        raise CheckpointError(
            f"The weights in {folder / WEIGHTS} do not fit the model that {folder / CONFIG} names (model "
            f"'{m.get('model')}', latent size {m.get('latent_dim')}, modalities {mods}): {'; '.join(found)}. "
            "The config.json and the weights come from different models: put back the config.json saved with "
            "these weights, or save the model again with mmvae.save_pretrained, which writes both together.")
    model.load_state_dict(state, strict=True)


def push_run(run_dir: str | Path, repo_id: str, private: bool = False, message: str | None = None) -> str:
    """``mmvae push``: the run's last checkpoint saved with :func:`save_pretrained`, plus its
    report as the repo's README.md, uploaded to the Hub repo ``repo_id``; returns the repo URL."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    if not hub.looks_like_repo_id(repo_id):
        raise ConfigError(f"'{repo_id}' is not a Hugging Face Hub repo id: use user/name (or organisation/name).")
    hub.import_hub("`mmvae push`")  # a missing extra is reported before any work
    with tempfile.TemporaryDirectory(prefix="mmvae-push-") as tmp:
        folder = save_pretrained(run_dir, Path(tmp) / "model")
        copy_report(run_dir, folder, repo_id)
        return hub.upload(folder, repo_id, private, message or f"mmvae push {run_dir.name}")


def check_run_dir(run_dir: Path) -> None:
    """Refuses a folder that is not a trained run, before anything is prepared or uploaded."""
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (it has no config.yaml). `mmvae push` uploads a run "
                          "written by `mmvae train`: pass the folder that `mmvae train` printed at the end. Nothing "
                          "was uploaded.")
    if not (run_dir / "checkpoints" / "last.json").is_file():
        raise ConfigError(f"{run_dir} has no checkpoint yet (checkpoints/last.json is missing), so it has no "
                          f"trained weights to push. Train it first (`mmvae train --resume {run_dir}` continues it). "
                          "Nothing was uploaded.")


def copy_report(run_dir: Path, folder: Path, repo_id: str) -> None:
    """The run's report.md as README.md, with a loading snippet on top and the figures it links."""
    report = run_dir / "report.md"
    if not report.is_file():
        return
    text = report.read_text()
    usage = (f"```python\nimport mmvae\n\nmodel = mmvae.from_pretrained(\"{repo_id}\")\n"
             "images = model.generate(8)  # one tensor per modality\n```\n\n")
    atomic_write_text(folder / "README.md", "---\nlibrary_name: mmvae\n---\n\n" + usage + text)
    for link in re.findall(r"\]\((figures/[^)\s]+\.png)\)", text):
        if (run_dir / link).is_file():
            atomic_write_bytes(folder / link, (run_dir / link).read_bytes())


def _version() -> str:
    from .. import __version__

    return __version__
