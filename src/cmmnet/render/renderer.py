"""The warp renderer: the input photo's own pixels, at its own resolution, moved along a landmark motion.

Not in the paper (whose G of §3.4 paints 64 x 64 faces, ``--renderer paper``). Like the warp stage of First Order
Motion Model and LivePortrait, but with no network: every frame samples the photo through the fold-free backward
field of :mod:`cmmnet.render.field`, inside the soft face mask of :mod:`cmmnet.render.mask` (the background is the
photo's own pixels, unchanged), so identity, detail, colour or its absence (a black-and-white photo stays black and
white) are kept by construction. What a warp cannot show is the mouth's inside when closed lips part: it is painted
between the target's inner lips with FRL-Smile's mouth interior (:func:`cmmnet.data.synth.render.paint_mouth_interior`:
a dark cavity and upper/lower teeth, scaled to the face's light and given part of its colour cast, in grey for a
grey photo). A photo that already shows parted lips keeps its own mouth interior, moved with the lips; lips that
dlib's points part over lip-coloured pixels are closed lips (:mod:`cmmnet.render.lips`), moved and painted as such.
Nor can a warp deepen the folds beside the mouth or lift the cheeks' light: the skin is shaded by a mean smile ratio
image as the mouth widens (:mod:`cmmnet.render.shading`).

Coordinates: (x, y) pixels with pixel centres at integers, as in :mod:`cmmnet.faces`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..data.proxies import inter_ocular_distance, mouth_opening
from ..data.synth.render import (
    LIGHT_LIMITS,
    RenderConfig,
    mouth_colours_at,
    paint_mouth_interior,
    skin_light,
    skin_patch,
)
from ..errors import CmmnetError
from .config import WarpRenderConfig
from .eyes import EyeFrames, eye_frames, eye_map, eye_meshes, mesh_vertices
from .field import Grid, backward_field, face_axes, guide_points, prepare_shapes, upsample
from .lips import closed_lip_shift, crop_around, polygon_mask
from .mask import Region, face_region, region_grid
from .refine import LUMA, BlockRefiner, Colour
from .shading import BlockShading, load_shading

if TYPE_CHECKING:  # pragma: no cover
    from ..models.refiner import RefinerNet


def _is_gray(patch: np.ndarray, spread: float) -> bool:
    """Whether an (h, w, 3) uint8 patch is greyscale: the 99th percentile of its channel spread is within
    ``spread`` grey levels."""
    p = patch.reshape(-1, 3).astype(np.int16)
    return len(p) == 0 or float(np.percentile(p.max(1) - p.min(1), 99)) <= spread


def colour_cast(photo: np.ndarray, landmarks: np.ndarray, reference: tuple[float, float, float],
                share: float) -> np.ndarray:
    """(3,) per-channel gains that give a colour ``share`` of the photo's colour cast: the median colour of its
    cheeks and nose (the box the mouth's light is taken from), normalised by its mean, against ``reference`` (each
    gain within 0.7-1.3; :func:`cast` applies them)."""
    patch = skin_patch(photo, landmarks)  # (N, 3)
    skin = np.median(patch, 0) if len(patch) else np.asarray(reference)
    if not skin.mean() > 0:
        return np.ones(3)
    return np.clip((skin / skin.mean() / np.asarray(reference)) ** share, 0.7, 1.3)


def eye_light(photo: np.ndarray, landmarks: np.ndarray, reference: float, limits: tuple[float, float]) -> float | None:
    """The light of the face from its eyes: the 75th percentile of the luma inside both eyes' outlines (their whites,
    which are white whatever the skin) over ``reference``, square-rooted (a damped estimate) and clipped to
    ``limits``; None when the eyes cover no pixel."""
    lm = np.asarray(landmarks, np.float64)
    eyes = crop_around(photo, lm[36:48], 1)
    if eyes is None:
        return None
    crop, corner = eyes
    inside = polygon_mask(crop.shape[:2], lm[36:42] - corner, lm[42:48] - corner)
    if not inside.any():
        return None
    luma = crop[inside] @ LUMA  # (N,)
    return float(np.clip((np.percentile(luma, 75) / reference) ** 0.5, *limits))


def cast(rgb: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``rgb`` (3,) times the per-channel ``gain``, at its own luma."""
    out = np.asarray(rgb, np.float64) * gain
    return out * (float(np.asarray(rgb) @ LUMA) / max(float(out @ LUMA), 1e-9))


