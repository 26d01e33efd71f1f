"""Street-number-like 3×32×32 colour crops.

Per sample: a glyph style (16 fonts shipped with matplotlib, or a painted brush), the centre
digit with scale, aspect, italic shear, rotation and offset, partly visible neighbouring
digits in the same style, a foreground colour with a minimum luminance contrast against a
textured background (low-frequency colour noise, a gradient, sometimes an edge band and a drop
shadow), then blur and pixel noise. Everything is vectorised; glyphs are placed with
``grid_sample`` at 64×64 and averaged down to 32×32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .fonts import GLYPH, downsample, glyph_bank

_BLUR_SIGMAS = (0.0, 0.55, 0.85, 1.15)


def _u(gen, shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape, generator=gen)


def _luma(c: Tensor) -> Tensor:
    return 0.299 * c[:, 0] + 0.587 * c[:, 1] + 0.114 * c[:, 2]


def _muted_colour(gen, n) -> Tensor:
    """Colours from HSV with mostly low saturation, as on painted signs and walls."""
    h = torch.rand(n, generator=gen) * 6
    sat = torch.rand(n, generator=gen) ** 1.6 * 0.75
    val = _u(gen, n, 0.08, 0.97)
    k = (torch.tensor([5.0, 3.0, 1.0])[None, :] + h[:, None]) % 6
    return val[:, None] * (1 - sat[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1)))


def _smooth_noise(gen, n, channels, size, cells=4) -> Tensor:
    coarse = torch.randn(n, channels, cells, cells, generator=gen)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)


def _gaussian_blur(img: Tensor, sigma: float) -> Tensor:
    if sigma <= 0:
        return img
    r = 2
    x = torch.arange(-r, r + 1, dtype=img.dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = img.shape[1]
    img = F.pad(img, (r, r, r, r), mode="replicate")
    img = F.conv2d(img, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(img, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


class StreetRenderer:
    """Renders batches of street-number-like digits; holds the glyph bank."""

    def __init__(self):
        self.masks, self.widths, self.styles = glyph_bank()
        coords = (torch.arange(GLYPH, dtype=torch.float32) + 0.5) / GLYPH * 2 - 1
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        self.base_grid = torch.stack([xx, yy], -1)  # [64, 64, 2] in output coordinates

    def _place(self, style: Tensor, digit: Tensor, grid: Tensor) -> Tensor:
        glyphs = self.masks[style, digit].unsqueeze(1)  # [N, 1, 64, 64]
        return F.grid_sample(glyphs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def render(self, labels: Tensor, gen: torch.Generator) -> Tensor:
        """uint8 images [N, 3, 32, 32]."""
        n = len(labels)
        style = torch.randint(len(self.styles), (n,), generator=gen)
        # output → glyph coordinates: v = A (u − t)
        h = _u(gen, n, 0.55, 0.80)  # half-height of the digit in output units
        aspect = _u(gen, n, 0.80, 1.25)
        shear = _u(gen, n, -0.22, 0.22)
        rot = torch.randn(n, generator=gen) * 0.07
        c, s = torch.cos(rot), torch.sin(rot)
        k = 0.8 / h
        A = torch.stack([
            torch.stack([k * c / aspect + k * shear * s, k * (-s) / aspect + k * shear * c], -1),
            torch.stack([k * s, k * c], -1),
        ], -2)
        t = torch.stack([_u(gen, n, -0.10, 0.10), _u(gen, n, -0.10, 0.10)], -1)
        v = torch.einsum("nij,hwj->nhwi", A, self.base_grid) - torch.einsum("nij,nj->ni", A, t)[:, None, None]
        mask = self._place(style, labels, v)
        # neighbours: same style, placed a glyph width plus a gap to the left and right
        gap = _u(gen, n, 0.10, 0.40)
        wc = self.widths[style, labels]
        for side in (-1.0, 1.0):
            digit = torch.randint(10, (n,), generator=gen)
            present = (torch.rand(n, generator=gen) < 0.8).float()
            off = side * (wc / 2 + gap + self.widths[style, digit] / 2)
            vn = v - torch.stack([off, torch.zeros(n)], -1)[:, None, None]
            mask = torch.maximum(mask, self._place(style, digit, vn) * present[:, None, None, None])
        img = self._colourise(downsample(mask), gen)
        out = torch.empty_like(img)
        group = torch.randint(len(_BLUR_SIGMAS), (n,), generator=gen)
        for g, sigma in enumerate(_BLUR_SIGMAS):
            sel = group == g
            if sel.any():
                out[sel] = _gaussian_blur(img[sel], sigma)
        out = out + torch.randn(out.shape, generator=gen) * _u(gen, (n, 1, 1, 1), 0.0, 0.05)
        return (out.clamp(0, 1) * 255).round().to(torch.uint8)

    def _colourise(self, mask: Tensor, gen: torch.Generator) -> Tensor:
        n, size = mask.shape[0], mask.shape[-1]
        bg = _muted_colour(gen, n)
        fg = _muted_colour(gen, n)
        lb = _luma(bg)
        delta = _u(gen, n, 0.30, 0.60)
        target = torch.where(lb > 0.5, lb - delta, lb + delta).clamp(0.03, 0.97)
        fg = (fg + (target - _luma(fg))[:, None]).clamp(0, 1)
        ramp = torch.linspace(-1, 1, size)
        angle = torch.rand(n, generator=gen) * 6.2832
        grad = torch.cos(angle)[:, None, None] * ramp[None, None, :] + torch.sin(angle)[:, None, None] * ramp[None, :, None]
        bg_map = (bg[:, :, None, None]
                  + 0.08 * _smooth_noise(gen, n, 1, size) + 0.03 * _smooth_noise(gen, n, 3, size)
                  + _u(gen, (n, 1, 1, 1), 0.0, 0.12) * grad[:, None])
        # an edge band (sign border) behind the digits in a quarter of the crops
        band = torch.zeros(n, 1, size, size)
        which = torch.randint(4, (n,), generator=gen)
        width = (_u(gen, n, 0.05, 0.18) * size).long()
        idx = torch.arange(size)
        for w_side in range(4):
            sel = (which == w_side) & (torch.rand(n, generator=gen) < 0.25)
            if not sel.any():
                continue
            cond = [idx[None, :] < width[:, None], idx[None, :] >= size - width[:, None]][w_side % 2].float()
            band[sel] = (cond[sel][:, None, :, None] if w_side < 2 else cond[sel][:, None, None, :])
        band_col = torch.rand(n, 3, 1, 1, generator=gen)
        bg_map = bg_map * (1 - band) + band_col * band
        # a drop shadow in 30 % of the crops
        shift = torch.randint(1, 3, (1,), generator=gen).item()
        shadow = F.pad(mask, (shift, 0, shift, 0))[:, :, :size, :size]
        has_shadow = (torch.rand(n, 1, 1, 1, generator=gen) < 0.3).float()
        bg_map = bg_map * (1 - 0.6 * shadow * has_shadow)
        fg_map = fg[:, :, None, None] + 0.05 * _smooth_noise(gen, n, 3, size)
        return bg_map * (1 - mask) + fg_map * mask
