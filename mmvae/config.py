"""Typed run configuration that round-trips to YAML.

A run is fully described by :class:`RunConfig` (data, model, training, evaluation). The CLI
builds one from a YAML file plus flag overrides; the run folder keeps the resolved copy.
Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming the key.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .nets.registry import NetSpec
from .registry import closest

MODELS = ("mnist", "svhn", "mnist_svhn", "fummvae")
DISTRIBUTIONS = ("Normal", "Laplace")


def _default_nets() -> dict[str, NetSpec]:
    return {"mnist": NetSpec("conv"), "svhn": NetSpec("conv")}


@dataclass
class DataConfig:
    """Which paired data, where it lives and how it is paired."""

    dataset: str = "auto"  # auto | synthetic | mnist_svhn | mnist_synthsvhn | synthmnist_svhn
    data_dir: str | None = None  # real MNIST/SVHN files; downloads go here ($MMVAE_DATA, ./data)
    download: bool = False  # fetch missing real files from the official mirrors
    verify: bool = True  # check MD5s of real files
    max_d: int = 10000  # most images per class kept from each dataset
    test_max_d: int | None = None  # the same for the test split (None: max_d, as the original)
    dm: int = 30  # pairing rounds: each kept image appears in dm pairs
    pairing_seed: int = 0  # seed of the pairing permutations (independent of the run seed)
    synthetic_seed: int = 0  # seed of the synthetic digit generator
    synthetic_train: int = 60000  # synthetic images per modality, train split
    synthetic_test: int = 10000  # synthetic images per modality, test split


@dataclass
class ModelConfig:
    """The model and its distributions and networks."""

    model: str = "mnist_svhn"  # mnist | svhn | mnist_svhn | fummvae
    latent_dim: int = 20
    distr: str = "Normal"  # family of prior, posterior and likelihood: Normal | Laplace
    posterior_scale: str = "auto"  # auto (Normal: exp, Laplace: softmax·D) | exp | softmax
    decoder_scale: float = 0.75  # fixed scale of p(x|z) per pixel
    learn_prior: bool = False
    llik_scaling: float = 0.0  # MNIST λ; 0 = auto (3·32·32 / 28·28); SVHN λ is 1
    nets: dict[str, NetSpec] = field(default_factory=_default_nets)
    private_latent_dim: int | None = None  # fummvae: private latent size (None: latent_dim)
    fission_decoder: str = "separate"  # fummvae: separate | joint ([shared, private] decoders)


@dataclass
class TrainConfig:
    """Optimisation, objective and run mechanics."""

    obj: str = "elbo"  # seed names (elbo, elbo_naive, iwae, dreg, elbo_all, infoNCE_naive, …)
    looser: bool = False  # iwae/dreg: modality average outside the log
    K: int | None = None  # samples per input (None: 1 for ELBOs, 20 for iwae/dreg)
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    amsgrad: bool = True
    seed: int = 1
    threads: int = 0  # torch CPU threads (0: torch's default)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    nan_policy: str = "stop"  # stop | skip
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0: epoch ends)
    dreg_as_released: bool = False  # reproduce the original's DReG (hook never fires)
    objective_weights: dict[str, float] = field(default_factory=dict)  # fummvae term weights
    compile: bool = False  # torch.compile the model
    bf16: bool = False  # bf16 autocast of the networks (GPU, or CPUs with bf16 units)
    channels_last: bool = True  # channels_last memory format for conv weights (+13% on CPU here)
    max_steps: int = 0  # stop each epoch after N steps (0: full epochs); for smoke runs
    progress: bool = True  # progress bars


@dataclass
class EvalConfig:
    """What is measured and drawn during and after training."""

    test_every: int = 1  # epochs between test passes
    test_pairs: str = "distinct"  # distinct (one pairing round) | all
    test_K: int = 10  # per-epoch unscaled IWAE log-likelihoods with this K (0: off)
    test_K_pairs: int = 1000  # test pairs those per-epoch estimates average over
    figures: bool = True  # generation / reconstruction grids each epoch
    analytics: bool = True  # UMAP + KL figures at the end
    final_eval: bool = True  # full metric suite + report at the end (multimodal models)
    n_figure: int = 64  # samples in generation grids
    coherence_K: int = 1  # posterior samples per input for cross coherence (original: 1)
    joint_samples: int = 10000  # prior samples for joint coherence
    probe_latent: str = "mean"  # linear probe input: posterior mean | one sample
    probe_train: int = 20000  # training pairs (distinct) the probe is fitted on
    iwae_K: int = 1000  # importance samples of the final likelihood estimates (0: skip them)
    iwae_pairs: int = 1000  # test pairs the final likelihood estimates average over
    classifier_epochs: int = 4  # epochs of a digit classifier trained on demand (MNIST: 99.11%)
    classifier_dir: str | None = None  # where classifiers are cached (default: the cache folder)


@dataclass
class RunConfig:
    experiment: str = ""  # run group name; runs go to runs/<experiment>/<timestamp>
    run_dir: str | None = None  # fixed run folder (otherwise made under runs/)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def hash(self) -> str:
        """Hash of what determines the weights after a given step (not where they are saved, how
        long the run is, or what is evaluated), checked when a run is resumed."""
        d = self.to_dict()
        for k in ("run_dir", "experiment", "eval"):
            d.pop(k, None)
        for k in ("progress", "threads", "checkpoint_every", "epochs", "nan_policy"):
            d["train"].pop(k, None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return _build(cls, d, "")

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        try:
            d = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"Config file {path} does not exist.") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"Config file {path} is not valid YAML: {e}") from None
        if not isinstance(d, dict):
            raise ConfigError(f"Config file {path} must hold a mapping of sections, not {type(d).__name__}.")
        return cls.from_dict(d)

    def save(self, path: Path) -> None:
        path.write_text(self.to_yaml())


# ---------------------------------------------------------------------- building from dicts


def _build(cls, d: Any, where: str):
    if not isinstance(d, dict):
        raise ConfigError(f"'{where or 'config'}' must be a mapping, got {type(d).__name__}.")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in d.items():
        if key not in names:
            full = f"{where}.{key}" if where else key
            raise ConfigError(f"Unknown config key '{full}'.{closest(key, names)} Valid keys here: {', '.join(names)}.")
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}" if where else key)
    return cls(**kwargs)


def _coerce(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {value!r}.")
        return {str(k): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"'{where}' must be true or false, got {value!r}.")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not value.lstrip("-").isdigit()
        ):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"'{where}' must be an integer, got {value!r}.")
        return int(value)
    if tp is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"'{where}' must be a number, got {value!r}.") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"'{where}' must be a string, got {value!r}.")
        return str(value)
    return value


def set_path(cfg: RunConfig, path: str, value: Any) -> None:
    """Sets a dotted config path (``train.batch_size``) with type coercion."""
    obj = cfg
    parts = path.split(".")
    for p in parts[:-1]:
        obj = obj[p] if isinstance(obj, dict) else getattr(obj, p)
    key = parts[-1]
    if isinstance(obj, dict):
        obj[key] = value
        return
    hints = typing.get_type_hints(type(obj))
    setattr(obj, key, _coerce(hints[key], value, path))


# ---------------------------------------------------------------------- validation


def _choice(value, choices, where):
    if value not in choices:
        raise ConfigError(f"'{where}' must be one of {', '.join(map(str, choices))}, got {value!r}.{closest(str(value), list(choices))}")


def _positive(value, where, allow_zero=False):
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(f"'{where}' must be {bound}, got {value}.")


def validate(cfg: RunConfig) -> RunConfig:
    """Range and choice checks that need no data; returns cfg for chaining."""
    from .data.datasets import DATASETS

    d, m, t, e = cfg.data, cfg.model, cfg.train, cfg.eval
    if d.dataset != "auto":
        DATASETS.get(d.dataset)
    for k in ("max_d", "dm", "synthetic_train", "synthetic_test"):
        _positive(getattr(d, k), f"data.{k}")
    _positive(d.test_max_d, "data.test_max_d")
    _choice(m.model, MODELS, "model.model")
    _positive(m.latent_dim, "model.latent_dim")
    _positive(m.private_latent_dim, "model.private_latent_dim")
    _choice(m.distr, DISTRIBUTIONS, "model.distr")
    _choice(m.posterior_scale, ("auto", "exp", "softmax"), "model.posterior_scale")
    _positive(m.decoder_scale, "model.decoder_scale")
    _positive(m.llik_scaling, "model.llik_scaling", allow_zero=True)
    _choice(m.fission_decoder, ("separate", "joint"), "model.fission_decoder")
    for name, spec in m.nets.items():
        _choice(spec.arch, ("fc", "conv"), f"model.nets.{name}.arch")
        _positive(spec.fbase, f"model.nets.{name}.fbase")
        if not spec.hidden_dims:
            raise ConfigError(f"'model.nets.{name}.hidden_dims' needs at least one width.")
        for h in spec.hidden_dims:
            _positive(h, f"model.nets.{name}.hidden_dims")
    _positive(t.K, "train.K")
    _positive(t.epochs, "train.epochs")
    _positive(t.batch_size, "train.batch_size")
    _positive(t.lr, "train.lr")
    _positive(t.threads, "train.threads", allow_zero=True)
    _positive(t.checkpoint_every, "train.checkpoint_every", allow_zero=True)
    _positive(t.max_steps, "train.max_steps", allow_zero=True)
    _choice(t.nan_policy, ("stop", "skip"), "train.nan_policy")
    if not (t.device in ("auto", "cpu", "cuda") or t.device.startswith("cuda:")):
        raise ConfigError(f"'train.device' must be auto, cpu, cuda or cuda:N, got {t.device!r}.")
    _positive(e.test_every, "eval.test_every")
    _choice(e.test_pairs, ("distinct", "all"), "eval.test_pairs")
    _positive(e.test_K, "eval.test_K", allow_zero=True)
    _positive(e.test_K_pairs, "eval.test_K_pairs")
    _positive(e.n_figure, "eval.n_figure")
    _positive(e.coherence_K, "eval.coherence_K")
    _positive(e.joint_samples, "eval.joint_samples")
    _choice(e.probe_latent, ("mean", "sample"), "eval.probe_latent")
    _positive(e.probe_train, "eval.probe_train")
    _positive(e.iwae_K, "eval.iwae_K", allow_zero=True)
    _positive(e.iwae_pairs, "eval.iwae_pairs")
    _positive(e.classifier_epochs, "eval.classifier_epochs")
    return cfg
