"""Closed lips that dlib's points part: the photo's pixels decide whether a gap between the inner lips is real.

dlib often puts the inner-lip points of full, closed lips inside the lips (the upper ones on the upper lip, the
lower ones on the lower lip): 3 of FRL-London's 80 neutral photos (025, 070, 126) have a landmark gap of 0.06-0.17
IOD with the lips closed. Taken as parted lips, the warp then moves that lip skin as if it were the mouth's inside:
a smile stretches the lower lip into a pout and no teeth are painted. Here the gap is checked against the photo:
where the pixels between the inner lips are lip-coloured (redder than the lips' own median by at least a share,
not darker than half their luma: neither a dark cavity nor teeth), the lips are closed, and each facing pair of
inner-lip points is moved onto the crease between them (the darkest line from the upper point to the lower one).
On FRL-London the pixels between parted points are lip-coloured for >= 99 % of the gap in the closed cases and
for <= 72 % where a mouth interior shows (47 smiling photos with a landmark gap over 0.03 IOD).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ..data.proxies import INNER_LIP_PAIRS, mouth_opening
from .field import face_axes
from .refine import LUMA

LIP_RED_SHARE = 0.6  # a gap pixel is lip-coloured when its redness is at least this share of the lips' median
LIP_LUMA_SHARE = 0.5  # and its luma at least this share of theirs (a mouth's cavity is darker)
MIN_LIP_RED = 0.05  # lips redder than this ((R - G) / luma, median) can be told from teeth and cavity by colour
MOUTH_MARGIN = 3  # px around the lips' box that the checks read


def polygon_mask(shape: tuple[int, int], *polygons: np.ndarray) -> np.ndarray:
    """(h, w) bool: the pixels inside any of ``polygons`` (each (n, 2), pixels of an image of ``shape``)."""
    img = Image.new("1", (shape[1], shape[0]), 0)
    for points in polygons:
        ImageDraw.Draw(img).polygon([(float(x), float(y)) for x, y in points], fill=1)
    return np.asarray(img, bool)


def crop_around(photo: np.ndarray, points: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The photo's pixels within ``margin`` px of the box of ``points`` (n, 2), as float32 (h, w, 3), and the crop's
    corner (x0, y0); None if the box misses the photo."""
    h, w = photo.shape[:2]
    x0, y0 = np.clip(np.floor(points.min(0)).astype(int) - margin, 0, None)
    x1, y1 = np.minimum(np.ceil(points.max(0)).astype(int) + margin + 1, (w, h))
    if x1 <= x0 or y1 <= y0:
        return None
    return photo[y0:y1, x0:x1].astype(np.float32), np.array([x0, y0], np.float64)


def _lip_share(crop: np.ndarray, luma: np.ndarray, lm: np.ndarray) -> float | None:
    """:func:`lip_coloured_share` on a float32 crop (h, w, 3) and its luma (h, w), ``lm`` (68, 2) in its pixels."""
    inner = polygon_mask(crop.shape[:2], lm[60:68])
    lips = polygon_mask(crop.shape[:2], lm[48:60]) & ~inner
    if not inner.any() or not lips.any():
        return None
    red = (crop[..., 0] - crop[..., 1]) / np.maximum(luma, 1.0)
    lip_red, lip_luma = float(np.median(red[lips])), float(np.median(luma[lips]))
    if lip_red < MIN_LIP_RED:
        return None
    lip_like = (red[inner] >= LIP_RED_SHARE * lip_red) & (luma[inner] >= LIP_LUMA_SHARE * lip_luma)
    return float(lip_like.mean())


def lip_coloured_share(photo: np.ndarray, landmarks: np.ndarray) -> float | None:
    """The share of the pixels between the inner lips of ``landmarks`` (68, 2) that are lip-coloured (module
    docstring), or None when the photo cannot tell: no pixel in the gap, or lips too grey to tell by colour."""
    lm = np.asarray(landmarks, np.float64)
    mouth = crop_around(photo, lm[48:68], MOUTH_MARGIN)
    return None if mouth is None else _lip_share(mouth[0], mouth[0] @ LUMA, lm - mouth[1])


def _crease(luma: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """Where the lips meet between the inner lips' facing points ``upper`` and ``lower`` (P, 2): the fraction t of
    the way from each upper point to its lower one along which the pairs' luma (averaged over 5 px across) is
    darkest, one t for all pairs so that the closed lips' line stays as smooth as the points."""
    n = max(3, int(np.ceil(np.linalg.norm(lower - upper, axis=-1).max())) + 1)
    t = np.linspace(0.0, 1.0, n)  # (n,)
    pts = upper[:, None] + t[None, :, None] * (lower - upper)[:, None]  # (P, n, 2)
    h, w = luma.shape
    xs = np.clip(np.rint(pts[..., 0, None] + np.arange(-2, 3)).astype(int), 0, w - 1)  # (P, n, 5) across
    ys = np.clip(np.rint(pts[..., 1]).astype(int), 0, h - 1)[..., None]  # (P, n, 1)
    return float(t[int(np.argmin(luma[ys, xs].mean((0, 2))))])


def closed_lip_shift(photo: np.ndarray, landmarks: np.ndarray, parted_lips: float, share: float) -> np.ndarray:
    """(68, 2) offsets for ``landmarks`` (photo px) of ``photo`` (H, W, 3) uint8: zero unless the inner lips are at
    least ``parted_lips`` IOD apart, each lower point below its upper one, while at least ``share`` of the pixels
    between them are lip-coloured; then each facing pair of inner-lip points (61-67, 62-66, 63-65) moves onto the
    line where the lips meet. Lower points above the upper ones (dlib lost the mouth, e.g. in a beard) are left
    alone."""
    lm = np.asarray(landmarks, np.float64)
    shift = np.zeros_like(lm)
    if float(mouth_opening(lm)) < parted_lips:
        return shift
    upper, lower = (lm[[pair[i] for pair in INNER_LIP_PAIRS]] for i in (0, 1))  # (3, 2) each
    if not ((lower - upper) @ face_axes(lm)[1] > 0).all():  # each lower point below its upper one
        return shift
    mouth = crop_around(photo, lm[48:68], MOUTH_MARGIN)
    if mouth is None:
        return shift
    crop, corner = mouth
    luma = crop @ LUMA  # (h, w)
    lip_share = _lip_share(crop, luma, lm - corner)
    if lip_share is None or lip_share < share:
        return shift
    t = _crease(luma, upper - corner, lower - corner)
    meet = upper + t * (lower - upper)  # (3, 2)
    for i, (u, d) in enumerate(INNER_LIP_PAIRS):
        shift[u], shift[d] = meet[i] - lm[u], meet[i] - lm[d]
    return shift
