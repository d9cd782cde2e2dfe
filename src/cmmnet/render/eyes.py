"""Eyelids that close over the eye: a piecewise-affine map of each eye's region over the spline's.

The spline of :mod:`.field` lives on nodes every IOD/12 and is smoothed, so across an open eye (~0.25 IOD) it cannot
follow a lid that closes: the rendered lid dropped about half as far as its landmarks, and the iris was squeezed.
Inside a ring around each eye the backward map is therefore a triangle mesh (as FRL-Smile's frames are made): its
vertices lie on the eye's lids (smooth curves through its six points), on the top of the upper lashes, on curves
through its four lid guides (:func:`.field.guide_points`) and on a ring whose source positions are the spline's own
map there, so the two maps meet at the ring. Within a triangle the map is affine, so it is fold-free exactly when
every triangle keeps its orientation: checked for every frame and eye, and an eye whose mesh would flip keeps the
spline's map in that frame. An eye that barely moves keeps it too (the mesh fades in with the eye's own motion).

A lid that closes covers the eye instead of squeezing it. Each vertex of the upper lid's edge is two vertices at the
same target position: above it the lid skin, stretched from the guides' curve down to the lashes, which move with
the lid's edge, ends at the photo's lid margin; below it the opening between the target's lids shows the lower part
of the photo's opening, as tall as the target's. The map is discontinuous along the lid's edge, as a lid is. A lid that
opens wider than in the photo is stretched (nothing behind it to show).

The skin a closing lid shows was folded away in the photo, so the lid is the photo's lid skin and lash tips
stretched down over the eye, and each lash becomes a streak. Where the lid has closed, what it shows is therefore
averaged along the eye line (:func:`eye_map`'s ``smear``: the half-width of that average at each pixel, which the
renderer applies): the lid keeps its tones, darker towards the lashes, without the strokes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..interpolate import pchip_curves
from .field import face_axes

# per eye, left to right in the image: corners, upper-lid points, lower-lid points (below the upper ones)
EYES = (((36, 39), (37, 38), (41, 40)), ((42, 45), (43, 44), (47, 46)))
RING = 32  # ring vertices per eye
SAMPLES = 6  # vertices along each lid between the corners (a smooth curve through its points)
LASHES = 0.06  # IOD: the band above the upper lid's edge that moves with the edge, unstretched (the lashes)
_S = np.arange(1, SAMPLES + 1) / (SAMPLES + 1)  # their positions from corner to corner
_TAPER = (4 * _S * (1 - _S)) ** 2  # the lashes' band thins towards the corners (under the guides' row)
# vertices: 0 c0, 1 c1, then SAMPLES each of the upper lid's edge (skin side), the same (opening side), the lower
# lid, the lashes' top, the upper guides' curve and the lower guides' curve (corner - guide - guide - corner), then
# the ring
_U, _O, _L, _W, _G, _H = (2 + k * SAMPLES + np.arange(SAMPLES) for k in range(6))
INNER = 2 + 6 * SAMPLES
SMEAR_ABOVE = 0.6  # the lid's smear at the guides' curve and the corners, over the smear at the lashes' top


def _area2(v: np.ndarray) -> np.ndarray:
    """Twice the signed areas (...,) of triangles ``v`` (..., 3, 2)."""
    a, b, c = v[..., 0, :], v[..., 1, :], v[..., 2, :]
    return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])


def _strip(top: list[int], top_at: np.ndarray, bottom: list[int], bottom_at: np.ndarray) -> list[tuple[int, ...]]:
    """Triangles between two polylines of vertex ids from corner to corner (shared ends), by their positions."""
    out, i, j = [], 0, 0
    while i < len(top) - 1 or j < len(bottom) - 1:
        if j == len(bottom) - 1 or (i < len(top) - 1 and top_at[i + 1] <= bottom_at[j + 1]):
            tri, i = (top[i], bottom[j], top[i + 1]), i + 1
        else:
            tri, j = (top[i], bottom[j], bottom[j + 1]), j + 1
        if len(set(tri)) == 3:
            out.append(tri)
    return out


def _annulus(inner: list[int], outer: list[int], at: np.ndarray, centre: np.ndarray, along: np.ndarray,
             down: np.ndarray) -> list[tuple[int, int, int]] | None:
    """Triangles between two closed loops of vertex ids around ``centre`` (positions ``at``): both taken in order of
    their angle about the centre and merged, each triangle joining an edge of one loop to a vertex of the other (no
    scipy to import on the path of `cmmnet generate`). None unless they cover the space between the loops once (their
    areas add up to it, none degenerate): a loop that is not star-shaped about the centre would fold them."""

    def by_angle(ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        rel = at[ids] - centre  # (n, 2)
        angle = np.mod(np.arctan2(rel @ down, rel @ along), 2 * np.pi)  # (n,)
        order = np.argsort(angle, kind="stable")
        return np.asarray(ids)[order], angle[order]

    (a, ta), (b, tb) = by_angle(inner), by_angle(outer)
    a, ta = np.append(a, a[0]), np.append(ta, ta[0] + 2 * np.pi)  # closed: the first vertex again, a turn later
    b, tb = np.append(b, b[0]), np.append(tb, tb[0] + 2 * np.pi)
    out = _strip(a.tolist(), ta, b.tolist(), tb)  # the two loops merged as two polylines from angle 0 to a turn
    areas = np.abs(_area2(at[np.array(out)])) / 2  # (M,)
    space = _polygon_area(at[outer]) - _polygon_area(at[inner])
    if not (areas.min() > 1e-9 * space and abs(areas.sum() - space) <= 1e-6 * space):
        return None
    return out


def _polygon_area(polygon: np.ndarray) -> float:
    """The area of a simple ``polygon`` (n, 2) (shoelace)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def _along(points: np.ndarray, c0: np.ndarray, c1: np.ndarray, along: np.ndarray) -> np.ndarray:
    """Position (...,) of ``points`` (..., 2) from corner ``c0`` (0) to ``c1`` (1) along the eye line."""
    return ((points - c0[..., None, :]) @ along) / ((c1 - c0) @ along)[..., None]


