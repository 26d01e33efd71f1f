"""A table across runs, like the seed's results table: rows = metrics, columns = runs or groups
of runs that differ only in their seed (mean ± std over seeds)."""
from __future__ import annotations

import csv
import html
import io
import json
import statistics
from pathlib import Path

import yaml

from ..config import RunConfig
from ..errors import ConfigError
from ..utils import atomic_write_text
from .rows import metric_rows


def load_run_metrics(run_dir: Path) -> tuple[dict, dict]:
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise ConfigError(f"{run_dir} has no metrics.json. Evaluate it first: `mmvae evaluate {run_dir}`.")
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
    return json.loads(path.read_text()), cfg or {}


def _group_key(cfg: dict) -> str:
    """The run's settings without its seed and the keys that do not define a run by their role
    (machine and location): what a group of seeds shares."""
    try:
        d = RunConfig.from_dict(cfg).run_defining(keep=("run", "length", "evaluation"))
    except ConfigError:  # a config this version cannot read: group it by its text
        d = json.loads(json.dumps(cfg))
    d.get("train", {}).pop("seed", None)
    return json.dumps(d, sort_keys=True)


def _label(cfg: dict, run_dir: Path) -> str:
    parts = [cfg.get("experiment") or "", cfg.get("model", {}).get("model", ""), cfg.get("train", {}).get("obj", "")]
    if cfg.get("train", {}).get("looser"):
        parts[-1] += " (looser)"
    label = " / ".join(p for p in parts if p)
    return label or run_dir.name


def build_table(run_dirs: list[Path], group_by: str = "seed", names: dict | None = None,
                per_target: bool = False):
    """(column labels, row labels, {"cells": {(row, col): [values]}, …}). ``names`` maps a run
    folder to its column label; runs with the same label form one group; ``per_target`` adds the
    coherence given k per target modality."""
    columns: dict[str, list[tuple[dict, Path]]] = {}
    labels: dict[str, str] = {}
    for d in run_dirs:
        metrics, cfg = load_run_metrics(Path(d))
        if names and Path(d) in names:
            key = label = names[Path(d)]
        else:
            key = _group_key(cfg) if group_by == "seed" else str(d)
            label = _label(cfg, Path(d)) if group_by == "seed" else Path(d).name
        columns.setdefault(key, []).append((metrics, Path(d)))
        labels.setdefault(key, label)
    # make duplicate labels unique
    seen: dict[str, int] = {}
    col_names = []
    for key in columns:
        name = labels[key]
        seen[name] = seen.get(name, 0) + 1
        col_names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    cells: dict[tuple[str, str], list[float]] = {}
    row_names: list[str] = []
    units: dict[str, str] = {}
    for col, runs in zip(col_names, columns.values()):
        for metrics, _ in runs:
            for label, value, unit in metric_rows(metrics, per_target):
                if label not in units:
                    row_names.append(label)
                    units[label] = unit
                cells.setdefault((label, col), []).append(value)
    counts = {col: len(runs) for col, runs in zip(col_names, columns.values())}
    return col_names, row_names, {"cells": cells, "units": units, "counts": counts}


def cell_text(values: list[float] | None, unit: str) -> str:
    if not values:
        return "–"
    fmt = "{:.2f}" if unit == "%" else "{:.1f}"
    mean = statistics.fmean(values)
    text = fmt.format(mean)
    if len(values) > 1:
        text += " ± " + fmt.format(statistics.stdev(values))
    return text + ("%" if unit == "%" else "")


def render(col_names, row_names, data) -> dict[str, str]:
    cells, units, counts = data["cells"], data["units"], data["counts"]
    head = ["Metric"] + [f"{c} (n={counts[c]})" for c in col_names]
    body = [[r] + [cell_text(cells.get((r, c)), units[r]) for c in col_names] for r in row_names]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(row) + " |" for row in body]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(body)
    e = html.escape
    table = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{e(x)}</td>" for x in row) + "</tr>" for row in body)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>mmvae comparison</title><style>"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style></head>"
            f"<body><h1>Comparison</h1><table id='comparison'>{table}</table></body></html>\n")
    return {"md": "\n".join(md) + "\n", "csv": buf.getvalue(), "html": page}


def compare(run_dirs: list[str | Path], out_prefix: str | Path, group_by: str = "seed",
            names: dict | None = None, per_target: bool = False) -> dict[str, Path]:
    if not run_dirs:
        raise ConfigError("Give at least one run folder to compare.")
    unique = list(dict.fromkeys(Path(d).resolve() for d in run_dirs))
    names = {Path(k).resolve(): v for k, v in (names or {}).items()}
    texts = render(*build_table(unique, group_by, names, per_target))
    out = {}
    for ext, text in texts.items():
        path = Path(f"{out_prefix}.{ext}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        out[ext] = path
    return out
