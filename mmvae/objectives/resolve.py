"""Maps ``--obj NAME [--looser]`` to a registered objective for a model's kind, from the
objectives' own metadata (``ObjectiveInfo.cli_name``, ``looser`` and ``kind``)."""
from __future__ import annotations

from ..errors import ConfigError
from ..registry import closest
from .base import OBJECTIVES, ObjectiveInfo


def cli_names(model_kind: str) -> list[str]:
    """The ``--obj`` names accepted for a model kind (besides full registered names)."""
    return sorted({OBJECTIVES.get(n).cli_name for n in OBJECTIVES if OBJECTIVES.get(n).kind == model_kind})


def resolve_objective_name(obj: str, model_kind: str, looser: bool = False) -> str:
    """The registered objective for ``--obj obj [--looser]`` on a model of ``model_kind``.

    Full registered names (``m_dreg``, ``m_iwae_looser``) are accepted as they are.
    """
    infos = [OBJECTIVES.get(n) for n in OBJECTIVES]
    same = [i for i in infos if i.kind == model_kind and i.cli_name == obj]
    if same:
        match = [i for i in same if i.looser == looser]
        if match:
            return match[0].name
        if looser:
            loose = sorted({i.cli_name for i in infos if i.kind == model_kind and i.looser})
            raise ConfigError(f"--looser has no meaning for --obj {obj}: only {', '.join(loose) or 'no objective'} "
                              "has a looser variant (the modality average taken outside the log). Drop --looser.")
        raise ConfigError(f"--obj {obj} needs --looser for this model.")
    if obj in OBJECTIVES:
        info = OBJECTIVES.get(obj)
        if info.kind != model_kind:
            raise ConfigError(
                f"Objective '{obj}' is for {info.kind} models, not for this {model_kind} model. "
                f"Choose one of: {', '.join(cli_names(model_kind))}."
            )
        if looser:
            raise ConfigError(f"--looser cannot be combined with the full objective name '{obj}'.")
        return obj
    choices = cli_names(model_kind)
    other = sorted({i.kind for i in infos if i.cli_name == obj})
    if other:
        raise ConfigError(f"'{obj}' is an objective for {' and '.join(other)} models; a {model_kind} model takes "
                          f"{', '.join(choices)}.")
    hint = closest(obj, choices + OBJECTIVES.names())
    raise ConfigError(f"Unknown objective '{obj}' for a {model_kind} model.{hint} Choose one of: {', '.join(choices)}.")


def get_objective(name: str) -> ObjectiveInfo:
    return OBJECTIVES.get(name)
