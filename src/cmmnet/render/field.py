"""A dense, fold-free backward warp field at the photo's resolution from landmark displacements.

For every output pixel ``x`` of frame t the field gives the source position ``S_t(x)`` in the input photo that the
pixel shows. It is built in four steps:

1. A smoothing thin-plate spline (:func:`cmmnet.models.warp.tps_solve`, the spline G's optional warped input uses)
   interpolates the backward displacement ``source - target`` from the frame's 68 target landmarks, plus a ring of
   fixed anchors around the face region (zero displacement) and guides around the eyes that keep a lid's motion on
   the lid (:func:`guide_points`), in inter-ocular-distance (IOD) units. Facing lip and
   lid points that meet (closed lips, closed eyes) are first moved a small gap apart in both the source and the
   target shape (:func:`cmmnet.data.synth.render.separate_pairs`, as FRL-Smile's mesh), and every landmark's
   displacement is clipped to a fraction of the IOD: the spline never sees coincident centres or wild motion.
2. The spline is evaluated on a coarse grid of nodes at integer pixels every ``g`` px over the face region and
   multiplied by a soft face mask (:mod:`cmmnet.render.mask`), which is exactly 0 at the region's edge: outside
   the mask the photo's pixels are copied unchanged.
3. Fold check and repair: between the nodes the field is bilinear (the full-resolution map is the exact bilinear
   interpolation of the nodes). The Jacobian determinant of a bilinear quad map is an affine function of the
   position in the cell, so it is positive over the whole cell exactly when the four corner cross products of the
   mapped quad are; :func:`corner_jacobians` computes them (in units of the undeformed cell area). Cells below
   ``FieldConfig.min_jacobian`` are repaired locally (the displacement is smoothed around them), and a frame that is
   still bad after ``repair_iterations`` has its whole displacement scaled down by the largest factor in [0, 1]
   that passes (found by bisection; 0 is the identity, which always passes). So the map is invertible on every
   frame, whatever landmarks it is given.
4. :func:`upsample` turns the coarse map into per-pixel source positions for ``grid_sample``.

Coordinates: (x, y) pixels with pixel centres at integers, as in :mod:`cmmnet.faces`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.synth.render import separate_pairs
from ..models.warp import tps_evaluate, tps_solve
from .config import FieldConfig


@dataclass(frozen=True)
class Grid:
    """Coarse nodes ``x0 + i * step`` (i < nx), ``y0 + j * step`` (j < ny): integer pixel positions."""

    x0: int
    y0: int
    nx: int
    ny: int
    step: int

    def nodes(self) -> torch.Tensor:
        """(ny, nx, 2) float32 node positions (x, y)."""
        xs = self.x0 + self.step * torch.arange(self.nx, dtype=torch.float32)
        ys = self.y0 + self.step * torch.arange(self.ny, dtype=torch.float32)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([gx, gy], -1)

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(height, width) of the pixel block the nodes span."""
        return (self.ny - 1) * self.step + 1, (self.nx - 1) * self.step + 1


def corner_jacobians(source: torch.Tensor, step: float) -> torch.Tensor:
    """The four corner cross products of every mapped cell of a coarse map ``source`` (T, ny, nx, 2), over the
    undeformed cell area ``step^2``: (T, ny - 1, nx - 1, 4). All > 0 iff the bilinear map is orientation-preserving
    (Jacobian determinant > 0) on the whole cell; 1 for the identity."""
    top = source[:, :-1, 1:] - source[:, :-1, :-1]  # (T, ny-1, nx-1, 2) A -> B
    bottom = source[:, 1:, 1:] - source[:, 1:, :-1]  # D -> C
    left = source[:, 1:, :-1] - source[:, :-1, :-1]  # A -> D
    right = source[:, 1:, 1:] - source[:, :-1, 1:]  # B -> C

    def cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    # quad A B C D, clockwise on screen (y down): cross(next - V, previous - V) at every corner V
    out = torch.stack([cross(top, left), cross(right, -top), cross(bottom, right), cross(-left, bottom)], -1)
    return out / float(step) ** 2


