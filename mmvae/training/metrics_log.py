"""Per-epoch metrics as JSONL (the record) and CSV (a convenience copy of it)."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from .checkpoint import atomic_write_text


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else (1e308 if v > 0 else -1e308)
    return v


class MetricsLog:
    """Rows of ``{"epoch": e, "train_loss": …, "test_loss": …}`` in run_dir/metrics.jsonl."""

    def __init__(self, run_dir: Path):
        self.jsonl = run_dir / "metrics.jsonl"
        self.csv = run_dir / "metrics.csv"
        self.steps = run_dir / "metrics_steps.jsonl"

    def rows(self) -> list[dict]:
        return read_rows(self.jsonl)

    def truncate(self, last_epoch: int) -> None:
        """Drops rows after ``last_epoch`` (a resumed run repeats them)."""
        for path, key in ((self.jsonl, "epoch"), (self.steps, "epoch")):
            rows = [r for r in read_rows(path) if r[key] <= last_epoch]
            atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
        self._write_csv(self.rows())

    def append(self, row: dict) -> None:
        row = {k: _clean(v) for k, v in row.items()}
        rows = self.rows() + [row]
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in rows))
        self._write_csv(rows)

    def append_steps(self, rows: list[dict]) -> None:
        if rows:
            with open(self.steps, "a") as f:
                f.writelines(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n" for r in rows)

    def _write_csv(self, rows: list[dict]) -> None:
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(self.csv, buf.getvalue())


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by a crash ends the record
    return out
