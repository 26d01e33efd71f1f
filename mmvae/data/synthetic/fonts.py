"""Digit glyph masks from the fonts that ship with matplotlib, plus painted stroke styles.

Each glyph is a soft mask [64, 64] with the font's digit height spanning 80 % of the box,
horizontally centred; ``widths`` gives each glyph's ink width in grid_sample units ([-1, 1]).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .glyphs import ALLOGRAPHS, allograph_points
from .handwriting import splat_points

GLYPH = 64
# font files in matplotlib's mpl-data/fonts/ttf whose digits are ordinary lining figures
FONT_FILES = [
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf",
]


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _font_glyphs(path: Path) -> np.ndarray | None:
    """Soft masks [10, 64, 64] of one font's digits, or None if the font lacks them."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path as MPath
    from matplotlib.textpath import TextPath

    prop = FontProperties(fname=str(path))
    paths = [TextPath((0, 0), str(d), size=1.0, prop=prop) for d in range(10)]
    boxes = [p.get_extents() for p in paths]
    if any(b.width <= 0 or b.height <= 0 for b in boxes):
        return None
    y0 = min(b.y0 for b in boxes)
    y1 = max(b.y1 for b in boxes)
    height = y1 - y0
    hi = GLYPH * 2
    coords = (np.arange(hi) + 0.5) / hi * 2 - 1  # [-1, 1]
    xx, yy = np.meshgrid(coords, coords)
    out = np.zeros((10, GLYPH, GLYPH), dtype=np.float32)
    for d, (p, b) in enumerate(zip(paths, boxes)):
        cx = (b.x0 + b.x1) / 2
        # grid point (x, y) ↦ font units; font y is up, the image's y is down
        fx = xx / 0.8 * (height / 2) + cx
        fy = -yy / 0.8 * (height / 2) + (y0 + y1) / 2
        pts = np.stack([fx.ravel(), fy.ravel()], 1)
        # even-odd over the outline's polygons, so counters (holes of 0, 4, 6, 8, 9) stay
        # empty whatever the orientation convention of the font
        inside = np.zeros(len(pts), dtype=bool)
        for poly in p.to_polygons(closed_only=True):
            inside ^= MPath(poly).contains_points(pts)
        mask = inside.reshape(hi, hi).astype(np.float32)
        out[d] = mask.reshape(GLYPH, 2, GLYPH, 2).mean((1, 3))
    return out


def _painted_glyphs(half_width: float) -> np.ndarray:
    """Stroke-skeleton digits painted with a round brush (first allograph of each digit)."""
    out = np.zeros((10, GLYPH, GLYPH), dtype=np.float32)
    for d in range(10):
        pts = torch.tensor(allograph_points(ALLOGRAPHS[d][0], 640), dtype=torch.float32) - 0.5
        pts = pts * (0.8 / 0.71)  # skeleton height ≈ 0.71 → 80 % of the box
        radius = torch.full((1, len(pts)), half_width)
        out[d] = splat_points(pts[None], radius, GLYPH, reach=7)[0].numpy()
    return out


def glyph_bank() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(masks [F, 10, 64, 64], widths [F, 10], style names) over every available style."""
    masks, names = [], []
    for fname in FONT_FILES:
        path = _font_dir() / fname
        if path.exists():
            g = _font_glyphs(path)
            if g is not None:
                masks.append(g)
                names.append(Path(fname).stem)
    for hw, name in ((0.085, "painted-thick"), (0.05, "painted-thin")):
        masks.append(_painted_glyphs(hw))
        names.append(name)
    m = torch.tensor(np.stack(masks))
    cols = (m > 0.3).any(2).float()  # [F, 10, W]: columns with ink
    xs = torch.linspace(-1, 1, GLYPH)
    left = torch.where(cols > 0, xs, torch.full_like(xs, 2.0)).amin(-1)
    right = torch.where(cols > 0, xs, torch.full_like(xs, -2.0)).amax(-1)
    return m, (right - left).clamp(min=0.2), names


def downsample(img: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(img, 2)
