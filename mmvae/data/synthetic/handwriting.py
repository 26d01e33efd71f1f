"""Handwriting-like 1×28×28 digits: warped stroke skeletons rendered with a soft pen.

Per sample: one of the digit's allographs, a smooth random warp (sum of three random sine
waves), slant, rotation, anisotropic scale, translation, pen width with pressure varying along
the stroke, and ink intensity. Rendering is vectorised over the batch: each allograph is a
fixed number of points spaced about a third of a pixel apart along its strokes, and the ink at
a pixel is a smooth ramp of its distance to the nearest point (a max-splat of soft discs).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .glyphs import point_bank


def _uniform(gen, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def warp_points(p: Tensor, gen: torch.Generator, strength: float = 1.0) -> Tensor:
    """Applies a random smooth warp + affine map to points [N, Q, 2] centred at 0."""
    n = p.shape[0]
    # smooth elastic warp: d(p) = Σ_j a_j sin(ω_j · p + φ_j)
    for _ in range(3):
        omega = torch.randn(n, 2, 2, generator=gen) * 3.5  # [N, axis_out, axis_in]
        phase = torch.rand(n, 2, generator=gen) * 2 * math.pi
        amp = torch.randn(n, 2, generator=gen) * 0.022 * strength
        arg = torch.einsum("noi,nqi->nqo", omega, p) + phase[:, None, :]
        p = p + amp[:, None, :] * torch.sin(arg)
    slant = _uniform(gen, n, -0.38, 0.30) * strength
    rot = torch.randn(n, generator=gen) * 0.10 * strength
    sx = _uniform(gen, n, 0.78, 1.18)
    sy = _uniform(gen, n, 0.86, 1.08)
    c, s = torch.cos(rot), torch.sin(rot)
    # x' = sx·(x − slant·y), y' = sy·y, then rotate
    a11, a12, a21, a22 = sx, -sx * slant, torch.zeros(n), sy
    m = torch.stack([
        torch.stack([c * a11 - s * a21, c * a12 - s * a22], -1),
        torch.stack([s * a11 + c * a21, s * a12 + c * a22], -1),
    ], -2)  # [N, 2, 2]
    t = torch.stack([_uniform(gen, n, -0.045, 0.045), _uniform(gen, n, -0.035, 0.035)], -1)
    return torch.einsum("nij,nqj->nqi", m, p) + t[:, None, :]


def splat_points(points: Tensor, radius: Tensor, size: int, reach: int = 3) -> Tensor:
    """Ink [N, size, size]: max over points of a soft disc of ``radius`` [N, Q] (unit box).

    points [N, Q, 2] lie in [-0.5, 0.5]²; each touches the (2·reach+1)² pixels around it,
    enough for radii up to reach − 0.5 pixels. Offsets are separable, so distances and bounds
    are built from [N, Q, 2·reach+1] pieces.
    """
    n, q = points.shape[:2]
    px = (points + 0.5) * size  # pixel units
    base = px.floor()
    frac = px - base
    off = torch.arange(-reach, reach + 1, dtype=px.dtype)
    dx = off + 0.5 - frac[..., 0:1]  # [N, Q, F]
    dy = off + 0.5 - frac[..., 1:2]
    dist = (dy.square()[..., :, None] + dx.square()[..., None, :]).sqrt_()  # [N, Q, F, F]
    ink = (radius[..., None, None] * size - dist + 0.5).clamp_(0, 1)
    bx, by = base[..., 0].long(), base[..., 1].long()
    offl = off.long()
    okx = ((bx[..., None] + offl) >= 0) & ((bx[..., None] + offl) < size)
    oky = ((by[..., None] + offl) >= 0) & ((by[..., None] + offl) < size)
    flat = (by * size + bx)[..., None, None] + (offl[:, None] * size + offl[None, :])
    flat = flat.masked_fill_(~(oky[..., :, None] & okx[..., None, :]), size * size)
    out = torch.zeros(n, size * size + 1, dtype=px.dtype)
    out.scatter_reduce_(1, flat.view(n, -1), ink.view(n, -1), reduce="amax")
    return out[:, :-1].view(n, size, size)


class HandwritingRenderer:
    """Renders batches of handwriting-like digits; holds the allograph bank."""

    def __init__(self):
        points, _, offsets = point_bank()
        self.points = torch.tensor(points, dtype=torch.float32) - 0.5
        self.offsets = torch.tensor(offsets)

    def pick(self, labels: Tensor, gen: torch.Generator) -> Tensor:
        start, count = self.offsets[labels, 0], self.offsets[labels, 1]
        return start + (torch.rand(len(labels), generator=gen) * count).long().clamp(max=count - 1)

    def render(self, labels: Tensor, gen: torch.Generator, size: int = 28) -> Tensor:
        """uint8 images [N, 1, size, size]."""
        idx = self.pick(labels, gen)
        points = warp_points(self.points[idx], gen)
        n, q = points.shape[:2]
        width = _uniform(gen, n, 0.036, 0.075)
        phase = torch.rand(n, 1, generator=gen) * 2 * math.pi
        freq = _uniform(gen, n, 0.008, 0.04)[:, None]
        pressure = 1 + 0.2 * torch.sin(phase + freq * torch.arange(q)[None, :])
        ink = splat_points(points, width[:, None] * pressure, size)
        ink = ink * _uniform(gen, n, 0.82, 1.0)[:, None, None]
        return (ink * 255).round().to(torch.uint8).unsqueeze(1)
