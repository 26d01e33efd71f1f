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


def study_figures(study, run_dirs: dict[Path, str], out_dir: Path) -> list[Path]:
    """Generation grids per run (first seed), and for decoder-scale UMAPs at σ = 0.2 vs 0.75."""
    first_seed: dict[str, Path] = {}
    for run_dir, label in run_dirs.items():
        first_seed.setdefault(label, run_dir)
    out = []
    by_slot: dict[str, list[tuple[str, Path]]] = {}
    for label, run_dir in first_seed.items():
        slot = label.split()[0] if study.figures else "all"
        for gen in sorted((run_dir / "figures").glob("gen_*_[0-9][0-9][0-9].png")):
            name = re.match(r"gen_(.*)_\d{3}\.png", gen.name).group(1)
            if gen == _last(run_dir, f"gen_{name}"):
                by_slot.setdefault(slot, []).append((f"{label}: {name}", gen))
    for slot, images in by_slot.items():
        p = _panel(images, out_dir / "figures" / f"generations_{slot}.png", cols=6 if study.figures else 4)
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
