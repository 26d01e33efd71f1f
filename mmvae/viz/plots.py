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
    log-likelihood terms (higher is better), KL terms. One colour per term, solid for training and
    dashed for test; a panel with many terms (M² log-likelihoods at M = 5) puts its legend under
    it. No "best" marker is drawn, so the direction of each curve cannot be mislabelled.
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
    terms = [sorted({k.split("_", 1)[1] for k in ks}) for _, ks in groups]
    legend_rows = max((-(-len(t) // LEGEND_COLUMNS) for t in terms if len(t) > LEGEND_INSIDE), default=0)
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.2 + 0.17 * legend_rows), squeeze=False)
    for ax, (title, ks), names in zip(axes[0], groups, terms):
        if steps and "loss" in title:
            ax.plot([s["epoch_f"] for s in steps], [s["loss"] for s in steps], color="0.75", lw=0.8, label="train (per step)")
        _term_curves(plt, ax, rows, epochs, ks, names)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
    return save_figure(fig, path)


LEGEND_INSIDE = 8  # terms a legend inside the panel holds; more go under it
LEGEND_COLUMNS = 3


def _term_curves(plt, ax, rows, epochs, keys, names) -> None:
    from matplotlib.lines import Line2D

    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    markers = "osD^v"
    handles = list(ax.get_legend_handles_labels()[0])  # the per-step line, where drawn
    for i, name in enumerate(names):
        colour, marker = cmap(i % cmap.N), markers[(i // cmap.N) % len(markers)]
        for split, style in (("train", "-"), ("test", "--")):
            if f"{split}_{name}" in keys:
                ax.plot(epochs, [r.get(f"{split}_{name}", np.nan) for r in rows], style, color=colour,
                        marker=marker, ms=3)
        handles.append(Line2D([], [], color=colour, marker=marker, ms=3, label=name))
    handles += [Line2D([], [], color="0.3", ls="-", label="train"), Line2D([], [], color="0.3", ls="--", label="test")]
    if len(names) > LEGEND_INSIDE:
        ax.legend(handles=handles, fontsize=6, ncol=LEGEND_COLUMNS, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), frameon=False)
    else:
        ax.legend(handles=handles, fontsize=7)


MAX_WIDTH_INCHES = 24  # wider side-by-side box plots go one panel per posterior


def plot_kl_boxes(kls: dict[str, np.ndarray], path: str | Path) -> Path:
    """Box plot per latent dimension of KL(q(z|x) ‖ p(z)) over test items, one colour per
    posterior, log y-axis. ``kls`` maps a name to an array [items, D]. The posteriors' boxes
    stand side by side per dimension while that fits ``MAX_WIDTH_INCHES``; beyond (five
    modalities of 32 dimensions) each posterior gets its own panel, one above the other."""
    plt = _fig()
    names = list(kls)
    D = next(iter(kls.values())).shape[1]
    colours = plt.get_cmap("tab10")
    side_by_side = D * 0.45 * len(names) <= MAX_WIDTH_INCHES
    if side_by_side:
        fig, ax = plt.subplots(figsize=(max(6, D * 0.45 * len(names)), 4))
        axes, width = [ax] * len(names), 0.8 / len(names)
    else:
        fig, axes = plt.subplots(len(names), 1, figsize=(min(MAX_WIDTH_INCHES, max(6, D * 0.4)), 1.9 * len(names) + 0.6),
                                 sharex=True, sharey=True, squeeze=False)
        axes, width = list(axes[:, 0]), 0.8
    for i, (name, ax) in enumerate(zip(names, axes)):
        offset = (i - (len(names) - 1) / 2) * width if side_by_side else 0.0
        bp = ax.boxplot(np.clip(kls[name], 1e-6, None), positions=np.arange(D) + offset, widths=width * 0.9,
                        patch_artist=True, showfliers=False, medianprops={"color": "black"})
        for box in bp["boxes"]:
            box.set_facecolor(colours(i % colours.N))
            box.set_alpha(0.6)
        ax.plot([], [], color=colours(i % colours.N), lw=6, alpha=0.6, label=name)
        ax.set_yscale("log")
        ax.set_ylabel("KL per dimension (nats)", fontsize=8)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xticks(np.arange(D))
    axes[-1].set_xticklabels([str(d) for d in range(D)])
    axes[-1].set_xlabel("latent dimension")
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
