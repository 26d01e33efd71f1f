"""Figures written during and after training: generations, reconstructions, UMAP, KL, curves."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..models import evaluating
from ..viz import save_grid, save_recon_grid
from ..viz.embedding import plot_embedding
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
    for (r, d), out in model.reconstruct(xs).items():
        tag = names[r] if r == d and len(names) == 1 else f"{names[r]}_to_{names[d]}"
        paths.append(save_recon_grid(xs[r], out, folder / f"recon_{tag}_{epoch:03d}.png"))
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
    paths = [plot_embedding(prior, post, model.names, [np.tile(lab, K)] * len(post),
                            folder / "umap_posterior_prior.png", seed=seed)]
    paths.append(plot_kl_boxes(kls, folder / "kl_per_dimension.png"))
    return paths


@safe_figure
def curve_figure(rows: list[dict], steps: list[dict], folder: Path) -> Path:
    return plot_curves(rows, folder / "loss_curves.png", steps)