def _bad_nodes(source: torch.Tensor, step: float, floor: float) -> torch.Tensor:
    """(T, 1, ny, nx) float: 1 at the nodes of every cell with a corner cross product below ``floor``."""
    bad = (corner_jacobians(source, step).amin(-1) < floor).float()[:, None]  # (T, 1, ny-1, nx-1)
    return F.max_pool2d(F.pad(bad, (1, 1, 1, 1)), 2, stride=1)  # (T, 1, ny, nx): a cell's bad marks its 4 nodes


def _smooth(u: torch.Tensor) -> torch.Tensor:
    """3x3 binomial smoothing of a (T, 2, ny, nx) displacement, zero beyond the edge (the mask is 0 there)."""
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :] / 16).expand(2, 1, 3, 3).contiguous()
    return F.conv2d(u, k, padding=1, groups=2)


def repair(nodes: torch.Tensor, displacement: torch.Tensor, step: float, movable: torch.Tensor,
           cfg: FieldConfig) -> torch.Tensor:
    """A displacement (T, ny, nx, 2) close to ``displacement`` whose map ``nodes + displacement`` has every corner
    cross product >= ``cfg.min_jacobian``: local smoothing around bad cells (only at ``movable`` (ny, nx) nodes:
    the others stay where they are), then a per-frame global scale."""
    floor = cfg.min_jacobian
    bad_frames = corner_jacobians(nodes + displacement, step).flatten(1).amin(1) < floor  # (T,)
    if not bool(bad_frames.any()):
        return displacement
    u = displacement[bad_frames].permute(0, 3, 1, 2)  # (B, 2, ny, nx) only the frames that need it
    for _ in range(cfg.repair_iterations):
        bad = _bad_nodes(nodes + u.permute(0, 2, 3, 1), step, floor)  # (B, 1, ny, nx)
        if not bad.any():
            break
        weight = F.max_pool2d(bad, 5, stride=1, padding=2) * movable  # the neighbourhood of the bad cells
        u = u + weight * (_smooth(u) - u)
    u = u.permute(0, 2, 3, 1)  # (B, ny, nx, 2)
    ok = corner_jacobians(nodes + u, step).flatten(1).amin(1) >= floor  # (B,)
    if not bool(ok.all()):
        lo = torch.where(ok, 1.0, 0.0)  # (B,) a scale known to pass (0 = identity)
        hi = torch.ones_like(lo)
        for _ in range(cfg.bisection_steps):
            mid = 0.5 * (lo + hi)
            passes = corner_jacobians(nodes + mid[:, None, None, None] * u, step).flatten(1).amin(1) >= floor
            lo, hi = torch.where(passes, mid, lo), torch.where(passes, hi, mid)
        u = lo[:, None, None, None] * u
    out = displacement.clone()
    out[bad_frames] = u
    return out


def prepare_shapes(source: np.ndarray, targets: np.ndarray, iod: float,
                   cfg: FieldConfig) -> tuple[np.ndarray, np.ndarray]:
    """Source (68, 2) and targets (T, 68, 2) as the spline sees them: facing lip/lid points at least
    ``closed_gap`` IOD apart, every target within ``max_displacement`` IOD of its source."""
    eps = cfg.closed_gap * iod
    src = separate_pairs(np.asarray(source, np.float64), eps)
    tgt = np.stack([separate_pairs(t, eps) for t in np.asarray(targets, np.float64)])  # (T, 68, 2)
    d = tgt - src
    norm = np.linalg.norm(d, axis=-1, keepdims=True)
    limit = cfg.max_displacement * iod
    d = d * np.minimum(1.0, limit / np.maximum(norm, 1e-12))
    return src, src + d


UPPER_LIDS = ((37, 38), (43, 44))  # per eye: the upper lid's middle points
LOWER_LIDS = ((41, 40), (47, 46))  # and the lower lid's
BROWS = (tuple(range(17, 22)), tuple(range(22, 27)))


