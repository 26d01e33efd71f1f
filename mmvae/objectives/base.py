"""Objective registry, metadata and result record."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from ..registry import Registry


@dataclass
class ObjectiveResult:
    """What an objective returns.

    value: the bound (to be *maximised*) summed over the batch, as the original code defines it;
        this is what is logged and plotted, and ``golden/`` values are compared with it.
    terms: per-sample means of its parts (λ-scaled log-likelihoods, KLs, …) for logging,
        detached, under stable names.
    batch_size: B, so the training loss can be a per-sample average.
    surrogate: where the gradient estimator is not the bound's own gradient (DReG), the batch
        sum whose gradient it is; its value means nothing by itself.
    aux_loss: per-sample loss of auxiliary networks trained alongside (the CLUB critics), not
        part of the bound.
    """

    value: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    batch_size: int = 1
    surrogate: Tensor | None = None
    aux_loss: Tensor | None = None

    @property
    def loss(self) -> Tensor:
        """−value / B: the bound as a per-sample loss whose scale does not depend on B."""
        return -self.value / self.batch_size

    @property
    def training_loss(self) -> Tensor:
        """What is differentiated: −(surrogate or value) / B, plus the auxiliary losses."""
        main = self.surrogate if self.surrogate is not None else self.value
        loss = -main / self.batch_size
        return loss + self.aux_loss if self.aux_loss is not None else loss


@dataclass(frozen=True)
class ObjectiveInfo:
    """What the code needs to know about an objective, declared where it is registered.

    decodes: which encoder→decoder decodes its forward pass needs (``all`` or ``diag``).
    kind: the family of models it trains (``ModelInfo.kind``: ``moe``, ``unimodal``, …).
    estimator: ``elbo`` (K samples averaged) or ``iwae`` (K samples inside the log): for the
        latter K = 1 reduces it to an ELBO, which is allowed but warned about.
    cli_name: the ``--obj`` name that selects it for its kind (the seed's names), with
        ``looser`` telling whether ``--looser`` is part of that choice.
    evaluated_by: the registered objective whose value the test pass reports (None: itself).
    options: keyword option of ``fn`` → the config path that sets it.
    warmup: ``fn`` takes ``kl_scale`` (0 … 1), the factor of its KL terms during a KL warm-up
        (``train.kl_warmup_epochs``): the training loss uses it, the reported bound does not.
    default_K: the samples per item when ``train.K`` is not set (None: 20 for an ``iwae``
        estimator, 1 otherwise).
    """

    name: str
    fn: Callable[..., ObjectiveResult]
    decodes: Literal["all", "diag"] = "all"
    kind: str = "moe"
    estimator: Literal["elbo", "iwae"] = "elbo"
    cli_name: str = ""
    looser: bool = False
    evaluated_by: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    doc: str = ""
    warmup: bool = False
    default_K: int | None = None

    @property
    def test_objective(self) -> str:
        return self.evaluated_by or self.name


OBJECTIVES: Registry[ObjectiveInfo] = Registry("objective")


def objective(name: str, *, kind: str, cli_name: str | None = None, decodes: str = "all",
              estimator: str = "elbo", looser: bool = False, evaluated_by: str | None = None,
              options: dict[str, str] | None = None, warmup: bool = False, default_K: int | None = None):
    """Registers a function ``(out, xs, **options) -> ObjectiveResult`` under ``name``."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        OBJECTIVES.register(name)(ObjectiveInfo(
            name, fn, decodes, kind, estimator, cli_name or name, looser, evaluated_by, dict(options or {}), doc,
            warmup, default_K))
        return fn

    return deco


def log_mean_exp(x: Tensor, dim: int) -> Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def reweight_gradient(z: Tensor, weights: Tensor) -> None:
    """Multiplies the gradient that reaches the sample tensor z [K,B,D] by weights [K,B].

    Registered on the very tensor that the decoders and densities consumed, so it fires
    (the original registered it on a concatenated copy, which the loss never touched).
    """
    if z.requires_grad:
        w = weights.detach().unsqueeze(-1)
        z.register_hook(lambda g: g * w)


def beta_weight(weights: dict | None, default: float, who: str) -> float:
    """The KL weight β of ``objective_weights`` (the only weight ``who``'s objectives take)."""
    from ..errors import ConfigError

    extra = sorted(set(weights or {}) - {"beta"})
    if extra:
        raise ConfigError(f"Objective weight '{extra[0]}' is not used by {who}'s objectives; they take beta.")
    beta = float((weights or {}).get("beta", default))
    if beta < 0:
        raise ConfigError(f"objective_weights.beta must be ≥ 0, got {beta}.")
    return beta
