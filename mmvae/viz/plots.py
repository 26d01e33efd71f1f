"""Loss curves and per-dimension KL box plots."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _fig():
    import matplotlib.pyplot as plt

    return plt


def plot_curves(rows: list[dict], path: str | Path, steps: list[dict] | None = None) -> Path:
    """Per-epoch train/test curves of the loss, each log-likelihood term and each KL.

    Panels: loss (lower is better; per-step training loss in grey when given), λ-scaled
    log-likelihood terms (higher is better), KL terms. No "best" marker is drawn, so the
    direction of each curve cannot be mislabelled.
    """
    plt = _fig()
    epochs = [r["epoch"] for r in rows]
    keys = sorted({k for r in rows for k in r if k.startswith(("train_", "test_"))})
    groups = [
        ("loss (−objective per pair, lower is better)", [k for k in keys if k.endswith("_loss")]),
        ("log-likelihood terms λ·log p(x_d|z_r) (higher is better)", [k for k in keys if "_lp_" in k]),
        ("KL(q ‖ p) terms", [k for k in keys if "_kl_" in k]),
    ]
    groups = [g for g in groups if g[1]]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.2), squeeze=False)
    for ax, (title, ks) in zip(axes[0], groups):
        if steps and "loss" in title:
            ax.plot([s["epoch_f"] for s in steps], [s["loss"] for s in steps], color="0.75", lw=0.8, label="train (per step)")
        for k in ks:
            ys = [r.get(k, np.nan) for r in rows]
            style = "-" if k.startswith("train_") else "--"
            ax.plot(epochs, ys, style, marker="o", ms=3, label=k)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_kl_boxes(kls: dict[str, np.ndarray], path: str | Path) -> Path:
    """Box plot per latent dimension of KL(q(z|x) ‖ p(z)) over test items, one colour per
    posterior, log y-axis. ``kls`` maps a name to an array [items, D]."""
    plt = _fig()
    names = list(kls)
    D = next(iter(kls.values())).shape[1]
    fig, ax = plt.subplots(figsize=(max(6, D * 0.45 * len(names)), 4))
    width = 0.8 / len(names)
    colours = ["#cc0033", "#80ff00", "#5c5cd6", "#ff9900"]
    for i, name in enumerate(names):
        pos = np.arange(D) + (i - (len(names) - 1) / 2) * width
        bp = ax.boxplot(np.clip(kls[name], 1e-6, None), positions=pos, widths=width * 0.9,
                        patch_artist=True, showfliers=False)
        for b in bp["boxes"]:
            b.set_facecolor(colours[i % 4])
            b.set_alpha(0.6)
        ax.plot([], [], color=colours[i % 4], lw=6, alpha=0.6, label=name)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(D))
    ax.set_xticklabels([str(d) for d in range(D)])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL per dimension (nats)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path, dpi: int = 90) -> Path:
    """Lays out, writes (creating the folder) and closes a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
