"""Study figures: the runs' last generation grids side by side, and paired UMAP panels."""
from __future__ import annotations

import re
from pathlib import Path

from ..viz.plots import save_figure


def _last(run_dir: Path, prefix: str) -> Path | None:
    files = sorted((run_dir / "figures").glob(f"{prefix}_[0-9][0-9][0-9].png"))
    return files[-1] if files else None


def _panel(images: list[tuple[str, Path]], path: Path, cols: int) -> Path | None:
    import matplotlib.image
    import matplotlib.pyplot as plt

    images = [(t, p) for t, p in images if p is not None and p.is_file()]
    if not images:
        return None
    rows = (len(images) + cols - 1) // cols
    h, w = matplotlib.image.imread(images[0][1]).shape[:2]
    width = 3 if w <= h * 1.2 else 6  # wide images (UMAP panels) get wider cells
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, width * h / w * rows + 0.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, p) in zip(axes.flat, images):
        ax.imshow(matplotlib.image.imread(p))
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path, dpi=110)


def coherence_by_k(run_dirs: dict[Path, str], path: Path) -> Path | None:
    """Coherence given k observed modalities against k, one line per variant (mean ± std over seeds)."""
    import json
    import statistics

    import matplotlib.pyplot as plt

    curves: dict[str, dict[int, list[float]]] = {}
    for run_dir, label in run_dirs.items():
        metrics_path = run_dir / "metrics.json"
        given = json.loads(metrics_path.read_text()).get("conditional_coherence", {}).get("given_k", {}) \
            if metrics_path.is_file() else {}
        for k, v in given.items():
            curves.setdefault(label, {}).setdefault(int(k), []).append(100 * v)
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, by_k in curves.items():
        ks = sorted(by_k)
        means = [statistics.fmean(by_k[k]) for k in ks]
        stds = [statistics.stdev(by_k[k]) if len(by_k[k]) > 1 else 0.0 for k in ks]
        ax.errorbar(ks, means, yerr=stds, marker="o", capsize=3, label=label)
    ax.set_xlabel("observed modalities k")
    ax.set_ylabel("conditional coherence (%)")
    ax.set_xticks(sorted({k for c in curves.values() for k in c}))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=130)


def study_figures(study, run_dirs: dict[Path, str], out_dir: Path) -> list[Path]:
    """Generation grids per run (first seed), and for decoder-scale UMAPs at σ = 0.2 vs 0.75."""
    first_seed: dict[str, Path] = {}
    for run_dir, label in run_dirs.items():
        first_seed.setdefault(label, run_dir)
    out = []
    if study.figures == "coherence-k":
        p = coherence_by_k(run_dirs, out_dir / "figures" / "coherence_by_k.png")
        if p:
            out.append(p)
    by_slot: dict[str, list[tuple[str, Path]]] = {}
    for label, run_dir in first_seed.items():
        slot = label.split()[0] if study.figures in ("decoder-scale", "architecture") else "all"
        for gen in sorted((run_dir / "figures").glob("gen_*_[0-9][0-9][0-9].png")):
            name = re.match(r"gen_(.*)_\d{3}\.png", gen.name).group(1)
            if gen == _last(run_dir, f"gen_{name}"):
                by_slot.setdefault(slot, []).append((f"{label}: {name}", gen))
    for slot, images in by_slot.items():
        cols = 6 if study.figures in ("decoder-scale", "architecture") else 5
        p = _panel(images, out_dir / "figures" / f"generations_{slot}.png", cols=cols)
        if p:
            out.append(p)
    if study.figures == "decoder-scale":
        for slot in ("mnist", "svhn"):
            pair = [(f"{slot} σ={s}: q(z|x) vs p(z)", first_seed[f"{slot} σ={s}"] / "figures" / "umap_posterior_prior.png")
                    for s in (0.2, 0.75) if f"{slot} σ={s}" in first_seed]
            p = _panel(pair, out_dir / "figures" / f"umap_{slot}_0.2_vs_0.75.png", cols=2)
            if p:
                out.append(p)
    return out
