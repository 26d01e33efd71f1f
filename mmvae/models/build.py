"""Building a registered model from the model section of a run's config.

The config object is read by attribute (``model``, ``latent_dim``, ``distr``, ``nets``, …) and
never imported, so this layer stays below :mod:`mmvae.config`.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..nets import NetSpec, auto_spec
from .modality import ModalitySpec, auto_llik_scalings
from .registry import resolve_model


def model_settings(cfg, modalities: list[ModalitySpec]) -> dict:
    """The keyword arguments every model shares: latent size, distributions, scalings."""
    return dict(
        latent_dim=cfg.latent_dim, family=cfg.distr,
        scale_param=None if cfg.posterior_scale == "auto" else cfg.posterior_scale,
        learn_prior=cfg.learn_prior, decoder_scale=cfg.decoder_scale,
        llik_scalings=likelihood_scalings(cfg, modalities),
        likelihood=None if cfg.likelihood == "same" else cfg.likelihood,
    )


def likelihood_scalings(cfg, modalities: list[ModalitySpec]) -> list[float]:
    """The seed's rule: λ_MNIST = llik_scaling (0: auto 3·32·32/28·28), every other λ = auto."""
    auto = auto_llik_scalings(modalities)
    return [cfg.llik_scaling if (m.name == "mnist" and cfg.llik_scaling > 0) else a
            for m, a in zip(modalities, auto)]


# the entries every default config carries; left alone when the data has no such modality
SEED_NET_NAMES = ("mnist", "svhn")


def network_specs(cfg, modalities: list[ModalitySpec]) -> list[NetSpec]:
    """One network specification per modality: ``model.nets.<name>`` when the config has one,
    else the automatic choice from the image shape (:func:`mmvae.nets.auto_spec`)."""
    return [cfg.nets[m.name] if m.name in cfg.nets else auto_spec(m.shape) for m in modalities]


def check_network_names(cfg, names: list[str]) -> None:
    """Refuses a ``model.nets`` entry for a modality the data (with modalities ``names``) does
    not have: it would silently do nothing. The default config's untouched ``mnist``/``svhn``
    entries are left alone."""
    stray = [n for n, spec in cfg.nets.items()
             if n not in names and not (n in SEED_NET_NAMES and spec == NetSpec())]
    if stray:
        raise ConfigError(
            f"model.nets.{stray[0]} sets the networks of a modality '{stray[0]}', but the data's modalities are "
            f"{', '.join(names)}. Name one of those (e.g. --set model.nets.{names[0]}.arch=fc) or drop the entry; "
            "the seed's flags (--no_conv, --hidden_dims, --fBase, --mnist-*, --svhn-*) set the mnist and svhn "
            "entries only. Modalities without an entry get conv nets from 28×28 up and fc nets below.")


def model_modality(cfg) -> str:
    """The modality a unimodal model reads: its alias's or ``model.modality``."""
    _, fixed = resolve_model(cfg.model)
    return fixed.get("modality") or cfg.modality


def select_modality(cfg, modalities: list[ModalitySpec]) -> ModalitySpec:
    name = model_modality(cfg)
    if not name and len(modalities) == 1:
        return modalities[0]
    for m in modalities:
        if m.name == name:
            return m
    names = ", ".join(m.name for m in modalities)
    if not name:
        raise ConfigError(f"A unimodal model needs --modality NAME; the data has {names}.")
    raise ConfigError(f"The data has no '{name}' modality; it has {names}.")


def build_model(cfg, modalities: list[ModalitySpec]):
    """The model named by ``cfg.model`` (a name or an alias) over the data's ``modalities``."""
    info, _ = resolve_model(cfg.model)
    options = info.options(**cfg.options) if info.options is not None else None
    if info.options is None and cfg.options:
        raise ConfigError(f"Model '{cfg.model}' takes no options, got {', '.join(cfg.options)}.")
    return info.build(cfg, list(modalities), options)


def model_kind(cfg) -> str:
    """The objectives' family of the configured model, known before it is built."""
    return resolve_model(cfg.model)[0].kind
