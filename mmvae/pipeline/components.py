"""Composes data, model and objective from a :class:`RunConfig`."""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import torch

from ..config import RunConfig, get_path, validate
from ..data import dataset_sources, load_paired, load_unimodal
from ..data.paired import PairedData
from ..errors import ConfigError
from ..evaluation.latent_probe import latent_accuracy
from ..evaluation.likelihood import iwae_estimates
from ..models import build_model, resolve_model
from ..models.build import check_network_names, model_modality
from ..models.modality import ModalitySpec
from ..nets import accelerate
from ..objectives import OBJECTIVES, ObjectiveInfo, resolve_objective_name
from ..utils import derive_seed


@dataclass
class Components:
    cfg: RunConfig
    device: torch.device
    model: torch.nn.Module
    objective: object
    info: ObjectiveInfo
    options: dict
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
    """Paired data of all modalities, or the one modality a unimodal model reads."""
    info, _ = resolve_model(cfg.model.model)
    out = {}
    for split in splits:
        if info.unimodal:
            modality = model_modality(cfg.model)
            if not modality:
                raise ConfigError(f"Model '{cfg.model.model}' reads one modality: name it with --modality NAME.")
            out[split] = load_unimodal(cfg.data, modality, split)
        else:
            out[split] = load_paired(cfg.data, split)
    return out


def objective_options(cfg: RunConfig, info: ObjectiveInfo) -> dict:
    """The objective's declared options, read from their config paths. A setting that only
    other objectives read, changed from its default, is an error that names who reads it."""
    d, defaults = cfg.to_dict(), RunConfig().to_dict()
    readers: dict[str, list[str]] = {}
    for name in OBJECTIVES:
        for path in OBJECTIVES.get(name).options.values():
            readers.setdefault(path, []).append(name)
    for path, names in readers.items():
        if path not in info.options.values() and get_path(d, path) != get_path(defaults, path):
            raise ConfigError(f"{path} applies only to the objectives {', '.join(sorted(names))}; {info.name} "
                              "does not read it. Drop the setting or choose one of those objectives.")
    return {opt: get_path(d, path) for opt, path in info.options.items()}


def make_objective(cfg: RunConfig):
    """(callable(out, xs) → ObjectiveResult, info, options, K)."""
    kind = resolve_model(cfg.model.model)[0].kind
    info = OBJECTIVES.get(resolve_objective_name(cfg.train.obj, kind, cfg.train.looser))
    options = objective_options(cfg, info)
    K = cfg.train.K or info.default_K or (20 if info.estimator == "iwae" else 1)
    if info.estimator == "iwae" and K == 1:
        warnings.warn(f"{info.name} with K=1 is an ELBO (one importance sample); pass --K > 1 for a tighter bound.")
    fn = functools.partial(info.fn, **options) if options else info.fn
    return fn, info, options, K


def prepare_model(model: torch.nn.Module, cfg: RunConfig, device: torch.device) -> torch.nn.Module:
    """Moves a built model to ``device`` in the configured memory format, with the fast routes."""
    model = model.to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.train.fast_routes:
        accelerate(model)
    return model


def build(cfg: RunConfig, splits=("train", "test"), device: torch.device | None = None) -> Components:
    validate(cfg)
    device = device or resolve_device(cfg.train.device)
    check_network_names(cfg.model, [s.slot for s in dataset_sources(cfg.data)])
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
    fn, info, options, K = make_objective(cfg)
    torch.manual_seed(cfg.train.seed)
    mods = [ModalitySpec(n, s) for n, s in zip(test.names, test.shapes)]
    model = prepare_model(build_model(cfg.model, mods), cfg, device)
    return Components(cfg, device, model, fn, info, options, K,
                      train.to(device) if train is not None else None, test.to(device))


def figure_batch(data: PairedData, seed: int, n: int = 256):
    """A fixed random subset of the test pairs (pairs are stored sorted by digit)."""
    gen = torch.Generator().manual_seed(derive_seed(seed, "figures"))
    idx = torch.randperm(len(data), generator=gen)[:n].to(data.device)
    return data.gather(idx)


def epoch_likelihood_pairs(cfg: RunConfig, test: PairedData) -> PairedData:
    """The class-stratified, seeded test pairs that the per-epoch likelihoods average over."""
    return test.distinct().stratified(cfg.eval.test_K_pairs, derive_seed(cfg.train.seed, "subset", 0))


def epoch_metrics(cfg: RunConfig, train: PairedData | None, test: PairedData):
    """``(model, epoch) → {name: value}`` for the trainer's test passes, or None: unscaled IWAE
    log-likelihoods (``eval.test_K``, where the model defines them) and, every
    ``eval.probe_every`` epochs, the linear probes of the model's latents (labelled data)."""
    K, every = cfg.eval.test_K, cfg.eval.probe_every
    if not K and not every:
        return None
    pairs = epoch_likelihood_pairs(cfg, test) if K else None
    probe_sets = None
    if every and train is not None and test.labelled:
        n_test = min(2000, len(test.distinct()))
        probe_sets = (train.distinct(), test.distinct().stratified(n_test, derive_seed(cfg.train.seed, "subset", 3)))

    def measure(model, epoch: int) -> dict:
        out = {}
        if K and model.likelihood_defined:
            est = iwae_estimates(model, pairs, K=K, progress=False)
            out.update({f"test_logp_{name}_K{K}": value for name, value in est.items()})
        if probe_sets is not None and epoch % every == 0:
            acc = latent_accuracy(model, *probe_sets, n_train=min(cfg.eval.probe_train, 5000),
                                  seed=derive_seed(cfg.train.seed, "subset", 4))
            out.update({f"test_probe_{name}": value for name, value in acc.items()})
        return out

    return measure
