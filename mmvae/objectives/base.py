"""Objective registry and result record."""
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

    value: the objective (to be *maximised*) summed over the batch, as the original code
        defines it; ``golden/`` values are compared with this.
    terms: per-sample means of its parts (λ-scaled log-likelihoods, KLs, …) for logging,
        detached, under stable names.
    batch_size: B, so the training loss can be a per-sample average.
    """

    value: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    batch_size: int = 1

    @property
    def loss(self) -> Tensor:
        """−value / B: a per-sample loss whose scale does not depend on the batch size."""
        return -self.value / self.batch_size


@dataclass(frozen=True)
class ObjectiveInfo:
    """How an objective is called.

    decodes: which encoder→decoder decodes its forward pass needs (``all`` or ``diag``).
    kind: ``moe`` (any number of modalities), ``unimodal`` (exactly one) or ``factorised``.
    estimator: ``elbo`` (K samples averaged) or ``iwae`` (K samples inside the log): for the
        latter K = 1 reduces it to an ELBO, which is allowed but warned about.
    """

    name: str
    fn: Callable[..., ObjectiveResult]
    decodes: Literal["all", "diag"] = "all"
    kind: str = "moe"
    estimator: str = "elbo"
    doc: str = ""


OBJECTIVES: Registry[ObjectiveInfo] = Registry("objective")


def objective(name: str, decodes: str = "all", kind: str = "moe", estimator: str = "elbo"):
    """Registers a function ``(out, xs, **options) -> ObjectiveResult`` under ``name``."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        OBJECTIVES.register(name)(ObjectiveInfo(name, fn, decodes, kind, estimator, doc))
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
