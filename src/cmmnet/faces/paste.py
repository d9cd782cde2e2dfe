"""Paste generated aligned faces back into the original photo (``cmmnet generate --paste``).

The generator works on 64x64 aligned crops (§4.1). To give a user a video of their own photo, each generated
frame is mapped back through the inverse of the alignment transform and blended into the photo inside a feathered
mask around the face (the convex hull of the 68 landmarks of all frames, grown a little and Gaussian-blurred).

Two blends (``PasteConfig.mode``):

- ``delta`` (default): ``photo + mask * (up(w_t) - up(w_ref))``, where ``w_ref`` is the generator's own rendering
  of the neutral face. Only what the smile *changes* is added, so the photo keeps its full-resolution detail
  wherever nothing moves, and the generator's blur and colour bias cancel out.
- ``replace``: ``(1 - mask) * photo + mask * up(w_t)``, the plain feathered composite (a 64x64 face upscaled).

Only the face's bounding region is warped and blended, so the cost grows with the face, not the photo.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from ..limits import MAX_PASTE_SIDE
from .align import compose_transforms, invert_transform, transform_points, warp_image


@dataclass(frozen=True)
class PasteConfig:
    mode: Literal["delta", "replace"] = "delta"
    grow: float = 0.06  # the landmark hull is scaled about its centre by 1 + grow
    feather: float = 0.06  # Gaussian sigma of the mask edge, as a fraction of the hull's larger side
    # Longer side of the pasted video (the photo is downscaled first when larger); 0 keeps the photo's size (`cmmnet
    # generate --paste`: at most MAX_PASTE_SIDE either way, which bounds its memory).
    max_side: int = MAX_PASTE_SIDE


def resize_for_paste(photo: np.ndarray, transform: np.ndarray, cfg: PasteConfig) -> tuple[np.ndarray, np.ndarray]:
    """Downscale ``photo`` to ``cfg.max_side`` (if larger) and adapt the (2, 3) image -> aligned ``transform``."""
    h, w = photo.shape[:2]
    if cfg.max_side <= 0 or max(h, w) <= cfg.max_side:
        return photo, np.asarray(transform, dtype=np.float64)
    k = cfg.max_side / max(h, w)
    nw, nh = max(2, round(w * k)), max(2, round(h * k))
    small = np.asarray(Image.fromarray(photo).resize((nw, nh), Image.Resampling.LANCZOS))
    # small pixel (u, v) <- original pixel ((u + 0.5) / k' - 0.5); compose with the original transform
    kx, ky = nw / w, nh / h
    to_orig = np.array([[1 / kx, 0, 0.5 / kx - 0.5], [0, 1 / ky, 0.5 / ky - 0.5]])
    return small, compose_transforms(np.asarray(transform, dtype=np.float64), to_orig)


def face_mask(points: np.ndarray, shape: tuple[int, int], cfg: PasteConfig) -> tuple[np.ndarray, tuple[int, ...]]:
    """Feathered mask of the face region. ``points`` (..., 2) in image pixels (all frames' landmarks).

    Returns ``(mask, box)``: ``mask`` (h, w) float32 in [0, 1] covering ``box = (x0, y0, x1, y1)`` of the image.
    """
    from scipy.ndimage import gaussian_filter  # imported on use: `cmmnet generate` without --paste never loads scipy
    from scipy.spatial import ConvexHull

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    hull = pts[ConvexHull(pts).vertices]
    centre = hull.mean(0)
    hull = centre + (hull - centre) * (1.0 + cfg.grow)
    side = float(np.max(hull.max(0) - hull.min(0)))
    sigma = max(0.5, cfg.feather * side)
    margin = int(np.ceil(3 * sigma)) + 2
    h, w = shape
    x0, y0 = (int(max(0, np.floor(v) - margin)) for v in hull.min(0))
    x1, y1 = (int(min(lim, np.ceil(v) + margin + 1)) for v, lim in zip(hull.max(0), (w, h)))
    img = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    ImageDraw.Draw(img).polygon([(float(x - x0), float(y - y0)) for x, y in hull], fill=255)
    mask = gaussian_filter(np.asarray(img, dtype=np.float32) / 255.0, sigma)  # (h, w)
    return mask, (x0, y0, x1, y1)


def paste_frames(photo: np.ndarray, frames: np.ndarray, transform: np.ndarray, landmarks: np.ndarray,
                 reference: np.ndarray | None = None, cfg: PasteConfig | None = None) -> np.ndarray:
    """Blend generated aligned ``frames`` (T, S, S, 3) uint8 into ``photo`` (H, W, 3) uint8.

    ``transform``: (2, 3) image pixels -> aligned pixels (``AlignedFace.transform``); ``landmarks``: (..., 68, 2)
    aligned landmarks of the frames (the mask covers all of them); ``reference``: (S, S, 3) uint8, the generator's
    rendering of the neutral face (needed by ``delta``). Returns (T, H', W', 3) uint8 (H', W' after ``max_side``).
    """
    return np.stack(list(iter_pasted(photo, frames, transform, landmarks, reference, cfg)))


def iter_pasted(photo: np.ndarray, frames: np.ndarray, transform: np.ndarray, landmarks: np.ndarray,
                reference: np.ndarray | None = None, cfg: PasteConfig | None = None) -> Iterator[np.ndarray]:
    """:func:`paste_frames` one frame at a time, (H', W', 3) uint8 each (memory: one photo, not T)."""
    cfg = cfg or PasteConfig()
    photo, m = resize_for_paste(np.asarray(photo), transform, cfg)
    inv = invert_transform(m)  # aligned -> image pixels
    mask, (x0, y0, x1, y1) = face_mask(transform_points(landmarks, inv), photo.shape[:2], cfg)
    crop_from_aligned = inv.copy()
    crop_from_aligned[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    s = frames.shape[1]
    valid = warp_image(np.full((s, s), 255, np.uint8), crop_from_aligned, size).astype(np.float32) / 255.0
    alpha = (mask * valid)[..., None]  # (h, w, 1)
    base = photo[y0:y1, x0:x1].astype(np.float32)  # (h, w, 3)
    if cfg.mode == "delta":
        if reference is None:
            raise ValueError("paste mode 'delta' needs the reference (generated neutral) face")
        ref = warp_image(reference, crop_from_aligned, size).astype(np.float32)
    for frame in frames:
        up = warp_image(frame, crop_from_aligned, size).astype(np.float32)  # (h, w, 3)
        blended = base + alpha * (up - ref) if cfg.mode == "delta" else base + alpha * (up - base)
        out = photo.copy()  # (H, W, 3)
        out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        yield out
