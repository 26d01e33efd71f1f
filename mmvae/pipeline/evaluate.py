"""Evaluating a run folder end to end: load, measure, write the report."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from ..config import RunConfig, set_path, validate
from ..data.paired import PairedData
from ..evaluation.suite import evaluate
from ..report.rows import format_value, metric_rows
from ..report.run_report import write_report
from ..training.figures import split_figures
from .components import epoch_likelihood_pairs, figure_batch, load_data
from .runs import load_run


def last_test_losses(run_dir: Path) -> dict:
    """test_loss and the summed test KL terms of the run's last logged epoch, if any."""
    import json

    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file() or not path.read_text().strip():
        return {}
    row = json.loads(path.read_text().strip().splitlines()[-1])
    out = {}
    if "test_loss" in row:
        out["test_loss"] = row["test_loss"]
    kls = [v for k, v in row.items() if re.match(r"test_((shared|private)_)?kl_", k)]
    if kls:
        out["test_kl"] = sum(kls)
    return out


def evaluate_and_report(cfg: RunConfig, model, run_dir: Path, train: PairedData | None, test: PairedData,
                        epochs: int, log=print, parts=("coherence", "latent", "likelihood")) -> dict:
    """Runs the suite on distinct pairs, writes metrics.json + report.md/html, prints the table."""
    train = train.distinct() if train is not None else None
    test = test.distinct()
    metrics = evaluate(cfg, model, train, test, log=log, parts=parts)
    if cfg.eval.test_K:
        pairs = epoch_likelihood_pairs(cfg, test)
        drawn = (f"class-stratified and seeded from the run seed; pairs per class "
                 f"{torch.bincount(pairs.labels.cpu(), minlength=pairs.num_classes).tolist()}"
                 if pairs.labelled else "drawn at random (no labels), seeded from the run seed")
        metrics["protocol"]["per_epoch_likelihood"] = (
            f"test_logp_*_K{cfg.eval.test_K} in metrics.jsonl: IWAE K={cfg.eval.test_K} on {len(pairs)} test pairs, "
            f"{drawn}")
    metrics["epochs"] = epochs
    metrics.update(last_test_losses(run_dir))
    metrics["run_dir"] = str(run_dir)
    if model.private_in_decoder:  # every report of a model with private latents shows the split
        xs, _ = figure_batch(test, cfg.train.seed)
        split_figures(model, xs, Path(run_dir) / "figures", epochs)
    paths = write_report(run_dir, metrics)
    width = max((len(label) for label, _, _ in metric_rows(metrics)), default=10)
    for label, value, unit in metric_rows(metrics):
        log(f"  {label:<{width}}  {format_value(value, unit)}")
    for src, c in metrics.get("classifiers", {}).items():
        log(f"  (classifier {src}: {100 * c['test_accuracy']:.2f}% test accuracy)")
    log(f"report: {paths[-1]}")
    return metrics


def evaluate_run_dir(run_dir: str | Path, set_values: dict | None = None, log=print,
                     parts=("coherence", "latent", "likelihood"), data_dir: str | None = None) -> dict:
    """``mmvae evaluate``: the last checkpoint of ``run_dir`` through the full suite."""
    loaded = load_run(run_dir)
    cfg = loaded.cfg
    for key, value in (set_values or {}).items():
        set_path(cfg, key, value)
    if data_dir:
        cfg.data.data_dir = data_dir
    validate(cfg)
    data = load_data(cfg)
    return evaluate_and_report(cfg, loaded.model, Path(run_dir), data["train"], data["test"],
                               loaded.epochs_done, log=log, parts=parts)
