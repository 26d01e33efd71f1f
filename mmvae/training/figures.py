"""Figures written during and after training: generations, reconstructions, UMAP, KL, curves."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..models import evaluating
from ..viz import save_grid, save_recon_grid
from ..viz.embedding import plot_embedding
from ..viz.grids import save_rows
from ..viz.plots import plot_curves, plot_kl_boxes


def safe_figure(fn):
    """Figures never stop training: an unwritable folder is reported and skipped."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            warnings.warn(f"Could not write figure ({fn.__name__}): {e}. Training state is unaffected.")
            return None

    wrapper.__name__ = fn.__name__
    return wrapper


@safe_figure
def epoch_figures(model, xs: list[torch.Tensor], folder: Path, epoch: int, n_gen: int = 64) -> list[Path]:
    """Joint generations from p(z) per modality and the r→d reconstruction grids."""
    names = model.names
    paths = []
    for name, imgs in zip(names, model.generate(n_gen)):
        paths.append(save_grid(imgs, folder / f"gen_{name}_{epoch:03d}.png"))
    recon = model.reconstruct(xs)
    if model.M > 2:  # one figure per source: its inputs, then every modality generated from it
        for r in range(model.M):
            rows = [xs[r]] + [recon[(r, d)] for d in range(model.M)]
            paths.append(save_rows(rows, folder / f"recon_{names[r]}_to_all_{epoch:03d}.png"))
        return paths + (split_figures(model, xs, folder, epoch) or [])
    for (r, d), out in recon.items():
        tag = names[r] if r == d and len(names) == 1 else f"{names[r]}_to_{names[d]}"
        paths.append(save_recon_grid(xs[r], out, folder / f"recon_{tag}_{epoch:03d}.png"))
    return paths + (split_figures(model, xs, folder, epoch) or [])


@safe_figure
def split_figures(model, xs: list[torch.Tensor], folder: Path, epoch: int, n: int = 8, rows: int = 6) -> list[Path]:
    """For models whose decoders read private latents: per modality, generations with the shared
    latent of n test items held fixed and the private latent drawn afresh in each row (the style
    should change, the content stay), and the converse (each item's own private latent, the shared
    latent of other items per row: the content should change, the style stay)."""
    if not model.private_in_decoder:
        return []
    paths = []
    with torch.no_grad(), evaluating(model):
        for m, name in enumerate(model.names):
            enc = model.encode(xs[m][:n], m)
            z, w = enc.shared.mean, enc.private.mean
            fixed_shared = [xs[m][:n]] + [model.decode(z, m) for _ in range(rows)]  # w ~ p(w) each row
            paths.append(save_rows(fixed_shared, folder / f"split_{name}_fixed_shared_{epoch:03d}.png", n))
            others = [model.encode(xs[m][n * (i + 1): n * (i + 2)], m).shared.mean for i in range(rows)]
            fixed_private = [xs[m][:n]] + [model.decode(o, m, w[:len(o)]) for o in others if len(o) == len(w)]
            paths.append(save_rows(fixed_private, folder / f"split_{name}_fixed_private_{epoch:03d}.png", n))
    return paths


@safe_figure
def latent_figures(model, xs: list[torch.Tensor], labels: torch.Tensor, folder: Path, seed: int, K: int = 5) -> list[Path]:
    """UMAP of K posterior samples per item of every modality against prior samples, and
    per-dimension KL box plots."""
    with torch.no_grad(), evaluating(model):
        qs = [e.shared for e in model.encode_all(xs)]
        post = [q.rsample(K).reshape(-1, q.loc.shape[-1]).cpu().numpy() for q in qs]
        prior = model.prior().rsample(sum(len(p) for p in post) // len(post))[:, 0].cpu().numpy()
        kls = {f"q(z|{n})": q.kl_dims(model.prior()).cpu().numpy() for n, q in zip(model.names, qs)}
    lab = labels.cpu().numpy()
    coloured = [np.tile(lab, K)] * len(post) if len(lab) and lab.min() >= 0 else None  # −1: no labels
    paths = [plot_embedding(prior, post, model.names, coloured,
                            folder / "umap_posterior_prior.png", seed=seed)]
    paths.append(plot_kl_boxes(kls, folder / "kl_per_dimension.png"))
    return paths


@safe_figure
def curve_figure(rows: list[dict], steps: list[dict], folder: Path) -> Path:
    return plot_curves(rows, folder / "loss_curves.png", steps)
