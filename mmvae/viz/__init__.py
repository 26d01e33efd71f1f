"""Figures: image grids, latent embeddings, KL box plots, loss curves (matplotlib, PNG)."""
import matplotlib

matplotlib.use("Agg")

from .grids import save_grid, save_recon_grid, to_display

__all__ = ["save_grid", "save_recon_grid", "to_display"]
