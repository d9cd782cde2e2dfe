"""Rendering one frame: morph both photos to the frame's landmarks, blend per region, paint the parted mouth.

- Both photos (already in the same frame: the smiling one is similarity-aligned onto the neutral one) are warped
  piecewise-affinely to the frame's landmarks (68 points, two virtual cheek points, a ring of border points).
- They are blended per vertex: mouth and nostrils by the AU12 intensity, the cheeks by the stronger of AU12/AU6;
  eyes, brows, jaw line and border stay with the neutral photo (no doubled irises when the gaze differs, no
  ghosting of hair). Inside the inner lips the smiling photo wins outright (its teeth, never a half-transparent
  mix with stretched lip texture).
- The mouth-open style fills the parted inner lips with a mouth interior: a dark cavity, an upper-teeth band below
  the upper lip (shaded under the lip and towards the corners, faint gaps between teeth) and, for wide openings, a
  lower-teeth band; colours follow the photo's teeth if it shows any, else a default scaled to the face's light.
- Closed eyes: the upper-lid skin is stretched onto the lower lid by the warp; a soft lash line is drawn along it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...faces.align import border_points
from ...interpolate import pchip
from ..proxies import inter_ocular_distance, mouth_opening
from .morph import rasterize, sample_bilinear, triangulate
from .trajectories import opening_field

UPPER_INNER = [60, 61, 62, 63, 64]
LOWER_INNER = [60, 67, 66, 65, 64]
MOUTH_POINTS = np.arange(48, 68)
NOSTRILS = np.arange(31, 36)
MouthMode = Literal["natural", "closed", "open"]
# Boundaries between visible teeth, in inter-ocular distances from the midline (incisors, laterals, canines).
TOOTH_EDGES = (0.0, 0.125, 0.225, 0.31, 0.38)


@dataclass(frozen=True)
class RenderConfig:
    render_scale: int = 2  # frames are morphed at this multiple of the output size, then box-downsampled
    border_per_side: int = 4  # border points per side of the mesh ring
    nostril_weight: float = 0.6  # smiling-photo share at the nostrils, relative to AU12
    cheek_weight: float = 0.8  # smiling-photo share at the virtual cheek points, relative to max(AU12, AU6)
    teeth_rgb: tuple[int, int, int] = (226, 218, 200)  # default teeth colour under a reference light
    cavity_rgb: tuple[int, int, int] = (58, 20, 24)  # mouth interior
    reference_skin_luma: float = 165.0  # skin luminance the default colours are meant for
    tooth_height: float = 0.13  # visible upper-incisor height, inter-ocular distances
    lower_tooth_height: float = 0.05  # visible lower-incisor height
    teeth_width: float = 0.82  # teeth show over this fraction of the half mouth width
    lash_strength: float = 0.55  # darkness of the lash line of a fully closed eye
    triangulation_gap: float = 0.05  # lids/lips are opened at least this much (IOD) for the reference triangulation
    parted_lips: float = 0.03  # IOD: a smiling photo with a wider inner-lip gap shows teeth (see vertex_weights)
    closed_gap: float = 0.3  # px: closed lips/lids are rendered this far apart (a thin, valid triangle)
    triangulation_mouth_gap: float = 0.3  # and the mouth by this much (IOD), so no triangle spans the lips


def cheek_points(lm: np.ndarray) -> np.ndarray:
    """Two virtual cheek points ``(2, 2)``: centroids of lower lid, nostril wing, mouth corner and jaw point."""
    left = (lm[[40, 41]].mean(0) + lm[31] + lm[48] + lm[2]) / 4
    right = (lm[[46, 47]].mean(0) + lm[35] + lm[54] + lm[14]) / 4
    return np.stack([left, right])


def _opened(lm: np.ndarray, gap: float, mouth_gap: float) -> np.ndarray:
    """The shape used for the reference triangulation: mouth opened by ``mouth_gap`` px (so that upper and lower
    lip points connect to their own lip, never across the mouth) and every lid pair at least ``2 * gap`` apart."""
    out = np.array(lm, np.float64) + mouth_gap * opening_field(0.3)
    for u, d in FACING_PAIRS:
        mid = 0.5 * (out[u] + out[d])
        out[u] = [out[u][0], min(out[u][1], mid[1] - gap)]
        out[d] = [out[d][0], max(out[d][1], mid[1] + gap)]
    return out


FACING_PAIRS = ((61, 67), (62, 66), (63, 65), (37, 41), (38, 40), (43, 47), (44, 46))


def separate_pairs(lm: np.ndarray, eps: float) -> np.ndarray:
    """A copy of ``lm`` where every upper lip/lid point lies at least ``eps`` px above its facing lower point
    (measured down the face): closed lips and lids then give thin triangles instead of degenerate or folded ones."""
    out = np.array(lm, np.float64)
    rot = _rotation(out)
    down = rot[1]  # unit vector down the face, in image coordinates
    for u, d in FACING_PAIRS:
        gap = float((out[d] - out[u]) @ down)
        if gap < eps:  # (nearly) closed: put both on their midpoint, eps apart straight down the face
            mid = 0.5 * (out[u] + out[d])
            out[u] = mid - 0.5 * eps * down
            out[d] = mid + 0.5 * eps * down
    return out


def _rotation(lm: np.ndarray) -> np.ndarray:
    """2x2 rotation taking image axes to face axes (x along the eye line, y down the face)."""
    d = lm[42:48].mean(0) - lm[36:42].mean(0)
    c, s = d / max(np.hypot(*d), 1e-9)
    return np.array([[c, s], [-s, c]])


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _smooth_curve(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y of a smooth, shape-preserving (PCHIP) curve through ``points`` (n, 2) at ``x``; flat beyond the ends."""
    order = np.argsort(points[:, 0])
    px, py = points[order, 0], points[order, 1]
    keep = np.concatenate([[True], np.diff(px) > 1e-6])
    px, py = px[keep], py[keep]
    if len(px) < 2:
        return np.full_like(x, py[0] if len(py) else 0.0)
    return pchip(px, py, x.ravel()).reshape(x.shape)