def distinct_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``a`` (N, D) without repeats: ``first`` (U,), the index of each distinct row where it first
    appears (in that order), and ``which`` (N,), the position in ``first`` of every row's copy."""
    _, first, inverse = np.unique(a, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    return first[order], np.argsort(order)[inverse.reshape(-1)]


class WarpRenderer:
    """Renders frames of one photo ``(H, W, 3)`` uint8 whose face has the 68 ``landmarks`` (photo pixels); with a
    ``refiner`` (and ``config.refine`` "on") R paints over the warp what it cannot make (:mod:`.refine`).
    ``lip_shift`` (68, 2): what :mod:`.lips` moves the photo's inner-lip points by (zero unless closed lips were
    parted by them); ``landmarks`` has it, and :class:`WarpVideo` adds it to every target shape, so the methods that
    take shapes expect shapes that have it."""

    def __init__(self, photo: np.ndarray, landmarks: np.ndarray, config: WarpRenderConfig | None = None,
                 refiner: RefinerNet | None = None):
        self.cfg = config or WarpRenderConfig()
        self.refiner = refiner if self.cfg.refine == "on" else None
        photo = np.asarray(photo)
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise CmmnetError(f"the photo to render must be (H, W, 3) uint8, got {photo.shape} {photo.dtype}")
        lm = np.asarray(landmarks, np.float64)
        if lm.shape != (68, 2) or not np.isfinite(lm).all():
            raise CmmnetError(f"the photo's landmarks must be 68 finite (x, y) points, got shape {lm.shape}")
        self.photo = photo
        # closed lips that the points part (cfg.lip_gap): the inner lips' points onto their crease, in the photo's
        # shape and in every target shape (the generated motion is kept)
        self.lip_shift = np.zeros_like(lm)
        if self.cfg.lip_gap == "pixels":
            self.lip_shift = closed_lip_shift(photo, lm, self.cfg.parted_lips, self.cfg.closed_lip_share)
        lm = lm + self.lip_shift
        self.landmarks = lm
        self.iod = float(inter_ocular_distance(lm))
        if not self.iod > 1.0:
            raise CmmnetError(f"the face in the photo is too small to render (eye distance {self.iod:.1f} px)")
        self.step = max(2, int(round(self.cfg.field.grid_step * self.iod)))
        src, _ = prepare_shapes(lm, lm[None], self.iod, self.cfg.field)
        g_src, _, hangs = guide_points(src, src[None], np.zeros((0, 2)), self.iod, self.cfg.field)
        self._eyes = eye_meshes(src, g_src, hangs, self.iod) if self.cfg.eyelids == "cover" else []
        self._eye_line = torch.from_numpy(face_axes(src)[0]).float()  # (2,) the direction a closed lid is smeared
        self._tensor = torch.from_numpy(np.ascontiguousarray(photo.transpose(2, 0, 1))).float()[None]  # (1,3,H,W)
        self._opening = float(mouth_opening(lm))
        self.paints_mouth = self.cfg.mouth_interior == "painted" and self._opening < self.cfg.parted_lips
        render_cfg = RenderConfig()
        _, light = skin_light(photo, lm, render_cfg)
        eyes = eye_light(photo, lm, self.cfg.eye_reference, LIGHT_LIMITS) if self.cfg.mouth_light == "eyes" else None
        light = light if eyes is None else max(light, eyes)  # the eyes can only say the face is lit brighter
        teeth, cavity = mouth_colours_at(light, render_cfg)
        gain = colour_cast(photo, lm, self.cfg.skin_reference, self.cfg.mouth_cast)  # (3,)
        teeth, cavity = cast(teeth, gain), cast(cavity, gain)
        x0, y0 = np.floor(lm.min(0)).astype(int)
        x1, y1 = np.ceil(lm.max(0)).astype(int) + 1
        self.colour: Colour = "rgb"
        if _is_gray(photo[max(y0, 0):max(y1, 1), max(x0, 0):max(x1, 1)], self.cfg.gray_spread):
            teeth, cavity = (np.full(3, c @ LUMA) for c in (teeth, cavity))
            self.colour = "grey"
        self._teeth, self._cavity, self._render_cfg = teeth.astype(np.float32), cavity.astype(np.float32), render_cfg
        self._shading = load_shading() if self.cfg.shading == "smile" else None

    def region(self, targets: np.ndarray) -> Region:
        """The face region (node grid, mask, anchors) for frames with landmarks ``targets`` (T, 68, 2)."""
        return face_region(self._with_source(targets), self.iod, self.photo.shape[:2], self.step, self.cfg.mask)

    def grid(self, targets: np.ndarray) -> Grid:
        """The node grid alone of :meth:`region` (what its face block spans), without the hull, mask and anchors."""
        return region_grid(self._with_source(targets), self.iod, self.photo.shape[:2], self.step, self.cfg.mask)

    def _with_source(self, targets: np.ndarray) -> np.ndarray:
        return np.concatenate([self.landmarks[None], np.asarray(targets, np.float64)])  # (T + 1, 68, 2)

    def field(self, targets: np.ndarray, region: Region | None = None) -> torch.Tensor:
        """Coarse backward map (T, ny, nx, 2) over ``region.grid`` (source photo pixels of each node)."""
        targets = self._check(targets)
        region = region or self.region(targets)
        return backward_field(self.landmarks, targets, region.grid, region.mask, region.anchors, self.iod,
                              self.cfg.field)

    def eye_frames(self, shapes: np.ndarray, region: Region) -> list[EyeFrames]:
        """Each eye mesh's vertices (:mod:`.eyes`) for frames with landmarks ``shapes`` (U, 68, 2) in ``region``."""
        if not self._eyes:
            return []
        src, tgt = prepare_shapes(self.landmarks, shapes, self.iod, self.cfg.field)
        _, g_tgt, _ = guide_points(src, tgt, np.asarray(region.anchors, np.float64), self.iod, self.cfg.field)
        return [eye_frames(mesh, src, tgt, g_tgt, self.iod, self.cfg.eyelid_fade) for mesh in self._eyes]

    def pixel_map(self, shapes: np.ndarray, region: Region, coarse: torch.Tensor,
                  eyes: list[EyeFrames] | None = None, smear: torch.Tensor | None = None) -> torch.Tensor:
        """The source position (photo px) of every pixel of ``region``'s face block, (U, bh, bw, 2), for frames
        with landmarks ``shapes`` (U, 68, 2) whose :meth:`field` is ``coarse``: the spline's map, and inside a ring
        around each eye the eyes' meshes (``cfg.eyelids``; ``eyes``: their :meth:`eye_frames`, made when None).
        ``smear`` (U, bh, bw), zeros, receives the half-width (px) over which a closed lid's pixels are averaged
        along the eye line (``cfg.lid_smear``; :func:`.eyes.eye_map`)."""
        g = region.grid
        out = self.spline_map(coarse, g)  # (U, bh, bw, 2)
        for mesh, frames in zip(self._eyes, self.eye_frames(shapes, region) if eyes is None else eyes):
            eye_map(mesh, frames, out, (g.x0, g.y0), smear, self.cfg.lid_smear * self.iod, self.cfg.lid_smear_onset)
        return out

    def spline_map(self, coarse: torch.Tensor, g: Grid) -> torch.Tensor:
        """The spline's source position (photo px) of every pixel of the face block over grid ``g``, (U, bh, bw, 2),
        from its :meth:`field` ``coarse`` (U, ny, nx, 2)."""
        rows, cols = self.block_span(g)
        return upsample(coarse, g)[:, :rows.stop - rows.start, :cols.stop - cols.start]

    def eye_jacobians(self, shapes: np.ndarray, region: Region, coarse: torch.Tensor) -> list[np.ndarray]:
        """Per eye mesh, the Jacobian determinant of its map in each triangle (U, M) for frames with landmarks
        ``shapes`` (U, 68, 2) whose :meth:`field` is ``coarse``; :meth:`pixel_map` uses a mesh in a frame exactly
        when all its triangles' are > 0 (NaN rows: no mesh, the eye barely moving or its lids out of order)."""
        g = region.grid
        spline = self.spline_map(coarse, g)  # (U, bh, bw, 2)
        return [mesh_vertices(mesh, frames, spline, (g.x0, g.y0))[2]
                for mesh, frames in zip(self._eyes, self.eye_frames(shapes, region))]

    def _check(self, targets: np.ndarray) -> np.ndarray:
        t = np.asarray(targets, np.float64)
        if t.ndim != 3 or t.shape[1:] != (68, 2) or not np.isfinite(t).all():
            raise CmmnetError(f"target landmarks must be finite (T, 68, 2), got shape {t.shape}")
        return t

    def render(self, targets: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 frames: the photo with its face moved to each frame's ``targets`` (T, 68, 2)."""
        return WarpVideo(self, self._check(targets)[None])[0]

    def block_span(self, g: Grid) -> tuple[slice, slice]:
        """The rows and columns of the photo that a region's face block covers (its node grid ``g``, cut at the
        photo's edge)."""
        h, w = self.photo.shape[:2]
        return slice(g.y0, g.y0 + min(g.pixel_size[0], h - g.y0)), slice(g.x0, g.x0 + min(g.pixel_size[1], w - g.x0))

    def block_shape(self, g: Grid) -> tuple[int, int]:
        """(bh, bw): the rows and columns of :meth:`block_span`."""
        rows, cols = self.block_span(g)
        return rows.stop - rows.start, cols.stop - cols.start

    def block_refiner(self, region: Region) -> BlockRefiner | None:
        """R's transforms and masks for ``region``'s blocks (None without R), for :meth:`blocks`."""
        if self.refiner is None:
            return None
        return BlockRefiner(self.refiner, self._tensor, self.landmarks, region, self.block_shape(region.grid),
                            self.iod, self.cfg.refine_ramp, self.colour)

    def block_shading(self, region: Region) -> BlockShading | None:
        """The smile shading (:mod:`.shading`) over ``region``'s face block; None with ``cfg.shading`` "none"."""
        if self._shading is None:
            return None
        return BlockShading(self._shading, self.landmarks, region, self.block_shape(region.grid),
                            self.cfg.shading_cap)

    def blocks(self, shapes: np.ndarray, region: Region, coarse: torch.Tensor, refine: BlockRefiner | None = None,
               eyes: list[EyeFrames] | None = None, shade: BlockShading | None = None) -> Iterator[np.ndarray]:
        """The face block of ``region`` (bh, bw, 3) uint8 for each of ``shapes`` (U, 68, 2) whose :meth:`field` is
        ``coarse`` (U, ny, nx, 2), closed lids averaged along the eye line (``cfg.lid_smear``), shaded by ``shade``
        (:meth:`block_shading` of the region), mouth interior painted, and R's change with ``refine``
        (:meth:`block_refiner` of the region): ``cfg.chunk`` sampled at once, fewer when the block is over
        ``cfg.chunk_pixels``. Outside its block a frame is the photo itself."""
        h, w = self.photo.shape[:2]
        g = region.grid
        bh, bw = self.block_shape(g)
        scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)])
        chunk = max(1, min(self.cfg.chunk, self.cfg.chunk_pixels // (bh * bw)))
        for i in range(0, len(shapes), chunk):
            part = slice(i, i + chunk)
            smear = torch.zeros(len(shapes[part]), bh, bw) if self._eyes and self.cfg.lid_smear > 0 else None  # px
            src = self.pixel_map(shapes[part], region, coarse[part],
                                 None if eyes is None else [e.take(part) for e in eyes], smear)  # (c, bh, bw, 2) px
            norm = src * scale - 1.0  # grid_sample's [-1, 1], align_corners=True
            img = self._tensor.expand(len(src), -1, -1, -1)  # (c, 3, H, W)
            block = F.grid_sample(img, norm, mode=self.cfg.interpolation, padding_mode="border", align_corners=True)
            self._smear_lids(block, img, src, smear, scale)
            factors = None if shade is None else shade.factors(shapes[part])  # (c, 1, bh, bw)
            if factors is not None:
                block.mul_(factors)
            block = block.add_(0.5).clamp_(0, 255).to(torch.uint8)  # (c, 3, bh, bw)
            block = block.permute(0, 2, 3, 1).contiguous().numpy()  # (c, bh, bw, 3): a frame takes it in one copy
            if self.paints_mouth:  # the mouth lies inside the block (the region spans the face and a margin)
                for j, face in enumerate(block):
                    self._paint_mouth(face, shapes[i + j] - (g.x0, g.y0))
            if refine is not None:
                block = refine.apply(block, shapes[i:i + len(block)])  # (c, bh, bw, 3)
            yield from block

    def _smear_lids(self, block: torch.Tensor, img: torch.Tensor, src: torch.Tensor, smear: torch.Tensor | None,
                    scale: torch.Tensor) -> None:
        """Average ``block`` (c, 3, bh, bw), sampled from ``img`` at ``src`` (c, bh, bw, 2) photo px, in place
        along the eye line over ``smear`` (c, bh, bw) px either side, where that is > 0 (a closed lid's skin,
        :func:`.eyes.eye_map`): ``cfg.lid_smear_taps`` samples each side. None: no eye meshes or no averaging."""
        if smear is None:
            return
        on = smear > 0  # (c, bh, bw)
        if not bool(on.any()):
            return
        rows, cols = on.any(2).any(0).nonzero()[:, 0], on.any(1).any(0).nonzero()[:, 0]
        window = (slice(None), slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
        at, reach = src[window], smear[window][..., None] * self._eye_line  # (c, h, w, 2) each
        n = max(self.cfg.lid_smear_taps, 1)
        total = torch.zeros_like(block[(slice(None), slice(None), *window[1:])])  # (c, 3, h, w)
        for k in range(-n, n + 1):
            total += F.grid_sample(img, (at + (k / n) * reach) * scale - 1.0, mode=self.cfg.interpolation,
                                   padding_mode="border", align_corners=True)
        part = block[(slice(None), slice(None), *window[1:])]  # (c, 3, h, w) a view
        part.copy_(torch.where(on[window][:, None], total / (2 * n + 1), part))

    def _paint_mouth(self, frame: np.ndarray, lm: np.ndarray) -> None:
        """Paint the mouth interior between the inner lips of ``lm`` into ``frame`` (H, W, 3) uint8, in place."""
        inner = lm[60:68]
        strength = (float(mouth_opening(lm)) - self._opening) * self.iod / self.cfg.paint_ramp
        if strength <= 0:  # no wider than the photo's own mouth: nothing to paint
            return
        h, w = frame.shape[:2]
        x0, y0 = (max(int(v) - 4, 0) for v in np.floor(inner.min(0)))
        x1, y1 = (min(int(v) + 5, lim) for v, lim in zip(np.ceil(inner.max(0)), (w, h)))
        if x1 <= x0 or y1 <= y0:
            return
        crop = frame[y0:y1, x0:x1].astype(np.float32)
        painted = paint_mouth_interior(crop.copy(), lm - (x0, y0), self._teeth, self._cavity, self._render_cfg)
        crop += min(strength, 1.0) * (painted - crop)
        frame[y0:y1, x0:x1] = np.clip(crop + 0.5, 0, 255).astype(np.uint8)


class WarpVideo:
    """The warp renderer's K + 1 clips of N frames over the whole photo, ``shape`` (K+1, N, H, W, 3) uint8, composed
    when read rather than held (at the 1024 px output cap they would take 0.65 GB): :meth:`frames` streams one clip
    (to an encoder), ``video[k]`` is clip k as an array, ``np.asarray(video)`` the whole array. Each clip has its own
    face region and field, for its distinct target shapes only (a default clip repeats its onset's shapes in the
    hold, the return and the tail), made when the clip is first read (in the thread that reads it), so a clip is
    the same whatever the other clips are (clip k is ``renderer.render(targets[k])``). The face blocks are rendered
    when first read, a few shapes at once (``cfg.chunk``), so that clips read by encoders in parallel threads render
    in parallel while they are encoded; each distinct shape's block is rendered once and kept while the kept blocks
    stay within ``cfg.cache_bytes`` (beyond that, rendered again when read). Every read gives the same bytes."""

    def __init__(self, renderer: WarpRenderer, targets: np.ndarray):
        clips = renderer._check(np.asarray(targets, np.float64).reshape(-1, 68, 2)).reshape(*np.shape(targets))
        clips = clips + renderer.lip_shift  # (K+1, N, 68, 2) the photo's closed lips closed in every frame
        self.renderer = renderer
        shapes, which, self._first, self._clip_of = [], [], [0], []  # _clip_of: the clip whose region renders u
        grids = []
        for k, clip in enumerate(clips):  # (N, 68, 2)
            first, w = distinct_rows(clip.reshape(len(clip), -1))  # (U_k,), (N,)
            which.append(w + self._first[-1])
            shapes.append(clip[first])
            self._first.append(self._first[-1] + len(first))  # each clip's first distinct shape, and the end
            self._clip_of += [k] * len(first)
            grids.append(renderer.grid(clip[first]))
        self.shapes = np.concatenate(shapes)  # (U, 68, 2) the distinct shapes, clip by clip
        self.which = np.stack(which)  # (K+1, N) each frame's shape
        self._kept: dict[int, np.ndarray] = {}
        self._kept_bytes = 0
        self.shape = (*self.which.shape, *renderer.photo.shape)
        self.dtype = np.dtype(np.uint8)
        self._spans = [renderer.block_span(g) for g in grids]
        block_bytes = [(rows.stop - rows.start) * (cols.stop - cols.start) * 3 for rows, cols in self._spans]
        total = sum(b * (self._first[k + 1] - self._first[k]) for k, b in enumerate(block_bytes))
        self._keep_all = total <= renderer.cfg.cache_bytes  # else each block is kept while the budget lasts
        self._clip_locks = [threading.Lock() for _ in grids]  # one clip's blocks are rendered once
        # each clip's region, field, R's part and eye meshes' vertices, made when the clip is first read (by its
        # encoder's thread)
        self._setups: dict[int, tuple[Region, torch.Tensor, BlockRefiner | None, list[EyeFrames],
                                      BlockShading | None]] = {}
        self._kept_lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    def block(self, u: int) -> np.ndarray:
        """The face block (bh, bw, 3) uint8 of distinct shape ``u`` (in its clip's region). When every block fits
        the cache, ``u`` is rendered with the next ``cfg.chunk - 1`` shapes of its clip (read next, in frame
        order)."""
        face = self._kept.get(u)
        if face is not None:
            return face
        k = self._clip_of[u]
        with self._clip_locks[k]:
            face = self._kept.get(u)
            if face is not None:  # rendered by another reader meanwhile
                return face
            end = min(u + self.renderer.cfg.chunk, self._first[k + 1]) if self._keep_all else u + 1
            i = u - self._first[k]
            region, coarse, refine, eyes, shade = self._setup(k)
            part = slice(i, i + end - u)
            faces = list(self.renderer.blocks(self.shapes[u:end], region, coarse[part], refine,
                                              [e.take(part) for e in eyes], shade))
            with self._kept_lock:
                for j, face in enumerate(faces):
                    if self._keep_all or self._kept_bytes + face.nbytes <= self.renderer.cfg.cache_bytes:
                        self._kept[u + j] = face
                        self._kept_bytes += face.nbytes
        return faces[0]

    def _setup(self, k: int) -> tuple[Region, torch.Tensor, BlockRefiner | None, list[EyeFrames], BlockShading | None]:
        """Clip ``k``'s face region, its field at its distinct shapes (U_k, ny, nx, 2), R's part, its eye meshes'
        vertices and its smile shading (with the clip's lock held)."""
        if k not in self._setups:
            shapes = self.shapes[self._first[k]:self._first[k + 1]]
            region = self.renderer.region(shapes)
            self._setups[k] = (region, self.renderer.field(shapes, region), self.renderer.block_refiner(region),
                               self.renderer.eye_frames(shapes, region), self.renderer.block_shading(region))
        return self._setups[k]

    def frame_of_shape(self, u: int) -> np.ndarray:
        """The whole frame (H, W, 3) uint8 showing distinct shape ``u``."""
        frame = self.renderer.photo.copy()
        rows, cols = self._spans[self._clip_of[u]]
        frame[rows, cols] = self.block(u)
        return frame

    def frames(self, sequence: int, indices: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Clip ``sequence``'s frames (all, or those at ``indices``), one (H, W, 3) uint8 at a time."""
        idx = np.arange(self.shape[1]) if indices is None else np.asarray(indices, dtype=int)
        return (self.frame_of_shape(int(u)) for u in self.which[sequence, idx])

    def __getitem__(self, sequence: int) -> np.ndarray:
        return np.stack(list(self.frames(sequence)))  # (N, H, W, 3)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[k] for k in range(len(self)))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.stack(list(self))  # (K+1, N, H, W, 3)
        return out if dtype is None else out.astype(dtype)