def face_axes(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the eye line and down the face (image coordinates, y down)."""
    d = shape[42:48].mean(0) - shape[36:42].mean(0)
    along = d / max(float(np.hypot(*d)), 1e-9)
    return along, np.array([-along[1], along[0]])


def _along_weights(xs: np.ndarray, x: float) -> np.ndarray:
    """(n,) weights of linear interpolation at ``x`` between the points at ``xs`` (n,) (flat beyond the ends)."""
    order = np.argsort(xs)
    w = np.zeros(len(xs))
    k = int(np.clip(np.searchsorted(xs[order], x), 1, len(xs) - 1))
    lo, hi = xs[order[k - 1]], xs[order[k]]
    f = float(np.clip((x - lo) / max(hi - lo, 1e-9), 0.0, 1.0))
    w[order[k - 1]], w[order[k]] = 1.0 - f, f
    return w


def guide_points(src: np.ndarray, tgt: np.ndarray, anchors: np.ndarray, iod: float,
                 cfg: FieldConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extra spline centres that keep the lids' motion on the lids: source (G, 2), targets (T, G, 2) and the lid
    point each hangs from (G,) int.

    A spline through a lid that closes over the small gap of an eye keeps the lids' steep slope beyond them: the brow
    is dragged down over the eye and the cheek pulled up. So above each upper-lid point, ``lid_guide`` of the way up
    to the brow, and below each lower-lid point, ``under_eye_guide`` IOD down the face, a guide moves as the face
    there would if every eye kept its opening: with the forward spline through the landmarks and ``anchors`` whose
    upper lids move as their lower lids do. The lid's own motion then stretches or folds the lid skin between guide
    and lid, and the brow, the cheek and every other motion (a smile's) stay what they were. An upper guide never
    comes closer than half its source distance to its lid's target, and a lid within 0.05 IOD of its brow gets none."""
    t = len(tgt)
    along, down = face_axes(src)
    g_src, hangs, uppers_of = [], [], []
    for uppers, lowers, brow in zip(UPPER_LIDS, LOWER_LIDS, BROWS):
        brow = list(brow)
        for i in uppers if cfg.lid_guide > 0 else ():
            w = _along_weights(src[brow] @ along, float(src[i] @ along))  # (5,)
            lift = cfg.lid_guide * float((src[i] - w @ src[brow]) @ down)  # > 0: the lid is below the brow
            if lift >= 0.05 * iod * cfg.lid_guide:
                g_src.append(src[i] - lift * down)
                hangs.append(i)
                uppers_of.append((len(g_src) - 1, i, lift))
        for i in lowers if cfg.under_eye_guide > 0 else ():
            g_src.append(src[i] + cfg.under_eye_guide * iod * down)
            hangs.append(i)
    if not g_src:
        return np.zeros((0, 2)), np.zeros((t, 0, 2)), np.zeros(0, np.int64)
    g_src = np.stack(g_src)  # (G, 2)
    kept = np.array(tgt, np.float64)  # (T, 68, 2) the targets with every eye's opening kept
    for uppers, lowers in zip(UPPER_LIDS, LOWER_LIDS):
        for u, d in zip(uppers, lowers):
            kept[:, u] = src[u] + (tgt[:, d] - src[d])
    centre = src.mean(0)
    points = (np.concatenate([src, anchors]) - centre) / iod  # (Q, 2) IOD units
    moved = np.concatenate([kept - src, np.zeros((t, len(anchors), 2))], 1) / iod  # (T, Q, 2)
    centres = torch.from_numpy(points.astype(np.float32))[None].expand(t, -1, -1)
    coef = tps_solve(centres, torch.from_numpy(moved.astype(np.float32)), cfg.regularization)  # (T, Q+3, 2)
    at = torch.from_numpy(((g_src - centre) / iod).astype(np.float32))[None].expand(t, -1, -1)  # (T, G, 2)
    g_tgt = g_src + tps_evaluate(coef, centres, at).double().numpy() * iod  # (T, G, 2)
    for g, i, lift in uppers_of:
        below = g_tgt[:, g] @ down - (tgt[:, i] @ down - 0.5 * lift)  # (T,) > 0: too close to (or past) the lid
        g_tgt[:, g] -= np.maximum(below, 0.0)[:, None] * down
    return g_src, g_tgt, np.array(hangs, np.int64)


def backward_field(source: np.ndarray, targets: np.ndarray, grid: Grid, mask: torch.Tensor, anchors: np.ndarray,
                   iod: float, cfg: FieldConfig | None = None) -> torch.Tensor:
    """Coarse backward map (T, ny, nx, 2): the source position, in photo pixels, of every node of ``grid`` in each
    frame whose landmarks are ``targets`` (T, 68, 2); ``source`` (68, 2) are the photo's own landmarks, ``mask``
    (ny, nx) the soft face mask at the nodes, ``anchors`` (A, 2) fixed points around the face region. The spline is
    evaluated a block of nodes at a time (``cfg.kernel_block``: its kernel would otherwise take frames x nodes x
    centres floats at once, 0.3 GB for a 2 s clip of four sequences)."""
    cfg = cfg or FieldConfig()
    src, tgt = prepare_shapes(source, targets, iod, cfg)
    anchors = np.asarray(anchors, np.float64)
    g_src, g_tgt, _ = guide_points(src, tgt, anchors, iod, cfg)
    centre = src.mean(0)
    src = np.concatenate([src, g_src])  # (68 + G, 2)
    tgt = np.concatenate([tgt, g_tgt], 1)  # (T, 68 + G, 2)
    t = len(tgt)

    def unit(p: np.ndarray) -> torch.Tensor:  # photo px -> IOD units about the face centre
        return torch.from_numpy(((p - centre) / iod).astype(np.float32))

    centres = torch.cat([unit(tgt), unit(anchors)[None].expand(t, -1, -1)], 1)  # (T, Q, 2)
    values = torch.cat([unit(src)[None] - unit(tgt), torch.zeros(t, len(anchors), 2)], 1)
    # fp32: within 0.03 px of fp64 even for 0.1 IOD landmark noise, and batched fp64 solves thrash 2 threads
    coef = tps_solve(centres, values, cfg.regularization)  # (T, Q+3, 2)
    nodes = grid.nodes()  # (ny, nx, 2)
    inside = mask.reshape(-1) > 0  # only nodes inside the mask move
    flat = unit(nodes.reshape(-1, 2)[inside].double().numpy())[None].expand(t, -1, -1)  # (T, N', 2)
    u = torch.zeros(t, grid.ny * grid.nx, 2)
    # blocks of equal size, at least 64 nodes (tiny matrix products may round otherwise)
    n_blocks = max(1, min(-(-flat.shape[1] * t * centres.shape[1] // cfg.kernel_block), flat.shape[1] // 64))
    blocks = torch.tensor_split(flat, n_blocks, dim=1)
    u[:, inside] = torch.cat([tps_evaluate(coef, centres, b) for b in blocks], 1) \
        * (iod * mask.reshape(-1)[inside, None])  # (T, N', 2)
    u = u.reshape(t, grid.ny, grid.nx, 2)  # (T, ny, nx, 2) px
    u = repair(nodes[None], u, grid.step, (mask > 0).float(), cfg)
    return nodes[None] + u  # (T, ny, nx, 2)


def upsample(coarse: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Per-pixel source positions (T, H, W, 2) over the block the grid spans: the exact bilinear interpolation of
    the nodes (``align_corners``: nodes land on their own pixels)."""
    # channels first in memory: torch's kernel for channels last is ~4x slower on 2 channels
    full = F.interpolate(coarse.permute(0, 3, 1, 2).contiguous(), size=grid.pixel_size, mode="bilinear",
                         align_corners=True)  # (T, 2, H, W)
    return full.permute(0, 2, 3, 1).contiguous()  # (T, H, W, 2)