def _mouth_coords(lm: np.ndarray, h: int, w: int, pad: int = 2):
    """Face-frame coordinates of the pixels around the inner lips: (slices, xr, yr, upper y, lower y, corners)."""
    inner = lm[60:68]
    x0, y0 = np.floor(inner.min(0)).astype(int) - pad
    x1, y1 = np.ceil(inner.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    rot = _rotation(lm)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    pr = np.stack([xs, ys], -1) @ rot.T  # (h', w', 2)
    up = lm[UPPER_INNER] @ rot.T
    lo = lm[LOWER_INNER] @ rot.T
    up_y = _smooth_curve(up, pr[..., 0])
    lo_y = np.maximum(_smooth_curve(lo, pr[..., 0]), up_y)
    corners = (min(up[0, 0], up[-1, 0]), max(up[0, 0], up[-1, 0]))
    return (slice(y0, y1), slice(x0, x1)), pr[..., 0], pr[..., 1], up_y, lo_y, corners


def inner_mouth_alpha(lm: np.ndarray, h: int, w: int) -> np.ndarray:
    """Anti-aliased coverage ``(h, w)`` of the area between the inner lips."""
    out = np.zeros((h, w), np.float32)
    mc = _mouth_coords(lm, h, w)
    if mc is None:
        return out
    (sy, sx), xr, yr, up_y, lo_y, (xl, xrr) = mc
    a = np.clip(yr - up_y + 0.5, 0, 1) * np.clip(lo_y - yr + 0.5, 0, 1)
    a *= np.clip(np.minimum(xr - xl, xrr - xr), 0, 1) * (lo_y > up_y)
    out[sy, sx] = a
    return out


def paint_mouth_interior(img: np.ndarray, lm: np.ndarray, teeth_rgb: np.ndarray, cavity_rgb: np.ndarray,
                         cfg: RenderConfig) -> np.ndarray:
    """Paint the cavity and teeth between the parted inner lips of ``img`` (h, w, 3) float32, in place."""
    h, w = img.shape[:2]
    mc = _mouth_coords(lm, h, w)
    if mc is None:
        return img
    (sy, sx), xr, yr, up_y, lo_y, (xl, xrr) = mc
    iod = float(inter_ocular_distance(lm))
    gap = lo_y - up_y
    alpha = np.clip(yr - up_y + 0.5, 0, 1) * np.clip(lo_y - yr + 0.5, 0, 1)
    alpha *= np.clip(np.minimum(xr - xl, xrr - xr), 0, 1) * (gap > 0)
    if not alpha.any():
        return img
    xc, half = 0.5 * (xl + xrr), max(0.5 * (xrr - xl), 1e-6)
    s = (xr - xc) / half  # -1 .. 1 corner to corner
    dy = yr - up_y  # depth below the upper inner lip (px)
    dz = lo_y - yr  # height above the lower inner lip (px)
    th = cfg.tooth_height * iod
    lth = cfg.lower_tooth_height * iod
    lateral = np.clip((cfg.teeth_width - np.abs(s)) / 0.15, 0, 1)  # teeth fade into the dark mouth corners
    shade = (1.0 - 0.45 * s**2)[..., None]
    # gaps between teeth: thin darker lines at the tooth edges
    gaps = np.zeros_like(s)
    for e in TOOTH_EDGES:
        for sign in (-1, 1) if e else (1,):
            gaps = np.maximum(gaps, np.exp(-(((xr - xc) - sign * e * iod) / 0.45) ** 2))
    tooth_tone = (1.0 - 0.22 * gaps)[..., None] * shade
    # upper teeth: from the upper lip down to the incisal edge, shadowed right under the lip
    th_arc = th * (1.0 - 0.35 * s**2)  # the incisal edges rise towards the corners (the smile arc)
    upper = np.clip(th_arc - dy + 0.5, 0, 1) * lateral
    lip_shadow = (0.7 + 0.3 * np.clip(dy / max(0.35 * th, 0.5), 0, 1))[..., None]
    upper_rgb = teeth_rgb * tooth_tone * lip_shadow
    # lower teeth: only where the opening is wider than the upper teeth
    lower = np.clip(lth - dz + 0.5, 0, 1) * lateral * np.clip((gap - th - 0.3 * lth) / 1.0, 0, 1) * 0.9
    lower_rgb = teeth_rgb * 0.82 * tooth_tone * (0.75 + 0.25 * np.clip(dz / max(0.5 * lth, 0.5), 0, 1))[..., None]
    depth = np.clip(dy / np.maximum(gap, 1e-3), 0, 1)[..., None]
    cavity = cavity_rgb * (0.7 + 0.5 * depth) * (0.75 + 0.25 * (1 - np.abs(s)))[..., None]
    rgb = cavity * (1 - upper[..., None]) + upper_rgb * upper[..., None]
    rgb = rgb * (1 - lower[..., None]) + lower_rgb * lower[..., None]
    region = img[sy, sx]
    img[sy, sx] = region * (1 - alpha[..., None]) + rgb * alpha[..., None]
    return img


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((px - a) @ ab) / max(ab @ ab, 1e-12), 0, 1)
    return np.linalg.norm(px - (a + t[..., None] * ab), axis=-1)


