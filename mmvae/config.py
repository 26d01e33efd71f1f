"""Typed run configuration that round-trips to YAML.

A run is fully described by :class:`RunConfig` (data, model, training, evaluation). The CLI
builds one from a YAML file plus flag overrides; the run folder keeps the resolved copy.

Each constraint lives with its field: ``Literal`` types for fixed choices, a ``check`` in the
field's metadata for ranges and for names that a registry owns (datasets, models, objectives).
Each field also declares its ``role``: whether it defines the run (the default) or only how
long it is, where it lives, how it is run or what is measured. The config hash, ``--resume``
and ``mmvae compare``'s grouping all read that one declaration (:func:`keys_with_role`).
Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming the key.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError
from .nets.registry import NetSpec
from .registry import closest
from .typed import build, coerce, get_path, pop_path, set_path  # noqa: F401  (re-exported)
from .utils import sha256_json

# Roles of a config key. Only ``run`` keys define the trajectory of the weights; the others may
# change when a run is resumed and are left out of the config hash.
ROLES = ("run", "length", "evaluation", "machine", "location")


def _check_positive(v):
    return None if v is None or v > 0 else "> 0"


def _check_non_negative(v):
    return None if v is None or v >= 0 else "≥ 0"


def _check_at_least_two(v):
    return None if v is None or v >= 2 else "≥ 2"


# Experiment trackers ``train.log_to`` may name (adapters in mmvae/training/loggers.py).
TRACKERS = ("tensorboard", "wandb", "mlflow")


def _check_trackers(v):
    unknown = [name for name in v if name not in TRACKERS]
    if not unknown:
        return None
    hint = closest(unknown[0], list(TRACKERS)).strip()
    return f"tracker names from {', '.join(TRACKERS)} (not '{unknown[0]}'{'; ' + hint.lower() if hint else ''})"


def setting(default=dataclasses.MISSING, *, factory=dataclasses.MISSING, check=None, role: str = "run"):
    """A config field with its constraint (``check(value)`` → None or what it must be) and role."""
    assert role in ROLES
    meta = {"check": check, "role": role}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


POSITIVE = _check_positive
NON_NEGATIVE = _check_non_negative


def _default_nets() -> dict[str, NetSpec]:
    return {"mnist": NetSpec("conv"), "svhn": NetSpec("conv")}


@dataclass
class DataConfig:
    """Which paired data, where it lives and how it is paired."""

    dataset: str = setting("auto")  # auto | a registered dataset (mmvae data info lists them)
    data_dir: str | None = setting(None, role="location")  # real files; downloads go here ($MMVAE_DATA, ./data)
    download: bool = setting(False, role="machine")  # fetch missing real files from the official mirrors
    verify: bool = setting(True, role="machine")  # check MD5s of real files
    max_d: int = setting(10000, check=POSITIVE)  # most images per class kept from each dataset
    test_max_d: int | None = setting(None, check=POSITIVE)  # the same for the test split (None: max_d)
    dm: int = setting(30, check=POSITIVE)  # pairing rounds: each kept image appears in dm pairs
    pairing_seed: int = setting(0)  # seed of the pairing permutations (independent of the run seed)
    synthetic_seed: int = setting(0)  # seed of the synthetic digit generator
    synthetic_train: int = setting(60000, check=POSITIVE)  # synthetic images per modality, train split
    synthetic_test: int = setting(10000, check=POSITIVE)  # synthetic images per modality, test split
    polymnist_modalities: int = setting(5, check=_check_at_least_two)  # PolyMNIST: modalities m0 … m{M-1}
    backgrounds: str | None = setting(None)  # PolyMNIST: folder of background images (None: built-in textures)


@dataclass
class ModelConfig:
    """The model and its distributions and networks."""

    model: str = setting("mnist_svhn")  # a registered model or alias: mmvae (mnist_svhn), vae (mnist, svhn), fummvae
    modality: str = setting("")  # unimodal models: the modality of the data they read
    latent_dim: int = setting(20, check=POSITIVE)
    distr: Literal["Normal", "Laplace"] = setting("Normal")  # family of prior, posterior (and likelihood)
    likelihood: Literal["same", "Normal", "Laplace"] = setting("same")  # pixel likelihood's family (same: distr)
    posterior_scale: Literal["auto", "exp", "softmax"] = setting("auto")  # auto: Normal exp, Laplace softmax·D
    decoder_scale: float = setting(0.75, check=POSITIVE)  # fixed scale of p(x|z) per pixel
    learn_prior: bool = setting(False)
    llik_scaling: float = setting(0.0, check=NON_NEGATIVE)  # MNIST λ; 0 = auto (3·32·32 / 28·28)
    nets: dict[str, NetSpec] = setting(factory=_default_nets)
    private_latent_dim: int | None = setting(None, check=POSITIVE)  # private latent size (None: latent_dim)
    options: dict[str, Any] = setting(factory=dict)  # the model's own options (e.g. fummvae: decoder)


@dataclass
class TrainConfig:
    """Optimisation, objective and run mechanics."""

    obj: str = setting("elbo")  # the model kind's --obj names (elbo, elbo_naive, iwae, dreg, fission, …)
    looser: bool = setting(False)  # iwae/dreg: modality average outside the log
    K: int | None = setting(None, check=POSITIVE)  # samples per input (None: 1 for ELBOs, 20 for iwae/dreg)
    epochs: int = setting(10, check=POSITIVE, role="length")
    batch_size: int = setting(256, check=POSITIVE)
    lr: float = setting(1e-3, check=POSITIVE)
    amsgrad: bool = setting(True)
    seed: int = setting(1)
    threads: int = setting(0, check=NON_NEGATIVE, role="machine")  # torch CPU threads (0: torch's default)
    device: str = setting("auto", check=lambda v: None if v in ("auto", "cpu", "cuda") or v.startswith("cuda:")
                          else "auto, cpu, cuda or cuda:N", role="machine")
    nan_policy: Literal["stop", "skip"] = setting("stop", role="machine")
    checkpoint_every: int = setting(0, check=NON_NEGATIVE, role="machine")  # also every N steps (0: epoch ends)
    dreg_as_released: bool = setting(False)  # reproduce the original's DReG (hook never fires)
    kl_warmup_epochs: float = setting(0.0, check=NON_NEGATIVE)  # KL weight ramped 0 → 1 over N epochs (products)
    objective_weights: dict[str, float] = setting(factory=dict)  # factorised objectives' term weights
    compile: bool = setting(False, role="machine")  # torch.compile the model
    bf16: bool = setting(False)  # bf16 autocast of the networks (GPU, or CPUs with bf16 units)
    channels_last: bool = setting(True, role="machine")  # channels_last memory format for conv weights
    fast_routes: bool = setting(True, role="machine")  # CPU fast routes of the networks (same parameters)
    max_steps: int = setting(0, check=NON_NEGATIVE)  # stop each epoch after N steps (0: full epochs)
    progress: bool = setting(True, role="machine")  # progress bars
    log_to: list[str] = setting(factory=list, check=_check_trackers, role="machine")  # trackers: tensorboard, wandb, mlflow


def _evaluation(default=dataclasses.MISSING, check=None):
    return setting(default, check=check, role="evaluation")


@dataclass
class EvalConfig:
    """What is measured and drawn during and after training (never what is trained)."""

    test_every: int = _evaluation(1, POSITIVE)  # epochs between test passes
    test_pairs: Literal["distinct", "all"] = _evaluation("distinct")  # distinct: one pairing round
    test_K: int = _evaluation(10, NON_NEGATIVE)  # per-epoch unscaled IWAE log-likelihoods with this K (0: off)
    test_K_pairs: int = _evaluation(1000, POSITIVE)  # class-stratified test pairs those estimates average over
    figures: bool = _evaluation(True)  # generation / reconstruction grids each epoch
    analytics: bool = _evaluation(True)  # UMAP + KL figures at the end
    final_eval: bool = _evaluation(True)  # full metric suite + report at the end
    n_figure: int = _evaluation(64, POSITIVE)  # samples in generation grids
    coherence_K: int = _evaluation(1, POSITIVE)  # posterior samples per input for cross coherence
    coherence_pairs: int = _evaluation(0, NON_NEGATIVE)  # test tuples the coherences use (0: all distinct)
    joint_samples: int = _evaluation(10000, POSITIVE)  # prior samples for joint coherence
    probe_latent: Literal["mean", "sample"] = _evaluation("mean")  # linear probe input
    probe_train: int = _evaluation(20000, POSITIVE)  # training pairs (distinct) the probe is fitted on
    probe_every: int = _evaluation(0, NON_NEGATIVE)  # also probe the latents every N epochs (0: only at the end)
    iwae_K: int = _evaluation(1000, NON_NEGATIVE)  # importance samples of the final estimates (0: skip)
    iwae_pairs: int = _evaluation(1000, POSITIVE)  # test pairs the final likelihood estimates average over
    classifier_epochs: int = _evaluation(4, POSITIVE)  # epochs of a digit classifier trained on demand
    classifier_dir: str | None = setting(None, role="location")  # classifier cache (default: the cache folder)


@dataclass
class RunConfig:
    experiment: str = setting("", role="location")  # run group name; runs go to runs/<experiment>/<time>
    run_dir: str | None = setting(None, role="location")  # fixed run folder (otherwise made under runs/)
    data: DataConfig = setting(factory=DataConfig)
    model: ModelConfig = setting(factory=ModelConfig)
    train: TrainConfig = setting(factory=TrainConfig)
    eval: EvalConfig = setting(factory=EvalConfig)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def run_defining(self, keep: tuple[str, ...] = ("run",)) -> dict[str, Any]:
        """The config as a dict without the keys whose role is not in ``keep``."""
        d = self.to_dict()
        for path in keys_with_role(set(ROLES) - set(keep)):
            pop_path(d, path)
        return d

    def hash(self) -> str:
        """Hash of what determines the weights after a given step (the ``run`` keys), checked when
        a run is resumed: where it is saved, how long it runs, on what machine and what is
        evaluated do not change it."""
        return sha256_json(self.run_defining(), 16)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return build(cls, _migrate(d), "")

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


# ---------------------------------------------------------------------- roles


def _fields():
    """(dotted path, dataclass field) of every key, sections expanded."""
    sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig}
    for f in dataclasses.fields(RunConfig):
        if f.name in sections:
            yield from ((f"{f.name}.{g.name}", g) for g in dataclasses.fields(sections[f.name]))
        else:
            yield f.name, f


def keys_with_role(roles) -> list[str]:
    """Dotted paths of the keys whose declared role is in ``roles`` (names from :data:`ROLES`)."""
    roles = {roles} if isinstance(roles, str) else set(roles)
    return [path for path, f in _fields() if f.metadata.get("role", "run") in roles]


def differences(old: RunConfig, new: RunConfig, roles=("run",)) -> list[tuple[str, Any, Any]]:
    """(path, old value, new value) of the keys with a role in ``roles`` whose values differ."""
    a, b = old.to_dict(), new.to_dict()
    return [(p, get_path(a, p), get_path(b, p)) for p in keys_with_role(roles) if get_path(a, p) != get_path(b, p)]


# ---------------------------------------------------------------------- building from dicts


def _migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Configs written by mmvae 0.1: ``model.fission_decoder`` is now ``model.options.decoder``."""
    model = d.get("model")
    if isinstance(model, dict) and "fission_decoder" in model:
        model = dict(model)
        decoder = model.pop("fission_decoder")
        if model.get("model") == "fummvae":
            model["options"] = {"decoder": decoder, **(model.get("options") or {})}
        d = {**d, "model": model}
    return d


