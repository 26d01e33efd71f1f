"""Evaluating a run folder end to end: load, measure, write the report."""
from __future__ import annotations

import re
from pathlib import Path

from ..config import RunConfig
from ..data.paired import PairedData
from ..report.rows import format_value, metric_rows
from .suite import evaluate


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
    from ..report.run_report import write_report

    train = train.distinct() if train is not None else None
    test = test.distinct()
    metrics = evaluate(cfg, model, train, test, log=log, parts=parts)
    metrics["epochs"] = epochs
    metrics.update(last_test_losses(run_dir))
    metrics["run_dir"] = str(run_dir)
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
    from .. import pipeline
    from ..config import set_path, validate
    from ..runs import load_run

    loaded = load_run(run_dir)
    cfg = loaded.cfg
    for key, value in (set_values or {}).items():
        set_path(cfg, key, value)
    if data_dir:
        cfg.data.data_dir = data_dir
    validate(cfg)
    data = pipeline.load_data(cfg)
    return evaluate_and_report(cfg, loaded.model, Path(run_dir), data["train"], data["test"],
                               loaded.epochs_done, log=log, parts=parts)
