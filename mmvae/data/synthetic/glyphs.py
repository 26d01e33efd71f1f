"""Stroke skeletons of the ten digits, several allographs each, in a unit box (y down).

A stroke is ``("curve", points)`` (a Catmull–Rom spline through the points) or
``("line", points)`` (straight segments, for sharp corners). Every allograph is turned once
into a fixed number of points spread evenly along its strokes; per-sample variation (warps,
slant, thickness) is applied to those points by the renderers.
"""
from __future__ import annotations

import math

import numpy as np


def _ellipse(cx, cy, rx, ry, a0=-1.9, sweep=2 * math.pi + 0.35, n=9):
    a = np.linspace(a0, a0 + sweep, n)
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in a]


ALLOGRAPHS: dict[int, list[list[tuple[str, list[tuple[float, float]]]]]] = {
    0: [
        [("curve", _ellipse(0.5, 0.5, 0.21, 0.33))],
        [("curve", _ellipse(0.5, 0.5, 0.26, 0.32, a0=-1.5, sweep=2 * math.pi + 0.2))],
        [("curve", _ellipse(0.5, 0.5, 0.16, 0.34, a0=-2.2, sweep=2 * math.pi + 0.5))],
    ],
    1: [
        [("line", [(0.53, 0.15), (0.47, 0.86)])],
        [("line", [(0.36, 0.32), (0.54, 0.15), (0.49, 0.86)])],
        [("line", [(0.38, 0.30), (0.53, 0.15), (0.51, 0.85)]), ("line", [(0.36, 0.86), (0.66, 0.86)])],
    ],
    2: [
        [("curve", [(0.30, 0.30), (0.40, 0.17), (0.58, 0.15), (0.70, 0.27), (0.66, 0.45),
                    (0.46, 0.65), (0.30, 0.84)]),
         ("line", [(0.30, 0.84), (0.52, 0.83), (0.73, 0.84)])],
        [("curve", [(0.32, 0.26), (0.48, 0.15), (0.66, 0.22), (0.64, 0.42), (0.42, 0.66),
                    (0.28, 0.84), (0.36, 0.76), (0.46, 0.80), (0.60, 0.86), (0.74, 0.82)])],
    ],
    3: [
        [("curve", [(0.30, 0.22), (0.50, 0.14), (0.68, 0.24), (0.62, 0.42), (0.44, 0.48),
                    (0.64, 0.56), (0.70, 0.72), (0.52, 0.86), (0.30, 0.80)])],
        [("line", [(0.30, 0.16), (0.68, 0.16), (0.47, 0.44)]),
         ("curve", [(0.47, 0.44), (0.64, 0.52), (0.69, 0.70), (0.52, 0.86), (0.29, 0.80)])],
    ],
    4: [
        [("line", [(0.52, 0.15), (0.27, 0.62), (0.75, 0.62)]), ("line", [(0.62, 0.32), (0.62, 0.87)])],
        [("line", [(0.29, 0.15), (0.28, 0.55), (0.72, 0.55)]), ("line", [(0.67, 0.15), (0.64, 0.87)])],
    ],
    5: [
        [("line", [(0.67, 0.16), (0.37, 0.16), (0.33, 0.46)]),
         ("curve", [(0.33, 0.46), (0.50, 0.41), (0.67, 0.50), (0.70, 0.68), (0.56, 0.84), (0.31, 0.80)])],
        [("line", [(0.36, 0.17), (0.33, 0.46)]),
         ("curve", [(0.33, 0.46), (0.52, 0.40), (0.68, 0.52), (0.68, 0.72), (0.50, 0.86), (0.30, 0.78)]),
         ("line", [(0.36, 0.16), (0.69, 0.14)])],
    ],
    6: [
        [("curve", [(0.64, 0.16), (0.46, 0.28), (0.34, 0.50), (0.33, 0.70), (0.45, 0.85),
                    (0.62, 0.82), (0.68, 0.66), (0.55, 0.53), (0.40, 0.57), (0.34, 0.66)])],
        [("curve", [(0.58, 0.14), (0.42, 0.36), (0.35, 0.62), (0.42, 0.83), (0.58, 0.85),
                    (0.66, 0.70), (0.56, 0.57), (0.40, 0.62)])],
    ],
    7: [
        [("line", [(0.30, 0.17), (0.70, 0.17), (0.45, 0.86)])],
        [("line", [(0.30, 0.17), (0.70, 0.17), (0.47, 0.86)]), ("line", [(0.42, 0.52), (0.67, 0.50)])],
        [("line", [(0.28, 0.22), (0.34, 0.16), (0.70, 0.17)]),
         ("curve", [(0.70, 0.17), (0.58, 0.42), (0.50, 0.64), (0.47, 0.86)])],
    ],
    8: [
        [("curve", [(0.50, 0.48), (0.33, 0.36), (0.36, 0.20), (0.50, 0.15), (0.64, 0.20),
                    (0.66, 0.35), (0.50, 0.48), (0.33, 0.62), (0.35, 0.80), (0.50, 0.86),
                    (0.66, 0.80), (0.67, 0.62), (0.50, 0.48)])],
        [("curve", _ellipse(0.5, 0.31, 0.14, 0.16, n=8)), ("curve", _ellipse(0.5, 0.67, 0.18, 0.19, n=8))],
    ],
    9: [
        [("curve", [(0.66, 0.30), (0.55, 0.17), (0.40, 0.18), (0.33, 0.32), (0.42, 0.45),
                    (0.58, 0.43), (0.66, 0.30)]), ("line", [(0.66, 0.30), (0.62, 0.86)])],
        [("curve", [(0.66, 0.28), (0.54, 0.16), (0.38, 0.20), (0.34, 0.35), (0.46, 0.45),
                    (0.62, 0.38), (0.66, 0.28), (0.65, 0.58), (0.56, 0.86)])],
    ],
}


def _catmull_rom(points: np.ndarray, per_segment: int = 10) -> np.ndarray:
    p = np.concatenate([points[:1], points, points[-1:]])
    out = [points[0]]
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, per_segment + 1)[1:]:
            t2, t3 = t * t, t * t * t
            out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    return np.array(out)


def allograph_points(strokes, n_points: int) -> np.ndarray:
    """n_points [n, 2] spread evenly by arc length over all strokes of one allograph."""
    dense = []
    for kind, pts in strokes:
        pts = np.asarray(pts, dtype=np.float64)
        dense.append(_catmull_rom(pts) if kind == "curve" else pts)
    lengths = [np.linalg.norm(np.diff(d, axis=0), axis=1).sum() for d in dense]
    counts = np.maximum(2, np.round(np.array(lengths) / sum(lengths) * n_points).astype(int))
    counts[np.argmax(counts)] += n_points - counts.sum()
    out = []
    for d, c in zip(dense, counts):
        seg = np.linalg.norm(np.diff(d, axis=0), axis=1)
        cum = np.concatenate([[0], np.cumsum(seg)])
        at = np.linspace(0, cum[-1], c)
        out.append(np.stack([np.interp(at, cum, d[:, 0]), np.interp(at, cum, d[:, 1])], 1))
    return np.concatenate(out)


def point_bank(n_points: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allograph as n_points along its strokes: points [A, n, 2], digit [A], offsets [10, 2]."""
    pts, digits = [], []
    for d in range(10):
        for strokes in ALLOGRAPHS[d]:
            pts.append(allograph_points(strokes, n_points))
            digits.append(d)
    digits = np.array(digits)
    offsets = np.array([[np.flatnonzero(digits == d)[0], (digits == d).sum()] for d in range(10)])
    return np.stack(pts), digits, offsets
