"""Training objectives: pure functions of a model's forward output and the data.

Look one up by name with :func:`get_objective`; :data:`OBJECTIVES` lists them all.
"""
from . import factorised, mmvaeplus, moe, products  # noqa: F401  (fill the registry)
from .base import OBJECTIVES, ObjectiveInfo, ObjectiveResult, log_mean_exp
from .resolve import cli_names, get_objective, resolve_objective_name

__all__ = [
    "OBJECTIVES",
    "cli_names",
    "ObjectiveInfo",
    "ObjectiveResult",
    "get_objective",
    "log_mean_exp",
    "resolve_objective_name",
]