def _lid(c0: np.ndarray, middle: np.ndarray, c1: np.ndarray, along: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(T, SAMPLES, 2) points of the smooth (PCHIP) curve from ``c0`` (T, 2) through ``middle`` (T, 2, 2) to ``c1``,
    at :data:`_S` of the way along the eye line; NaN in a frame whose middle points are not in order between the
    corners."""
    t = len(c0)
    knots = np.concatenate([np.zeros((t, 1)), _along(middle, c0, c1, along), np.ones((t, 1))], 1)  # (T, 4)
    height = np.concatenate([np.zeros((t, 1)), (middle - c0[:, None]) @ down, (c1 - c0)[:, None] @ down], 1)
    ordered = (np.diff(knots, axis=1) > 0.02).all(1)  # (T,)
    knots = np.where(ordered[:, None], knots, np.array([0.0, 1 / 3, 2 / 3, 1.0]))
    b = pchip_curves(knots.T, height.T, _S).T  # (T, SAMPLES)
    span = ((c1 - c0) @ along)[:, None, None]  # (T, 1, 1)
    out = c0[:, None] + _S[None, :, None] * span * along + b[..., None] * down  # (T, SAMPLES, 2)
    return np.where(ordered[:, None, None], out, np.nan)


def _barycentric(corners: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (..., 3) of ``points`` (..., 2) in triangles ``corners`` (..., 3, 2)."""
    a = corners[..., 0, :]
    e1, e2, rel = corners[..., 1, :] - a, corners[..., 2, :] - a, points - a
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    w1 = (rel[..., 0] * e2[..., 1] - rel[..., 1] * e2[..., 0]) / det
    w2 = (e1[..., 0] * rel[..., 1] - e1[..., 1] * rel[..., 0]) / det
    return np.stack([1 - w1 - w2, w1, w2], -1)


@dataclass(frozen=True)
class EyeMesh:
    """One eye's mesh for a photo: triangles (M, 3) into its vertices, the vertices at rest (V, 2) (photo px), the
    eye's landmarks (corners, upper-lid points, lower-lid points), the guides behind vertices _G, _H (indices into
    the guide list), the ring (R, 2) at rest."""

    triangles: np.ndarray
    rest: np.ndarray
    points: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    guides: tuple[int, ...]
    ring: np.ndarray
    neighbours: np.ndarray  # (M, K) the triangles sharing a vertex with each (itself first; padded with itself)
    lid: np.ndarray  # (M,) bool: the triangles of the upper lid's skin (between the guides' curve and the lashes)


def _vertices(c0: np.ndarray, c1: np.ndarray, uppers: np.ndarray, lowers: np.ndarray, guides: np.ndarray,
              along: np.ndarray, down: np.ndarray, lashes: float) -> np.ndarray:
    """(T, INNER, 2) the vertices before the ring of frames with eye corners ``c0``, ``c1`` (T, 2), lid points
    ``uppers``, ``lowers`` (T, 2, 2) and guides (T, 4, 2) (above the upper, below the lower lid points), the opening
    side of the upper lid where its skin side is; NaN in a frame whose curves are not in order."""
    upper = _lid(c0, uppers, c1, along, down)  # (T, SAMPLES, 2)
    lash = upper - (lashes * _TAPER)[:, None] * down
    curves = [upper, upper, _lid(c0, lowers, c1, along, down), lash, _lid(c0, guides[:, :2], c1, along, down),
              _lid(c0, guides[:, 2:], c1, along, down)]
    return np.concatenate([c0[:, None], c1[:, None], *curves], 1)


def eye_meshes(src: np.ndarray, g_src: np.ndarray, hangs: np.ndarray, iod: float) -> list[EyeMesh]:
    """The meshes of the photo's eyes (source landmarks ``src`` (68, 2), lid guides ``g_src`` (G, 2) hanging from
    the landmarks ``hangs`` (G,)): an eye without its four guides, whose lids are not in order, or whose outline is
    too far from an eye's shape for the ring's triangles (:func:`_annulus`), gets none."""
    along, down = face_axes(src)
    where = {int(h): g for g, h in enumerate(hangs)}  # the guide hanging from each lid point
    out = []
    for (c0, c1), uppers, lowers in EYES:
        if not all(i in where for i in (*uppers, *lowers)):
            continue
        guides = tuple(where[i] for i in (*uppers, *lowers))
        gs = g_src[list(guides)]  # (4, 2)
        rest = _vertices(src[[c0]], src[[c1]], src[None, list(uppers)], src[None, list(lowers)], gs[None], along,
                         down, LASHES * iod)[0]  # (INNER, 2)
        if np.isnan(rest).any():
            continue
        at = np.concatenate([[0.0], _S, [1.0]])

        def row(ids: np.ndarray) -> list[int]:
            return [0, *ids.tolist(), 1]

        # drawn in this order, the later triangle taking a shared edge: the lid's edge belongs to the lashes
        below = _strip(row(_O), at, row(_L), at) + _strip(row(_L), at, row(_H), at)
        skin = _strip(row(_G), at, row(_W), at)
        tris = below + skin + _strip(row(_W), at, row(_U), at)
        centre = rest[:INNER].mean(0)
        half_width = 0.5 * abs(float((src[c1] - src[c0]) @ along)) + 0.15 * iod
        half_height = float(np.abs((rest[[*_G, *_H]] - centre) @ down).max()) + 0.1 * iod
        angles = np.linspace(0.0, 2 * np.pi, RING, endpoint=False)
        ring = centre + np.cos(angles)[:, None] * half_width * along + np.sin(angles)[:, None] * half_height * down
        rest = np.concatenate([rest, ring])  # (INNER + R, 2)
        outline = [0, *_G.tolist(), 1, *_H[::-1].tolist()]  # the inner strips' outline
        between = _annulus(outline, list(range(INNER, INNER + RING)), rest, centre, along, down)
        if between is None:  # an outline far from an eye's shape (not star-shaped about its centre)
            continue
        tris = np.array(tris + between, np.int64)
        touch = [np.flatnonzero(np.isin(tris, t).any(1)) for t in tris]
        width = max(len(n) for n in touch)
        neighbours = np.array([[k, *n[n != k], *[k] * (width - len(n))] for k, n in enumerate(touch)])
        lid = np.zeros(len(tris), bool)
        lid[len(below):len(below) + len(skin)] = True
        out.append(EyeMesh(tris, rest, ((c0, c1), uppers, lowers), guides, ring, neighbours, lid))
    return out


@dataclass(frozen=True)
class EyeFrames:
    """One eye's mesh vertices inside the ring for T frames: where they are (T, INNER, 2) and which photo pixel each
    shows (T, INNER, 2) (NaN rows where the lids are not in order), how much the mesh's map replaces the
    spline's (T,) (0: not at all, and not computed), and how far the upper lid has closed over the photo's opening at
    each of its vertices (T, SAMPLES) (0: open as in the photo or wider, 1: shut)."""

    target: np.ndarray
    source: np.ndarray
    weight: np.ndarray
    closure: np.ndarray

    def take(self, rows: slice) -> EyeFrames:
        return EyeFrames(self.target[rows], self.source[rows], self.weight[rows], self.closure[rows])


def eye_frames(mesh: EyeMesh, src: np.ndarray, tgt: np.ndarray, g_tgt: np.ndarray, iod: float,
               fade: tuple[float, float]) -> EyeFrames:
    """``mesh``'s vertices for frames whose landmarks are ``tgt`` (T, 68, 2) and guides ``g_tgt`` (T, G, 2), as the
    spline saw them (``src`` (68, 2): the photo's). The upper lid's opening side shows the lower part of the photo's
    opening, as tall as the target's opening there. The mesh's weight rises smoothly from 0 to 1 as the eye's own
    motion (its six points' largest move beyond their mean move) grows through ``fade`` (IOD): the spline draws an
    eye that barely moves as well, and costs nothing more."""
    eye = list(mesh.points[0] + mesh.points[1] + mesh.points[2])
    moved = tgt[:, eye] - src[eye]  # (T, 6, 2)
    own = np.linalg.norm(moved - moved.mean(1, keepdims=True), axis=-1).max(1) / iod  # (T,)
    ramp = np.clip((own - fade[0]) / max(fade[1] - fade[0], 1e-9), 0.0, 1.0)
    weight = ramp * ramp * (3 - 2 * ramp)  # (T,) smoothstep
    along, down = face_axes(src)
    (c0, c1), uppers, lowers = mesh.points
    target = _vertices(tgt[:, c0], tgt[:, c1], tgt[:, list(uppers)], tgt[:, list(lowers)], g_tgt[:, list(mesh.guides)],
                       along, down, LASHES * iod)  # (T, INNER, 2)
    source = np.repeat(mesh.rest[None, :INNER], len(tgt), 0)  # (T, INNER, 2)
    gap_t = (target[:, _L] - target[:, _U]) @ down  # (T, SAMPLES)
    gap_s = np.maximum((mesh.rest[_L] - mesh.rest[_U]) @ down, 1e-6)  # (SAMPLES,)
    keep = np.clip(np.nan_to_num(gap_t / gap_s, nan=1.0), 0.0, 1.0)  # (T, SAMPLES)
    source[:, _O] = mesh.rest[_L] + keep[..., None] * (mesh.rest[_U] - mesh.rest[_L])
    return EyeFrames(target, source, weight, 1.0 - keep)


def mesh_vertices(mesh: EyeMesh, frames: EyeFrames, source_map: torch.Tensor,
                  offset: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mesh``'s vertices in the T ``frames`` with the ring's source positions read from ``source_map`` (T, h, w, 2)
    (photo px of each pixel of a block whose top-left pixel is ``offset`` (x, y)): where they are (T, V, 2), what
    they show (T, V, 2), and the Jacobian determinant of the map in each triangle (T, M) (source over target area;
    NaN in a frame whose lids are not in order or whose weight is 0: no mesh there)."""
    _, h, w, _ = source_map.shape
    inner = frames.target
    shift = inner.mean(1) - mesh.rest[:INNER].mean(0)  # (T, 2) the ring follows the eye
    valid = np.isfinite(inner).all((1, 2))  # (T,)
    shift = np.where(valid[:, None], shift, 0.0)
    ring = mesh.ring[None] + shift[:, None]  # (T, R, 2)
    target = np.concatenate([np.where(valid[:, None, None], inner, mesh.rest[None, :INNER]), ring], 1)  # (T, V, 2)
    norm = torch.from_numpy(ring - np.array(offset)).float() / torch.tensor([max(w - 1, 1), max(h - 1, 1)]) * 2 - 1
    ring_src = torch.nn.functional.grid_sample(source_map.permute(0, 3, 1, 2), norm[:, None], mode="bilinear",
                                               padding_mode="border", align_corners=True)[:, :, 0]  # (T, 2, R)
    source = np.concatenate([np.nan_to_num(frames.source), ring_src.permute(0, 2, 1).double().numpy()], 1)
    area = _area2(target[:, mesh.triangles])  # (T, M)
    with np.errstate(divide="ignore", invalid="ignore"):
        jacobian = np.where(np.abs(area) > 1e-3, _area2(source[:, mesh.triangles]) / area, -1.0)
    return target, source, np.where((valid & (frames.weight > 0))[:, None], jacobian, np.nan)


def eye_map(mesh: EyeMesh, frames: EyeFrames, source_map: torch.Tensor, offset: tuple[int, int],
            smear: torch.Tensor | None, lid_smear: float, onset: float) -> None:
    """Replace, in place, ``source_map`` (T, h, w, 2) (photo px of each pixel of a block whose top-left pixel is
    ``offset`` (x, y)) inside ``mesh``'s ring with the mesh's map (its vertices in the T ``frames``; the ring shows
    what ``source_map`` shows there), by the frame's weight, in every frame where the map keeps its orientation in
    every triangle. With ``smear`` (T, h, w), raise it on the upper lid's skin to the half-width (photo px) over
    which what the lid shows is to be averaged along the eye line: ``lid_smear`` px times how far the lid has closed
    (its closure times the frame's weight) at the lashes' top, :data:`SMEAR_ABOVE` of that at the guides' curve and
    the corners, linear in between; nothing where the lid has closed by less than ``onset``, rising to the full
    width at twice that (a lid that narrows in a smile is not stretched enough to streak)."""
    _, h, w, _ = source_map.shape
    target, source, jacobian = mesh_vertices(mesh, frames, source_map, offset)
    ok = (jacobian > 0).all(1)  # (T,)
    if not ok.any():
        return
    tri = mesh.triangles
    per_vertex = np.zeros((len(frames.closure), len(mesh.rest)))  # (T, V) the smear's half-width at each vertex (px)
    if smear is not None:
        closed = frames.weight[:, None] * frames.closure  # (T, SAMPLES)
        closed = closed * np.clip(closed / max(onset, 1e-9) - 1.0, 0.0, 1.0)  # 0 below the onset
        per_vertex[:, _W] = lid_smear * closed
        per_vertex[:, _G] = SMEAR_ABOVE * lid_smear * closed
        per_vertex[:, [0, 1]] = SMEAR_ABOVE * lid_smear * closed[:, [0, -1]]
    lo = np.floor(target[ok].reshape(-1, 2).min(0)).astype(int) - np.array(offset)
    hi = np.ceil(target[ok].reshape(-1, 2).max(0)).astype(int) - np.array(offset) + 1
    x0, y0 = np.maximum(lo, 0)
    x1, y1 = min(hi[0], w), min(hi[1], h)
    if x1 <= x0 or y1 <= y0:
        return
    size = (x1 - x0, y1 - y0)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    pix = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)  # (P, 2) block px
    origin = np.array(offset, np.float64)
    for f in np.flatnonzero(ok):
        corners = target[f][tri] - origin  # (M, 3, 2) block px
        ids = Image.new("I", size, -1)
        draw = ImageDraw.Draw(ids)
        for k, c in enumerate((corners - (x0, y0)).reshape(len(tri), 6).tolist()):  # PIL: pixel centres at .0
            draw.polygon(c, fill=k, outline=k)
        drawn = np.asarray(ids, np.int32).reshape(-1)  # (P,) each pixel's triangle, -1 outside all
        at = np.flatnonzero(drawn >= 0)  # (H,) the pixels PIL drew
        m = drawn[at]  # (H,) edges are drawn wide: check each pixel
        bary = _barycentric(corners[m], pix[at])  # (H, 3)
        off = np.flatnonzero(bary.min(1) < -1e-6)  # not held by its triangle
        if len(off):  # the exact test among the triangles around it: the first that holds it, or none
            near = mesh.neighbours[m[off]]  # (B, K)
            wt = _barycentric(corners[near], pix[at[off]][:, None])  # (B, K, 3)
            holds = wt.min(-1) >= -1e-6  # (B, K)
            first = holds.argmax(1)
            m[off] = np.where(holds.any(1), near[np.arange(len(off)), first], -1)
            bary[off] = wt[np.arange(len(off)), first]
        hit = m >= 0
        at, m, bary = at[hit], m[hit], bary[hit]
        sv = source[f][tri][m]  # (H, 3, 2)
        block = source_map[f, y0:y1, x0:x1].reshape(-1, 2).clone()  # (P, 2)
        pixels = torch.from_numpy(at)
        mapped = torch.from_numpy(np.einsum("hk,hkc->hc", bary, sv)).to(block.dtype)  # (H, 2)
        block[pixels] += float(frames.weight[f]) * (mapped - block[pixels])
        source_map[f, y0:y1, x0:x1] = block.reshape(y1 - y0, x1 - x0, 2)
        on_lid = mesh.lid[m]  # (H,)
        if per_vertex[f].max() > 0 and on_lid.any():
            width = np.einsum("hk,hk->h", bary[on_lid], per_vertex[f][tri[m[on_lid]]])  # (L,)
            rows = smear[f, y0:y1, x0:x1].reshape(-1).clone()  # (P,)
            lid_pixels = torch.from_numpy(at[on_lid])
            rows[lid_pixels] = torch.maximum(rows[lid_pixels], torch.from_numpy(width).to(rows.dtype))
            smear[f, y0:y1, x0:x1] = rows.reshape(y1 - y0, x1 - x0)
