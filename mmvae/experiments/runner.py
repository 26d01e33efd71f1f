"""Runs a study: trains and evaluates each run (finished runs are skipped, interrupted ones
resumed), then writes the comparison table, study figures and a README into the study folder."""
from __future__ import annotations

import re
from pathlib import Path

from .. import pipeline
from ..report.compare import compare
from ..training.checkpoint import has_checkpoint
from ..utils import atomic_write_text
from .figures import study_figures
from .presets import Study
from .verdict import verdict_lines


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def run_study(study: Study, out_dir: str | Path, log=print) -> Path:
    out_dir = Path(out_dir)
    run_dirs: dict[Path, str] = {}
    for i, (label, cfg) in enumerate(study.runs, 1):
        run_dir = out_dir / "runs" / f"{slug(label)}-seed{cfg.train.seed}"
        cfg.run_dir, cfg.experiment = str(run_dir), study.name
        run_dirs[run_dir] = label
        if (run_dir / "metrics.json").is_file():
            log(f"[{i}/{len(study.runs)}] {label} (seed {cfg.train.seed}): done before, skipped")
            continue
        log(f"[{i}/{len(study.runs)}] {label} (seed {cfg.train.seed}) → {run_dir}")
        pipeline.train(cfg, resume=has_checkpoint(run_dir))
    paths = compare(list(run_dirs), out_dir / "comparison", names=run_dirs)
    figures = study_figures(study, run_dirs, out_dir)
    write_study_readme(study, out_dir, paths["md"].read_text(), figures, run_dirs)
    log(f"study report: {out_dir / 'README.md'}")
    return out_dir


def ranking(run_dirs: dict[Path, str]) -> list[str]:
    """Markdown lines ranking the variants of each modality by mean test loss (lower first)."""
    import json
    import statistics

    losses: dict[str, list[float]] = {}
    for run_dir, label in run_dirs.items():
        m = json.loads((run_dir / "metrics.json").read_text())
        if "test_loss" in m:
            losses.setdefault(label, []).append(m["test_loss"])
    lines = ["", "Ranked by test loss (−ELBO per image, lower is better):", ""]
    for slot in sorted({label.split()[0] for label in losses}):
        ranked = sorted((statistics.fmean(v), k) for k, v in losses.items() if k.split()[0] == slot)
        lines.append(f"- {slot}: " + " < ".join(f"{k.split(' ', 1)[1]} ({v:.1f})" for v, k in ranked))
    return lines + [""]


def settings(study: Study) -> list[str]:
    """One line per dataset of the study: what its runs share."""
    lines, seen = [], set()
    seeds = sorted({c.train.seed for _, c in study.runs})
    for _, cfg in study.runs:
        d, t = cfg.data, cfg.train
        if d.dataset in seen:
            continue
        seen.add(d.dataset)
        size = (f"{d.synthetic_train} tuples" if d.dataset == "polymnist" else f"max_d {d.max_d}, dm {d.dm}")
        lines.append(f"- dataset `{d.dataset}`, {size}, {t.epochs} epochs"
                     f"{f' of at most {t.max_steps} steps' if t.max_steps else ''}, batch {t.batch_size}, "
                     f"seeds {seeds}")
    return lines


def write_study_readme(study: Study, out_dir: Path, table: str, figures: list[Path], run_dirs) -> Path:
    lines = [f"# Study: {study.name}", "", study.description, "", "Setting:", "", *settings(study), "",
             f"Full setting's expected run time: {study.full_runtime}." if study.full_runtime else "",
             "", table, ""]
    if study.verdicts:
        lines += ["## The criterion", ""]
        for variant, baseline in study.verdicts:
            lines += verdict_lines(run_dirs, variant, baseline)
        lines.append("")
    if study.figures == "architecture":
        lines += ranking(run_dirs)
    lines += [f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in figures]
    path = out_dir / "README.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
