"""Image grids written straight to PNG (no torchvision)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def to_display(x: Tensor, size: int = 32) -> Tensor:
    """Images [N, C, H, W] in [0, 1] as [N, 3, size, size]: grey is repeated to RGB and
    smaller images are zero-padded (the seed shows 28×28 MNIST padded beside 32×32 SVHN).
    Other channel counts (users' data): two channels get an empty blue one, more than three
    show the first three."""
    x = x.detach().float().cpu().clamp(0, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 2:
        x = torch.cat([x, torch.zeros_like(x[:, :1])], 1)
    elif x.shape[1] > 3:
        x = x[:, :3]
    pad_h, pad_w = size - x.shape[2], size - x.shape[3]
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    return x


def grid_array(x: Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """[H, W, 3] uint8 grid of images [N, 3, h, w] with ``nrow`` images per row."""
    n, _, h, w = x.shape
    rows = math.ceil(n / nrow)
    canvas = torch.ones(3, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[i]
    return (canvas.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _save(arr: np.ndarray, path: Path, scale: int) -> Path:
    import matplotlib.image

    if scale > 1:
        arr = arr.repeat(scale, 0).repeat(scale, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, arr)
    return path


def save_grid(x: Tensor, path: str | Path, nrow: int = 8, scale: int = 2) -> Path:
    """Saves images [N, C, H, W] as one PNG grid."""
    size = max(x.shape[-1], x.shape[-2])
    return _save(grid_array(to_display(x, size), nrow), Path(path), scale)


def save_recon_grid(inputs: Tensor, outputs: Tensor, path: str | Path, n: int = 8, scale: int = 2) -> Path:
    """Top row: ``n`` inputs; bottom row: their (cross-)reconstructions."""
    return save_rows([inputs, outputs], path, n, scale)


def save_rows(rows: list[Tensor], path: str | Path, n: int = 8, scale: int = 2) -> Path:
    """One row per tensor of images [N, C, H, W] (the first ``n`` of each), padded to one size."""
    size = max(max(r.shape[-1], r.shape[-2]) for r in rows)
    n = min([n] + [len(r) for r in rows])
    return _save(grid_array(torch.cat([to_display(r[:n], size) for r in rows]), nrow=n), Path(path), scale)
