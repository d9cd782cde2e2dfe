"""The soft face mask of the warp renderer: where the photo may move, with the background anchored.

The region is the convex hull of the face's landmarks in every frame (source and targets), grown by
``MaskConfig.outer`` inter-ocular distances (IOD). The mask is 1 up to ``inner`` IOD outside the hull and falls
smoothly (a C1 smoothstep of the distance) to exactly 0 at ``outer``: the warp field is multiplied by it, so
beyond ``outer`` every pixel of every frame is the photo's own pixel, and the ring of fixed anchors of the spline
(:func:`cmmnet.faces.align.border_points` on the region's bounding box) holds the field near 0 there already.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..faces.align import border_points
from .config import MaskConfig
from .field import Grid


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _outer_points(pts: np.ndarray) -> np.ndarray:
    """The points (N, 2) not strictly inside the polygon of their extremes along x, y, x + y and x - y (a convex
    polygon within the hull, so what lies strictly inside it is not a hull vertex: Akl and Toussaint's filter).
    A face's frames keep their contour (~a tenth of the points)."""
    keys = np.stack([pts[:, 0], pts[:, 1], pts.sum(1), pts[:, 0] - pts[:, 1]], 1)  # (N, 4)
    extremes = np.concatenate([keys.argmin(0), keys.argmax(0)])  # (8,)
    ring = pts[np.unique(extremes)]
    if len(ring) < 3:
        return pts
    centre = ring.mean(0)
    ring = ring[np.argsort(np.arctan2(ring[:, 1] - centre[1], ring[:, 0] - centre[0]))]  # counter-clockwise
    edge = np.roll(ring, -1, axis=0) - ring  # (V, 2)
    side = edge[:, 0] * (pts[:, None, 1] - ring[:, 1]) - edge[:, 1] * (pts[:, None, 0] - ring[:, 0])  # (N, V)
    return pts[~(side > 1e-9).all(1)]


def hull_polygon(points: np.ndarray) -> np.ndarray:
    """Convex hull ``(V, 2)`` of all landmarks ``(..., 2)`` (Andrew's monotone chain over the points that may be
    vertices; no scipy to import)."""
    pts = np.unique(np.asarray(points, np.float64).reshape(-1, 2), axis=0)  # sorted by x, then y
    pts = _outer_points(pts) if len(pts) > 8 else pts  # still sorted

    def chain(seq: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2 and _cross(out[-1] - out[-2], p - out[-2]) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return np.array(chain(pts) + chain(pts[::-1]))


def distance_outside(polygon: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distance ``(...)`` of points ``xy`` (..., 2) to a convex ``polygon`` (V, 2); 0 inside."""
    p = np.asarray(xy, np.float64)[..., None, :]  # (..., 1, 2)
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    ab = b - a  # (V, 2)
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)  # (..., V)
    dist = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1).min(-1)  # (...)
    # inside a convex polygon: on the same side of every edge
    side = ab[:, 0] * (p[..., 1] - a[:, 1]) - ab[:, 1] * (p[..., 0] - a[:, 0])  # (..., V)
    inside = (side >= 0).all(-1) | (side <= 0).all(-1)
    return np.where(inside, 0.0, dist)


def soft_mask(polygon: np.ndarray, xy: np.ndarray, iod: float, cfg: MaskConfig) -> np.ndarray:
    """1 within ``inner`` IOD of the polygon, 0 beyond ``outer``, a smoothstep between; ``(...)`` float32."""
    s = (distance_outside(polygon, xy) / iod - cfg.inner) / (cfg.outer - cfg.inner)
    s = np.clip(s, 0.0, 1.0)
    return (1.0 - s * s * (3.0 - 2.0 * s)).astype(np.float32)


@dataclass(frozen=True)
class Region:
    """Where the warp works: the node grid over the face region (within the photo), the mask at the nodes, and the
    spline's fixed anchors."""

    grid: Grid
    mask: torch.Tensor  # (ny, nx) float32
    anchors: np.ndarray  # (A, 2) photo px
    polygon: np.ndarray  # (V, 2) the landmarks' hull


def _region_box(points: np.ndarray, iod: float, cfg: MaskConfig) -> tuple[np.ndarray, np.ndarray]:
    """The region's box (unclipped): the landmarks' bounding box grown by ``outer`` IOD, ``lo``, ``hi`` (2,) x, y."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    reach = cfg.outer * iod
    return np.floor(pts.min(0) - reach), np.ceil(pts.max(0) + reach)


def _box_grid(lo: np.ndarray, hi: np.ndarray, size: tuple[int, int], step: int) -> Grid:
    """Nodes every ``step`` px over the box ``lo``..``hi`` (x, y) cut at the edges of a photo of ``size`` (h, w)."""
    h, w = size
    x0, y0 = int(max(lo[0], 0)), int(max(lo[1], 0))
    x1, y1 = int(min(hi[0], w - 1)), int(min(hi[1], h - 1))
    nx = max(2, -(-(x1 - x0) // step) + 1)  # nodes spanning x0..x1 (the last may lie past the photo's edge)
    ny = max(2, -(-(y1 - y0) // step) + 1)
    return Grid(x0, y0, nx, ny, step)


def region_grid(points: np.ndarray, iod: float, size: tuple[int, int], step: int, cfg: MaskConfig | None = None
                ) -> Grid:
    """The node grid of :func:`face_region` alone (the region's box within the photo), without its hull and mask."""
    return _box_grid(*_region_box(points, iod, cfg or MaskConfig()), size, step)


def face_region(points: np.ndarray, iod: float, size: tuple[int, int], step: int, cfg: MaskConfig | None = None
                ) -> Region:
    """The :class:`Region` of a face whose landmarks in all frames are ``points`` (..., 68, 2), in a photo of
    ``size`` (height, width), with nodes every ``step`` px."""
    cfg = cfg or MaskConfig()
    polygon = hull_polygon(points)
    lo, hi = _region_box(polygon, iod, cfg)  # the hull's bounding box is the points'
    box_w, box_h = hi - lo + 1
    anchors = border_points(int(box_h), int(box_w), cfg.anchors_per_side, margin=0.0) + lo
    grid = _box_grid(lo, hi, size, step)
    # a pixel lies in a cell whose nodes are within step * sqrt(2) of it: nodes are masked that much earlier, so
    # that no pixel beyond `outer` moves
    node_cfg = replace(cfg, outer=cfg.outer - step * np.sqrt(2) / iod, inner=min(cfg.inner, cfg.outer - 2 * step / iod))
    mask = torch.from_numpy(soft_mask(polygon, grid.nodes().numpy(), iod, node_cfg))  # (ny, nx)
    return Region(grid, mask, anchors, polygon)
