"""Piecewise-affine image morphing on a fixed triangle mesh (the 68 landmarks plus a ring of border points).

The mesh is triangulated once per person (Delaunay on a slightly opened neutral shape, so that the inner lips and
the eyelids get their own triangles) and then kept fixed: every frame's target shape uses the same triangles, so a
source photo can be warped to it by backward mapping. Rasterisation is done once per frame: for every output
pixel the triangle id and barycentric coordinates in the *target* mesh; sampling any source image (or any
per-vertex quantity such as blend weights) is then a matrix product plus ``scipy.ndimage.map_coordinates``.

Coordinates: (x, y) pixels with pixel centres at integers, as everywhere in :mod:`cmmnet.faces`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import Delaunay

# Triangles with a smaller area (px^2) in the target are skipped (closed lips, closed eyes): they cover no pixel.
_MIN_AREA = 1e-4


def border_points(h: int, w: int, per_side: int = 4, margin: float = 0.5) -> np.ndarray:
    """Points on a rectangle ``margin`` times the frame size outside the frame, ``(4 * per_side, 2)``.

    They are far enough outside that a dropping jaw never crosses them, so no triangle flips.
    """
    x0, x1 = -margin * w, (w - 1) + margin * w
    y0, y1 = -margin * h, (h - 1) + margin * h
    t = np.linspace(0.0, 1.0, per_side + 1)[:-1]
    top = np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1)
    right = np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1)
    bottom = np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1)
    left = np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float64)


def triangulate(reference: np.ndarray) -> np.ndarray:
    """Delaunay triangles ``(M, 3)`` int of a reference point set ``(P, 2)`` (landmarks + border points)."""
    return np.ascontiguousarray(Delaunay(np.asarray(reference, dtype=np.float64)).simplices.astype(np.int64))


@dataclass(frozen=True)
class Raster:
    """Per-pixel triangle ids and barycentric coordinates of a target mesh, over an ``(h, w)`` frame."""

    tri: np.ndarray  # (h, w) int32, -1 outside every triangle
    bary: np.ndarray  # (h, w, 3) float32

    def interpolate(self, vertex_values: np.ndarray, triangles: np.ndarray) -> np.ndarray:
        """Barycentric interpolation of per-vertex values ``(P, C)`` (or ``(P,)``) to ``(h, w, C)``."""
        vals = np.asarray(vertex_values, dtype=np.float32)
        squeeze = vals.ndim == 1
        if squeeze:
            vals = vals[:, None]
        tid = np.maximum(self.tri, 0)
        corner = vals[triangles[tid]]  # (h, w, 3, C)
        out = np.einsum("hwk,hwkc->hwc", self.bary, corner)
        out[self.tri < 0] = 0.0
        return out[..., 0] if squeeze else out


def rasterize(points: np.ndarray, triangles: np.ndarray, h: int, w: int) -> Raster:
    """Triangle id and barycentrics of every pixel centre of an ``(h, w)`` frame in the mesh ``points[triangles]``.

    Degenerate (collapsed) triangles are skipped; where triangles overlap (a folded mesh) the later one wins.
    """
    pts = np.asarray(points, dtype=np.float64)
    tri_pts = pts[triangles]  # (M, 3, 2)
    a, b, c = tri_pts[:, 0], tri_pts[:, 1], tri_pts[:, 2]
    v0, v1 = b - a, c - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]  # (M,) twice the signed area
    lo = np.floor(tri_pts.min(1)).astype(np.int64)
    hi = np.ceil(tri_pts.max(1)).astype(np.int64)
    x_lo, y_lo = np.clip(lo[:, 0], 0, w), np.clip(lo[:, 1], 0, h)
    x_hi, y_hi = np.clip(hi[:, 0] + 1, 0, w), np.clip(hi[:, 1] + 1, 0, h)
    tri_id = np.full((h, w), -1, np.int32)
    bary = np.zeros((h, w, 3), np.float32)
    eps = 1e-7
    for k in np.flatnonzero((np.abs(det) > 2 * _MIN_AREA) & (x_hi > x_lo) & (y_hi > y_lo)):
        ys = np.arange(y_lo[k], y_hi[k], dtype=np.float64)[:, None]
        xs = np.arange(x_lo[k], x_hi[k], dtype=np.float64)[None, :]
        px, py = xs - a[k, 0], ys - a[k, 1]
        inv = 1.0 / det[k]
        l1 = (px * v1[k, 1] - py * v1[k, 0]) * inv  # weight of b
        l2 = (py * v0[k, 0] - px * v0[k, 1]) * inv  # weight of c
        l0 = 1.0 - l1 - l2
        inside = (l0 >= -eps) & (l1 >= -eps) & (l2 >= -eps)
        if not inside.any():
            continue
        sub_t = tri_id[y_lo[k] : y_hi[k], x_lo[k] : x_hi[k]]
        sub_b = bary[y_lo[k] : y_hi[k], x_lo[k] : x_hi[k]]
        sub_t[inside] = k
        sub_b[inside] = np.stack([l0[inside], l1[inside], l2[inside]], -1)
    return Raster(tri_id, bary)


def warp(image: np.ndarray, source_points: np.ndarray, raster: Raster, triangles: np.ndarray) -> np.ndarray:
    """Backward-map ``image`` (H, W, C) uint8 from ``source_points`` onto the rasterised target mesh.

    Returns ``(h, w, C)`` float32 (0..255). Pixels outside the mesh sample the nearest image edge.
    """
    src = raster.interpolate(np.asarray(source_points, dtype=np.float32), triangles)  # (h, w, 2) x, y
    coords = np.stack([src[..., 1], src[..., 0]])  # (2, h, w) row, col
    img = np.asarray(image, dtype=np.float32)
    out = np.empty((*src.shape[:2], img.shape[2]), np.float32)
    for ch in range(img.shape[2]):
        out[..., ch] = ndimage.map_coordinates(img[..., ch], coords, order=1, mode="nearest")
    return out


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of every triangle, ``(M,)`` (for checking that a target mesh does not fold)."""
    p = np.asarray(points, dtype=np.float64)[triangles]
    v0, v1 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
