"""The model registry: a model is one file in ``models/`` that registers itself here.

A registered model declares its name, how it is built from the model section of a run's config
and the data's modalities, which family of objectives trains it (``kind``), the dataclass of its
own options (``model.options`` in a config) and alias names that fix some settings.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..registry import Registry, closest


@dataclass(frozen=True)
class ModelInfo:
    """How a model is named, built and trained.

    build: ``(model_config, modalities, options) -> MultimodalVAE``; ``options`` is an instance
        of ``options`` (or None when the model has none).
    kind: the objectives' family (``ObjectiveInfo.kind``) that trains it.
    unimodal: it reads one modality of the data, named by ``model.modality``.
    aliases: alias name → settings it fixes (e.g. ``mnist`` → ``{"modality": "mnist"}``).
    defaults: config path → value, the model's own defaults where they differ from the config's
        (``mmvae train --model NAME`` applies those the command line does not set).
    """

    name: str
    build: Callable[..., Any]
    kind: str
    description: str
    options: type | None = None
    unimodal: bool = False
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)


MODELS: Registry[ModelInfo] = Registry("model")
_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {}


def register_model(info: ModelInfo) -> ModelInfo:
    MODELS.register(info.name)(info)
    for alias, fixed in info.aliases.items():
        if alias in _ALIASES or alias in MODELS:
            raise ValueError(f"model alias '{alias}' is registered twice")
        _ALIASES[alias] = (info.name, dict(fixed))
    return info


def model_names() -> list[str]:
    """Registered names and aliases, as the CLI lists them."""
    return MODELS.names() + sorted(_ALIASES)


def resolve_model(name: str) -> tuple[ModelInfo, dict[str, Any]]:
    """(the registered model, the settings its alias fixes) for a name or an alias."""
    if name in _ALIASES:
        target, fixed = _ALIASES[name]
        return MODELS.get(target), dict(fixed)
    if name in MODELS:
        return MODELS.get(name), {}
    raise ConfigError(f"Unknown model '{name}'.{closest(name, model_names())} Valid choices: "
                      f"{', '.join(model_names())}.")
