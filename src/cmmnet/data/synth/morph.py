"""Piecewise-affine image morphing on a fixed triangle mesh (the 68 landmarks plus a ring of border points).

The mesh is triangulated once per person (Delaunay on a slightly opened neutral shape, so that the inner lips and
the eyelids get their own triangles) and then kept fixed: every frame's target shape uses the same triangles, so a
source photo can be warped to it by backward mapping. Rasterisation is done once per frame: for every output
pixel the triangle it lies in, in the *target* mesh; any per-vertex quantity (source coordinates in either photo,
blend weights) is then interpolated affinely per triangle and the photos are sampled bilinearly.

Coordinates: (x, y) pixels with pixel centres at integers, as everywhere in :mod:`cmmnet.faces`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Triangles with a smaller area (px^2) in the target are skipped (closed lips, closed eyes): they cover no pixel.
_MIN_AREA = 1e-4


def triangulate(reference: np.ndarray) -> np.ndarray:
    """Delaunay triangles ``(M, 3)`` int of a reference point set ``(P, 2)`` (landmarks + border points)."""
    from scipy.spatial import Delaunay  # imported on use: the warp renderer imports this module's neighbours

    return np.ascontiguousarray(Delaunay(np.asarray(reference, dtype=np.float64)).simplices.astype(np.int64))


@dataclass(frozen=True)
class Raster:
    """Per-pixel triangle ids of a target mesh over an ``(h, w)`` frame, for interpolating per-vertex values."""

    tri: np.ndarray  # (h, w) int32, -1 outside every triangle
    points: np.ndarray  # (P, 2) float64 target mesh vertices
    triangles: np.ndarray  # (M, 3) int

    def interpolate(self, vertex_values: np.ndarray) -> np.ndarray:
        """Piecewise-linear interpolation of per-vertex values ``(P, C)`` (or ``(P,)``) to ``(h, w, C)``.

        Per triangle the values are an affine function of (x, y): ``v = x q0 + y q1 + q2``; the coefficients are
        solved once per triangle, then every pixel evaluates its triangle's function.
        """
        vals = np.asarray(vertex_values, dtype=np.float64)
        squeeze = vals.ndim == 1
        if squeeze:
            vals = vals[:, None]
        tp = self.points[self.triangles]  # (M, 3, 2)
        hom = np.concatenate([tp, np.ones((*tp.shape[:2], 1))], -1)  # (M, 3, 3) rows [x, y, 1]
        tv = vals[self.triangles]  # (M, 3, C)
        det = np.linalg.det(hom)
        ok = np.abs(det) > 1e-9
        q = np.zeros((len(hom), 3, vals.shape[1]))
        q[ok] = np.linalg.solve(hom[ok], tv[ok])  # (M, 3, C)
        q[~ok, 2] = tv[~ok].mean(1)  # degenerate: constant
        h, w = self.tri.shape
        qp = q.astype(np.float32)[np.maximum(self.tri, 0)]  # (h, w, 3, C)
        xs = np.arange(w, dtype=np.float32)[None, :, None]
        ys = np.arange(h, dtype=np.float32)[:, None, None]
        out = xs * qp[:, :, 0] + ys * qp[:, :, 1] + qp[:, :, 2]  # (h, w, C)
        out[self.tri < 0] = 0.0
        return out[..., 0] if squeeze else out


def _rasterize_loop(pts: np.ndarray, triangles: np.ndarray, h: int, w: int) -> np.ndarray:
    """Triangle id per pixel by scanning every triangle's bounding box (robust to folded or degenerate meshes)."""
    tri_pts = pts[triangles]  # (M, 3, 2)
    a = tri_pts[:, 0]
    v0, v1 = tri_pts[:, 1] - a, tri_pts[:, 2] - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]  # (M,) twice the signed area
    lo = np.floor(tri_pts.min(1)).astype(np.int64)
    hi = np.ceil(tri_pts.max(1)).astype(np.int64)
    x_lo, y_lo = np.clip(lo[:, 0], 0, w), np.clip(lo[:, 1], 0, h)
    x_hi, y_hi = np.clip(hi[:, 0] + 1, 0, w), np.clip(hi[:, 1] + 1, 0, h)
    tri_id = np.full((h, w), -1, np.int32)
    eps = 1e-7
    for k in np.flatnonzero((np.abs(det) > 2 * _MIN_AREA) & (x_hi > x_lo) & (y_hi > y_lo)):
        ys = np.arange(y_lo[k], y_hi[k], dtype=np.float64)[:, None] - a[k, 1]
        xs = np.arange(x_lo[k], x_hi[k], dtype=np.float64)[None, :] - a[k, 0]
        inv = 1.0 / det[k]
        l1 = (xs * v1[k, 1] - ys * v1[k, 0]) * inv
        l2 = (ys * v0[k, 0] - xs * v0[k, 1]) * inv
        inside = (l1 >= -eps) & (l2 >= -eps) & (l1 + l2 <= 1 + eps)
        tri_id[y_lo[k] : y_hi[k], x_lo[k] : x_hi[k]][inside] = k
    return tri_id


def rasterize(points: np.ndarray, triangles: np.ndarray, h: int, w: int) -> Raster:
    """Triangle id of every pixel centre of an ``(h, w)`` frame in the mesh ``points[triangles]``.

    Point location uses matplotlib's trapezoid-map tri-finder (C++); if it rejects the mesh (folded or
    degenerate), a per-triangle scan is used instead, where degenerate triangles are skipped and the later of two
    overlapping triangles wins.
    """
    from matplotlib.tri import TrapezoidMapTriFinder, Triangulation

    pts = np.asarray(points, dtype=np.float64)
    try:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        finder = TrapezoidMapTriFinder(Triangulation(pts[:, 0], pts[:, 1], triangles))
        tri_id = finder(xs.ravel(), ys.ravel()).reshape(h, w).astype(np.int32)
    except (RuntimeError, ValueError):  # matplotlib rejects a folded or degenerate mesh
        tri_id = _rasterize_loop(pts, triangles, h, w)
    return Raster(tri_id, pts, np.asarray(triangles))


def sample_bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples ``(..., C)`` float32 of ``image`` (H, W, C) at (x, y); coordinates clamp to the edge."""
    h, w = image.shape[:2]
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2) if w > 1 else np.zeros(x.shape, np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2) if h > 1 else np.zeros(y.shape, np.int64)
    fx = (x - x0)[..., None].astype(np.float32)
    fy = (y - y0)[..., None].astype(np.float32)
    flat = image.reshape(h * w, -1)
    i00 = y0 * w + x0
    x1 = np.minimum(1, w - 1)
    y1 = np.minimum(1, h - 1) * w
    p00, p01 = flat[i00].astype(np.float32), flat[i00 + x1].astype(np.float32)
    p10, p11 = flat[i00 + y1].astype(np.float32), flat[i00 + y1 + x1].astype(np.float32)
    top = p00 + fx * (p01 - p00)
    bottom = p10 + fx * (p11 - p10)
    return top + fy * (bottom - top)


def warp(image: np.ndarray, source_points: np.ndarray, raster: Raster) -> np.ndarray:
    """Backward-map ``image`` (H, W, C) uint8 from ``source_points`` onto the rasterised target mesh.

    Returns ``(h, w, C)`` float32 (0..255). Pixels outside the mesh sample the nearest image edge.
    """
    src = raster.interpolate(source_points)  # (h, w, 2) x, y
    return sample_bilinear(np.asarray(image), src[..., 0], src[..., 1])
