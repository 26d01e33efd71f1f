"""Procedural RGB background textures, one per PolyMNIST modality.

Each modality gets a different structure (stripes, checks, smooth blobs, ripples of rings, dots; further
modalities cycle through them with other parameters) and a different colour pair: the hues are
spaced by the golden ratio so any number of modalities stay apart. Everything is vectorised and
deterministic given (seed, modality index); colours are saturated so that the inverted digit
(255 − background) stands out on every texture.
"""
from __future__ import annotations

import colorsys
import math

import torch
import torch.nn.functional as F
from torch import Tensor

KINDS = ("stripes", "checks", "blobs", "rings", "dots")
_GOLDEN = (math.sqrt(5) - 1) / 2


def _grid(size: int) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates (y, x) in [0, 1), each [size, size]."""
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    return t[:, None].expand(size, size), t[None, :].expand(size, size)


def _u(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def stripes(size: int, gen: torch.Generator) -> Tensor:
    """Wavy sinusoidal stripes at a random angle."""
    y, x = _grid(size)
    a = _u(gen, 0, math.pi)
    freq = _u(gen, 24, 30)
    along = x * math.cos(a) + y * math.sin(a)
    across = -x * math.sin(a) + y * math.cos(a)
    wave = 0.015 * torch.sin(2 * math.pi * _u(gen, 4, 6) * across)
    return 0.5 + 0.5 * torch.sin(2 * math.pi * freq * (along + wave))


def checks(size: int, gen: torch.Generator) -> Tensor:
    """A slightly rotated checkerboard with soft edges."""
    y, x = _grid(size)
    a = _u(gen, -0.35, 0.35)
    n = _u(gen, 24, 30)
    u = (x * math.cos(a) + y * math.sin(a)) * n
    v = (-x * math.sin(a) + y * math.cos(a)) * n
    return 0.5 + 0.5 * torch.tanh(4 * torch.sin(math.pi * u) * torch.sin(math.pi * v))


def blobs(size: int, gen: torch.Generator) -> Tensor:
    """Smooth value noise: three octaves of upsampled random grids."""
    out = torch.zeros(size, size)
    for octave, cells in enumerate((8, 16, 32)):
        g = torch.rand(1, 1, cells + 1, cells + 1, generator=gen)
        up = F.interpolate(g, size=(size, size), mode="bicubic", align_corners=True)[0, 0]
        out += up / 2 ** octave
    out -= out.min()
    return out / out.max().clamp_min(1e-6)


def rings(size: int, gen: torch.Generator) -> Tensor:
    """Concentric rings around the nearest of a few random centres (ripples; wrapped edges),
    so that every small crop shows curved arcs."""
    y, x = _grid(size)
    pts = torch.rand(int(_u(gen, 24, 32)), 2, generator=gen)
    dy = (y.reshape(-1, 1) - pts[:, 0]).abs()
    dx = (x.reshape(-1, 1) - pts[:, 1]).abs()
    r = (torch.minimum(dy, 1 - dy).square() + torch.minimum(dx, 1 - dx).square()).sqrt().min(1).values
    return 0.5 + 0.5 * torch.cos(2 * math.pi * _u(gen, 30, 36) * r.view(size, size))


def dots(size: int, gen: torch.Generator, cells: int = 20) -> Tensor:
    """Soft round dots, one per cell of a grid, each jittered inside its cell with its own radius."""
    y, x = _grid(size)
    cy, cx = (y * cells).floor().long(), (x * cells).floor().long()
    jitter = 0.25 + 0.5 * torch.rand(2, cells, cells, generator=gen)  # dot centre within its cell
    radius = 0.18 + 0.14 * torch.rand(cells, cells, generator=gen)  # in cell units
    d = ((y * cells - cy - jitter[0, cy, cx]).square() + (x * cells - cx - jitter[1, cy, cx]).square()).sqrt()
    return torch.sigmoid((radius[cy, cx] - d) / 0.06)


_PATTERNS = {"stripes": stripes, "checks": checks, "blobs": blobs, "rings": rings, "dots": dots}


def palette(m: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two saturated colours (RGB in [0, 1]) of modality m's hue: a dark and a light one."""
    hue = (m * _GOLDEN + _u(gen, -0.03, 0.03)) % 1.0
    dark = colorsys.hsv_to_rgb(hue, _u(gen, 0.8, 1.0), _u(gen, 0.25, 0.4))
    light = colorsys.hsv_to_rgb((hue + 0.06) % 1.0, _u(gen, 0.45, 0.65), _u(gen, 0.9, 1.0))
    return torch.tensor(dark), torch.tensor(light)


def texture(m: int, seed: int, size: int = 256) -> Tensor:
    """uint8 [size, size, 3] background of modality m (structure ``KINDS[m % 5]``)."""
    gen = torch.Generator().manual_seed((seed * 1_000_003 + 7919 * (m + 1)) % (2 ** 63))
    t = _PATTERNS[KINDS[m % len(KINDS)]](size, gen).clamp(0, 1)
    dark, light = palette(m, gen)
    rgb = dark + t[..., None] * (light - dark)
    return (rgb * 255).round().to(torch.uint8)


def textures(M: int, seed: int, size: int = 256) -> list[Tensor]:
    """The M modalities' backgrounds."""
    return [texture(m, seed, size) for m in range(M)]