# ---------------------------------------------------------------------- validation


def _check_fields(obj, where: str) -> None:
    """Type (Literal choices included) and the ``check`` of every field of a config section."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        path = f"{where}.{f.name}" if where else f.name
        value = getattr(obj, f.name)
        if typing.get_origin(hints[f.name]) is Literal:
            coerce(hints[f.name], value, path)
        check = f.metadata.get("check")
        if check is not None and value is not None:
            must = check(value)
            if must:
                raise ConfigError(f"'{path}' must be {must}, got {value!r}.")


def _check_model_options(name: str, info, options: dict) -> None:
    """An option the model does not have: say which models have it."""
    from .models import MODELS

    own = {f.name for f in dataclasses.fields(info.options)} if info.options is not None else set()
    for key in sorted(set(options) - own):
        owners = [n for n in MODELS.names() if MODELS.get(n).options is not None
                  and key in {f.name for f in dataclasses.fields(MODELS.get(n).options)}]
        where = f"it is an option of {', '.join(owners)}" if owners else "no model has it"
        has = f"Model '{name}' takes " + (", ".join(sorted(own)) if own else "no options")
        raise ConfigError(f"model.options.{key} does not apply to model '{name}': {where}. {has}.")


def validate(cfg: RunConfig) -> RunConfig:
    """Checks every field, and the names that registries own; returns cfg for chaining."""
    from .data.datasets import find_dataset
    from .models import resolve_model
    from .nets import NETWORKS
    from .objectives import resolve_objective_name

    for section in ("data", "model", "train", "eval"):
        _check_fields(getattr(cfg, section), section)
    m = cfg.model
    if cfg.data.dataset != "auto":
        find_dataset(cfg.data.dataset)
    for name, spec in m.nets.items():
        NETWORKS.get(spec.arch)
        if spec.fbase < 1:
            raise ConfigError(f"'model.nets.{name}.fbase' must be > 0, got {spec.fbase}.")
        if not spec.hidden_dims or min(spec.hidden_dims) < 1:
            raise ConfigError(f"'model.nets.{name}.hidden_dims' needs at least one width, each > 0; got "
                              f"{spec.hidden_dims}.")
    info, _ = resolve_model(m.model)
    _check_model_options(m.model, info, m.options)
    if info.options is not None:
        m.options = dataclasses.asdict(build(info.options, m.options, "model.options"))
    resolve_objective_name(cfg.train.obj, info.kind, cfg.train.looser)
    return cfg