def paint_lash_lines(img: np.ndarray, lm: np.ndarray, closure: float, lash_rgb: np.ndarray,
                     cfg: RenderConfig) -> np.ndarray:
    """Darken a soft line along the (closed) upper lids of both eyes, in place; strength grows with closure."""
    if closure <= 0.05:
        return img
    h, w = img.shape[:2]
    iod = float(inter_ocular_distance(lm))
    sigma = max(0.02 * iod, 0.5)
    for eye in ([36, 37, 38, 39], [42, 43, 44, 45]):
        pts = lm[eye].astype(np.float64)
        x0, y0 = np.floor(pts.min(0) - 3 * sigma).astype(int)
        x1, y1 = np.ceil(pts.max(0) + 3 * sigma).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        px = np.stack([xs, ys], -1)
        d = np.min([_segment_distance(px, pts[i], pts[i + 1]) for i in range(3)], axis=0)
        # thinner towards the corners: scale the line by the distance to the eye's ends along the lid
        a = cfg.lash_strength * closure**2 * np.exp(-((d / sigma) ** 2))
        region = img[y0:y1, x0:x1]
        img[y0:y1, x0:x1] = region * (1 - a[..., None]) + lash_rgb * a[..., None]
    return img


def skin_patch(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The pixels (N, 3) float64 of the cheeks/nose box of ``image`` (h, w, 3) with landmarks ``lm`` (68, 2)."""
    box = np.concatenate([lm[[31, 35, 48, 54]], cheek_points(lm)])
    (x0, y0), (x1, y1) = np.floor(box.min(0)).astype(int), np.ceil(box.max(0)).astype(int)
    return image[max(y0, 0) : max(y1, 1), max(x0, 0) : max(x1, 1)].reshape(-1, 3).astype(np.float64)


LIGHT_LIMITS = (0.55, 1.2)  # the painted mouth's light, relative to the reference face's, stays within these


def skin_light(image: np.ndarray, lm: np.ndarray, cfg: RenderConfig) -> tuple[float, float]:
    """``(skin luminance, light)``: the median luminance of the cheeks/nose area of ``image`` (h, w, 3) with landmarks
    ``lm`` (68, 2), and the face's light it gives (over ``cfg.reference_skin_luma``, within :data:`LIGHT_LIMITS`)."""
    patch = skin_patch(image, lm)
    skin = float(np.median(_luma(patch))) if len(patch) else cfg.reference_skin_luma
    return skin, float(np.clip(skin / cfg.reference_skin_luma, *LIGHT_LIMITS))


def mouth_colours_at(light: float, cfg: RenderConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(teeth RGB, cavity RGB)``: the default mouth colours scaled to a face's ``light``."""
    return np.array(cfg.teeth_rgb, np.float64) * light, np.array(cfg.cavity_rgb, np.float64) * light


def default_mouth_colours(image: np.ndarray, lm: np.ndarray, cfg: RenderConfig) -> tuple[float, np.ndarray, np.ndarray]:
    """``(skin luminance, teeth RGB, cavity RGB)``: the default mouth colours scaled to the face's light
    (:func:`skin_light`, :func:`mouth_colours_at`)."""
    skin, light = skin_light(image, lm, cfg)
    return skin, *mouth_colours_at(light, cfg)


class MorphRenderer:
    """Renders frames of one person in one frame geometry (the aligned crop, or the original photo)."""

    def __init__(self, neutral_img: np.ndarray, smile_img: np.ndarray, neutral_pts: np.ndarray,
                 smile_pts: np.ndarray, config: RenderConfig | None = None):
        self.cfg = config or RenderConfig()
        self.h, self.w = neutral_img.shape[:2]
        self.neutral = np.asarray(neutral_img)
        self.smile = np.asarray(smile_img)
        self.border = border_points(self.h, self.w, self.cfg.border_per_side)
        neutral_pts = np.asarray(neutral_pts, np.float64)
        smile_pts = np.asarray(smile_pts, np.float64)
        iod = float(inter_ocular_distance(neutral_pts))
        self.triangles = triangulate(self.points(_opened(neutral_pts, self.cfg.triangulation_gap * iod,
                                                          self.cfg.triangulation_mouth_gap * iod)))
        self.src_neutral = self.points(neutral_pts)
        self.src_smile = self.points(smile_pts)
        self.teeth_rgb, self.cavity_rgb, self.lash_rgb = self._colours(neutral_pts, smile_pts, iod)
        self.smile_lips_parted = float(mouth_opening(smile_pts)) > self.cfg.parted_lips

    def points(self, lm: np.ndarray) -> np.ndarray:
        """Mesh vertices: 68 landmarks, 2 virtual cheek points, the border ring; ``(70 + B, 2)``."""
        return np.concatenate([lm, cheek_points(lm), self.border])

    def vertex_weights(self, w12: float, w6: float, mouth: MouthMode = "natural") -> np.ndarray:
        """Per-vertex share of the smiling photo. Where the smiling photo's lips are parted (teeth between them)
        and the frame's mouth is not its natural one, the lips come from the neutral photo: dlib's inner-lip
        contour often lies on the teeth, and squeezing that band shut would leave teeth specks on the lips."""
        v = np.zeros(len(self.src_neutral), np.float32)
        w12, w6 = float(np.clip(w12, 0, 1)), float(np.clip(w6, 0, 1))
        if mouth == "natural" or not self.smile_lips_parted:
            v[MOUTH_POINTS] = w12
        v[NOSTRILS] = self.cfg.nostril_weight * w12
        v[68:70] = self.cfg.cheek_weight * max(w12, w6)
        return v

    def _colours(self, neutral_pts, smile_pts, iod):
        cfg = self.cfg
        skin, teeth, cavity = default_mouth_colours(self.neutral, neutral_pts, cfg)
        # the smiling photo's own teeth, where it shows some
        alpha = inner_mouth_alpha(smile_pts, self.h, self.w)
        inside = self.smile[alpha > 0.9].astype(np.float64)
        if len(inside) >= 12:
            lum = _luma(inside)
            bright = inside[lum >= np.quantile(lum, 0.7)]
            sat = bright.max(1) - bright.min(1)
            if len(bright) and float(np.median(_luma(bright))) > 0.9 * skin and float(np.median(sat)) < 60:
                teeth = np.median(bright, axis=0)
        eye = np.concatenate([neutral_pts[36:42], neutral_pts[42:48]])
        (x0, y0), (x1, y1) = np.floor(eye.min(0)).astype(int), np.ceil(eye.max(0)).astype(int)
        lid = self.neutral[max(y0, 0) : max(y1, 1), max(x0, 0) : max(x1, 1)].reshape(-1, 3).astype(np.float64)
        lash = np.quantile(lid, 0.1, axis=0) if len(lid) else np.array([40.0, 30.0, 30.0])
        return teeth.astype(np.float32), cavity.astype(np.float32), lash.astype(np.float32)

    def render(self, landmarks: np.ndarray, w12: float, w6: float, eye_closure: float = 0.0,
               mouth: MouthMode = "natural") -> np.ndarray:
        """One frame ``(h, w, 3)`` uint8 with the face at ``landmarks`` (68, 2) in this frame's pixels.

        ``mouth``: "natural" (the smiling photo's own mouth, teeth included), "closed" (lips together) or "open"
        (parted lips filled with a painted mouth interior)."""
        lm = np.asarray(landmarks, np.float64)
        raster = rasterize(self.points(separate_pairs(lm, self.cfg.closed_gap)), self.triangles, self.h, self.w)
        vw = self.vertex_weights(w12, w6, mouth)
        vals = np.concatenate([self.src_neutral, self.src_smile, vw[:, None]], 1).astype(np.float32)  # (P, 5)
        m = raster.interpolate(vals)  # (h, w, 5): neutral x, y, smile x, y, blend weight
        img = sample_bilinear(self.neutral, m[..., 0], m[..., 1])  # (h, w, 3) float32
        wmap = m[..., 4]
        if mouth == "natural" and w12 > 0.05:
            wmap = np.maximum(wmap, inner_mouth_alpha(lm, self.h, self.w))
        sel = wmap > 1e-3
        if sel.any():
            smile = sample_bilinear(self.smile, m[..., 2][sel], m[..., 3][sel])  # (n, 3)
            img[sel] += wmap[sel][:, None] * (smile - img[sel])
        if mouth == "open":
            paint_mouth_interior(img, lm, self.teeth_rgb, self.cavity_rgb, self.cfg)
        if eye_closure > 0:
            paint_lash_lines(img, lm, eye_closure, self.lash_rgb, self.cfg)
        return np.clip(img + 0.5, 0, 255).astype(np.uint8)
