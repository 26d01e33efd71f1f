"""Builds a model from a :class:`ModelConfig` and the data's modality shapes."""
from __future__ import annotations

from ..config import ModelConfig
from ..errors import ConfigError
from ..nets import NetSpec
from .mmvae import MMVAE
from .modality import ModalitySpec, auto_llik_scalings

UNIMODAL = ("mnist", "svhn")


def model_kind(cfg: ModelConfig) -> str:
    """``unimodal``, ``moe`` or ``factorised``."""
    if cfg.model in UNIMODAL:
        return "unimodal"
    return "factorised" if cfg.model == "fummvae" else "moe"


def _net(cfg: ModelConfig, slot: str) -> NetSpec:
    if slot not in cfg.nets:
        raise ConfigError(f"model.nets has no entry for modality '{slot}' (it has {', '.join(cfg.nets)}).")
    return cfg.nets[slot]


def multimodal_scalings(cfg: ModelConfig, modalities: list[ModalitySpec]) -> list[float]:
    """The seed's rule: λ_MNIST = llik_scaling (0: auto 3·32·32/28·28), every other λ = auto."""
    auto = auto_llik_scalings(modalities)
    return [cfg.llik_scaling if (m.name == "mnist" and cfg.llik_scaling > 0) else a
            for m, a in zip(modalities, auto)]


def build_model(cfg: ModelConfig, modalities: list[ModalitySpec]):
    """The model named by ``cfg.model`` over ``modalities`` (slot name + image shape)."""
    common = dict(
        latent_dim=cfg.latent_dim, family=cfg.distr,
        scale_param=None if cfg.posterior_scale == "auto" else cfg.posterior_scale,
        learn_prior=cfg.learn_prior, decoder_scale=cfg.decoder_scale,
    )
    kind = model_kind(cfg)
    if kind == "unimodal":
        mods = [m for m in modalities if m.name == cfg.model]
        if not mods:
            raise ConfigError(f"The data has no '{cfg.model}' modality.")
        return MMVAE(mods, llik_scalings=[1.0], nets=[_net(cfg, cfg.model)], **common)
    nets = [_net(cfg, m.name) for m in modalities]
    if kind == "moe":
        return MMVAE(modalities, llik_scalings=multimodal_scalings(cfg, modalities), nets=nets, **common)
    from .factorised import FactorisedMMVAE

    return FactorisedMMVAE(
        modalities, nets=nets, llik_scalings=multimodal_scalings(cfg, modalities),
        private_latent_dim=cfg.private_latent_dim or cfg.latent_dim,
        decoder=cfg.fission_decoder, **common,
    )


def generation_model(model):
    """What generation and coherence use: the model itself, or a factorised model's shared view."""
    return model.view() if hasattr(model, "view") else model
