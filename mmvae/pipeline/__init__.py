"""Orchestration: composes data, model and objective from a :class:`RunConfig`, trains, and
evaluates run folders. What ``mmvae train`` and ``mmvae evaluate`` run.

Library use::

    from mmvae.config import RunConfig
    from mmvae import pipeline
    cfg = RunConfig(); cfg.train.obj = "elbo_naive"; cfg.train.epochs = 2
    run_dir = pipeline.train(cfg)
"""
from .components import (
           Components,
           build,
           figure_batch,
           load_data,
           make_objective,
           prepare_model,
           resolve_device,
)
from .evaluate import evaluate_and_report, evaluate_run_dir
from .runs import LoadedRun, load_run
from .train import is_rank_zero, train

__all__ = ["Components", "LoadedRun", "build", "evaluate_and_report", "evaluate_run_dir", "figure_batch",
           "is_rank_zero", "load_data", "load_run", "make_objective", "prepare_model", "resolve_device", "train"]
