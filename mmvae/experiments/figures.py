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


def probe_curves(run_dir: Path) -> dict[str, dict[int, float]]:
    """{shared, private}: epoch → mean shared probe / largest private probe, from metrics.jsonl."""
    import json

    out: dict[str, dict[int, float]] = {"shared": {}, "private": {}}
    path = run_dir / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        row = json.loads(line)
        probes = {k[len("test_probe_"):]: v for k, v in row.items() if k.startswith("test_probe_")}
        if not probes:
            continue
        private = [v for k, v in probes.items() if k.endswith("_private")]
        shared = [v for k, v in probes.items() if not k.endswith("_private")]
        out["shared"][row["epoch"]] = sum(shared) / len(shared)
        if private:
            out["private"][row["epoch"]] = max(private)
    return out


def probe_trends(run_dirs: dict[Path, str], path: Path) -> Path | None:
    """The linear probes over epochs, one line per variant (first seed): left, the mean shared-latent
    probe; right, the largest private-latent probe (the digit left in the private latents)."""
    import matplotlib.pyplot as plt

    first: dict[str, Path] = {}
    for run_dir, label in run_dirs.items():
        first.setdefault(label, run_dir)
    curves = {label: probe_curves(d) for label, d in first.items()}
    curves = {k: v for k, v in curves.items() if v["shared"]}
    if not curves:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, part, title in zip(axes, ("shared", "private"), ("shared latents (mean over modalities)",
                                                             "private latents (largest over modalities)")):
        for i, (label, c) in enumerate(curves.items()):  # one colour per variant in both panels
            if c[part]:
                ks = sorted(c[part])
                ax.plot(ks, [100 * c[part][k] for k in ks], marker="o", color=f"C{i}", label=label)
        ax.set_title(f"digit probe, {title}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("linear probe accuracy (%)")
    axes[1].axhline(30, color="grey", ls="--", lw=1)
    axes[0].legend(fontsize=7)
    return save_figure(fig, path, dpi=120)


def split_panel(run_dirs: dict[Path, str], prefix: str, path: Path) -> Path | None:
    """The shared/private swap figures of the first run of each variant whose label starts with
    ``prefix`` (their last epoch)."""
    images, seen = [], set()
    for run_dir, label in run_dirs.items():
        if not label.startswith(prefix) or label in seen:
            continue
        seen.add(label)
        for f in sorted((run_dir / "figures").glob("split_*_fixed_*_[0-9][0-9][0-9].png")):
            stem = re.match(r"split_(.*)_\d{3}\.png", f.name).group(1)
            if f == _last(run_dir, f"split_{stem}"):
                images.append((f"{label}: {stem.replace('_fixed_', ', fixed ')}", f))
    return _panel(images, path, cols=4) if images else None


def study_figures(study, run_dirs: dict[Path, str], out_dir: Path) -> list[Path]:
    """Generation grids per run (first seed), and for decoder-scale UMAPs at σ = 0.2 vs 0.75."""
    first_seed: dict[str, Path] = {}
    for run_dir, label in run_dirs.items():
        first_seed.setdefault(label, run_dir)
    out = []
    if study.figures in ("coherence-k", "factorised"):
        p = coherence_by_k(run_dirs, out_dir / "figures" / "coherence_by_k.png")
        if p:
            out.append(p)
    if study.figures == "factorised":
        for data_name in sorted({label.rsplit("(", 1)[-1].rstrip(")") for label in run_dirs.values()}):
            group = {d: label for d, label in run_dirs.items() if label.endswith(f"({data_name})")}
            for p in (probe_trends(group, out_dir / "figures" / f"probes_{data_name}.png"),
                      split_panel(group, "MMVAE+", out_dir / "figures" / f"split_{data_name}.png")):
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
