"""Maps the seed's objective names (``--obj`` with ``--looser``) to registered objectives."""
from __future__ import annotations

from ..errors import ConfigError
from ..registry import closest
from .base import OBJECTIVES, ObjectiveInfo

# seed CLI name → (multimodal objective, its looser variant or None)
_MULTIMODAL = {
    "elbo_naive": ("m_elbo_naive", None),
    "elbo": ("m_elbo", None),
    "iwae": ("m_iwae", "m_iwae_looser"),
    "dreg": ("m_dreg", "m_dreg_looser"),
}
_UNIMODAL = {"elbo": "elbo", "iwae": "iwae", "dreg": "dreg"}
_FACTORISED = {"elbo_all", "infoNCE_naive", "fission", "seed_logistic"}


def seed_names(model_kind: str) -> list[str]:
    """The ``--obj`` names accepted for a model kind (besides full registered names)."""
    if model_kind == "unimodal":
        return sorted(_UNIMODAL)
    if model_kind == "factorised":
        return sorted(_FACTORISED)
    return sorted(_MULTIMODAL)


def resolve_objective_name(obj: str, model_kind: str, looser: bool = False) -> str:
    """The registered objective for ``--obj obj [--looser]`` on a model of ``model_kind``.

    model_kind is ``unimodal``, ``moe`` or ``factorised``. Full registered names (``m_dreg``,
    ``m_iwae_looser``) are accepted as they are.
    """
    if model_kind == "moe" and obj in _MULTIMODAL:
        tight, loose = _MULTIMODAL[obj]
        if looser:
            if loose is None:
                raise ConfigError(
                    f"--looser has no meaning for --obj {obj}: only iwae and dreg have a looser "
                    "variant (the modality average taken outside the log). Drop --looser."
                )
            return loose
        return tight
    if model_kind == "unimodal" and obj in _UNIMODAL:
        if looser:
            raise ConfigError(
                "--looser applies to multimodal iwae/dreg only; a unimodal model has one "
                "modality to average over. Drop --looser."
            )
        return _UNIMODAL[obj]
    if obj in OBJECTIVES:
        info = OBJECTIVES.get(obj)
        if info.kind != model_kind:
            raise ConfigError(
                f"Objective '{obj}' is for {info.kind} models, not for this {model_kind} model. "
                f"Choose one of: {', '.join(seed_names(model_kind))}."
            )
        if looser:
            raise ConfigError(f"--looser cannot be combined with the full objective name '{obj}'.")
        return obj
    choices = seed_names(model_kind)
    hint = closest(obj, choices + OBJECTIVES.names())
    if model_kind == "unimodal" and obj in _MULTIMODAL:
        raise ConfigError(
            f"'{obj}' is a multimodal objective; a unimodal model (--model mnist|svhn) takes "
            f"{', '.join(choices)}."
        )
    raise ConfigError(
        f"Unknown objective '{obj}' for a {model_kind} model.{hint} Choose one of: "
        f"{', '.join(choices)}."
    )


def get_objective(name: str) -> ObjectiveInfo:
    return OBJECTIVES.get(name)
