"""Face alignment as in paper §4.1: eyes horizontal, the face centred on the vertical line through the eye centre
(and the mouth), a fixed scale. Output size is configurable (64 by default; 128 and 256 allowed).

Coordinates: a point (x, y) is in pixels with pixel centres at integers (dlib's convention). ``M`` is a 2x3
similarity transform mapping image pixels to aligned pixels; :func:`invert_transform` maps back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

Prefilter = Literal["lanczos", "box"]  # warp_image's anti-aliasing before a strong downscale

LEFT_EYE = slice(36, 42)  # the eye on the image's left (the subject's right eye)
RIGHT_EYE = slice(42, 48)
MOUTH = slice(48, 68)


@dataclass(frozen=True)
class AlignConfig:
    size: int = 64  # output side in pixels (64 as in the paper; 128, 256 allowed)
    # Distance between the eye centres as a fraction of the side. 0.30 keeps the whole face (brows to chin, jaw
    # line) inside the crop with a small margin for the smile's jaw drop. See docs/faces.md.
    eye_distance: float = 0.30
    eye_y: float = 0.38  # vertical position of the eye centre as a fraction of the side


@dataclass(frozen=True)
class AlignedFace:
    image: np.ndarray  # (S, S, 3) uint8
    landmarks: np.ndarray  # (68, 2) float32 in aligned pixels
    transform: np.ndarray  # (2, 3) float64, image pixels -> aligned pixels


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (mean of each eye's 6 landmarks) of the image-left and image-right eye, each (..., 2)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return lm[..., LEFT_EYE, :].mean(-2), lm[..., RIGHT_EYE, :].mean(-2)


def border_points(h: int, w: int, per_side: int = 4, margin: float = 0.5) -> np.ndarray:
    """Points on a rectangle ``margin`` times the frame size outside an (h, w) frame, ``(4 * per_side, 2)``: fixed
    anchors that keep the background still when a face is warped (FRL-Smile's morph mesh, G's TPS warp). Far
    enough outside that a dropping jaw never crosses them."""
    x0, x1 = -margin * w, (w - 1) + margin * w
    y0, y1 = -margin * h, (h - 1) + margin * h
    t = np.linspace(0.0, 1.0, per_side + 1)[:-1]
    top = np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1)
    right = np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1)
    bottom = np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1)
    left = np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float64)


def estimate_alignment(landmarks: np.ndarray, config: AlignConfig | None = None) -> np.ndarray:
    """The (2, 3) similarity transform that puts the eyes horizontal at a fixed distance and position."""
    cfg = config or AlignConfig()
    left, right = eye_centres(landmarks)
    d = right - left
    dist = float(np.hypot(*d))
    if not np.isfinite(dist) or dist < 1e-6:
        raise ValueError("degenerate landmarks: eye centres coincide")
    scale = cfg.eye_distance * cfg.size / dist
    cos, sin = d / dist  # rotate by -angle so that the eye line becomes horizontal
    a = np.array([[cos, sin], [-sin, cos]]) * scale
    centre = (left + right) / 2
    target = np.array([(cfg.size - 1) / 2, cfg.eye_y * cfg.size])
    return np.hstack([a, (target - a @ centre)[:, None]])


def between_alignments(src: AlignConfig, dst: AlignConfig) -> np.ndarray:
    """The (2, 3) transform from ``src``-aligned pixels to ``dst``-aligned pixels of the same photo,
    ``M_dst o M_src^-1``: both alignments rotate the eye line alike, so it is a scale about the eye centre
    (``dst`` / ``src`` eye distance in pixels) and a shift, whatever the photo."""
    k = (dst.eye_distance * dst.size) / (src.eye_distance * src.size)
    t_src = np.array([(src.size - 1) / 2, src.eye_y * src.size])
    t_dst = np.array([(dst.size - 1) / 2, dst.eye_y * dst.size])
    return np.hstack([np.eye(2) * k, (t_dst - k * t_src)[:, None]])


def compose_transforms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (2, 3) affine map x -> a(b(x)) of two (2, 3) affine maps."""
    return np.hstack([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]])


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine transform to (..., 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def invert_transform(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine transform."""
    a_inv = np.linalg.inv(m[:, :2])
    return np.hstack([a_inv, (-a_inv @ m[:, 2])[:, None]])


def warp_image(image: np.ndarray, m: np.ndarray, size: int | tuple[int, int], fill: int = 0,
               prefilter: Prefilter = "lanczos") -> np.ndarray:
    """Warp (H, W, C) uint8 ``image`` by ``m`` (image px -> output px) into an output of ``size`` (w, h).

    Strong downscaling is anti-aliased: the image is first resized to about twice the output scale, with
    ``prefilter`` (Lanczos; "box", an area average, is 4x faster, for frames that are only looked at).
    """
    out_w, out_h = (size, size) if isinstance(size, int) else size
    m = np.asarray(m, dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    img = Image.fromarray(np.ascontiguousarray(image))
    if scale < 0.5:
        k = 2.0 * scale
        w, h = img.size
        nw, nh = max(1, round(w * k)), max(1, round(h * k))
        img = img.resize((nw, nh), Image.Resampling.LANCZOS if prefilter == "lanczos" else Image.Resampling.BOX)
        # pixel centres: x_small = (x + 0.5) * nw / w - 0.5
        pre = np.array([[nw / w, 0, 0.5 * nw / w - 0.5], [0, nh / h, 0.5 * nh / h - 0.5]])
        a_pre = m[:, :2] @ np.linalg.inv(pre[:, :2])  # small px -> output px
        m = np.hstack([a_pre, (m[:, 2] - a_pre @ pre[:, 2])[:, None]])
    inv = invert_transform(m)
    # PIL samples output pixel centres (x + 0.5) in continuous coordinates (pixel i spans [i, i + 1)).
    # Our points have centres at integers, so conjugate by a half-pixel shift.
    a, t = inv[:, :2], inv[:, 2]
    t_cont = t + 0.5 - a @ np.array([0.5, 0.5])
    coeffs = (a[0, 0], a[0, 1], t_cont[0], a[1, 0], a[1, 1], t_cont[1])
    fillcolor = (fill,) * len(img.getbands()) if len(img.getbands()) > 1 else fill
    out = img.transform((out_w, out_h), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC,
                        fillcolor=fillcolor)
    return np.asarray(out)


def align_frames(frames: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Frames ``(T, H, W, C)`` uint8 of one photo, each warped by ``m`` (photo px -> output px) into
    ``(T, size, size, C)``: :func:`warp_image`, on the part of the frames the output sees (plus a margin for the
    filters), so that the cost follows the face, not the photo. The frames of generated videos are for viewing
    (sheets, crops, the aligned faces beside the video), so the downscaling prefilter is the box."""
    m = np.asarray(m, dtype=np.float64)
    h, w = frames.shape[1:3]
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    margin = int(np.ceil(4.0 / min(scale, 1.0))) + 2
    square = np.array([[-1.0, -1.0], [size, -1.0], [-1.0, size], [size, size]])
    corners = transform_points(square, invert_transform(m))
    x0, y0 = (int(np.clip(np.floor(v) - margin, 0, lim)) for v, lim in zip(corners.min(0), (w, h)))
    x1, y1 = (int(np.clip(np.ceil(v) + margin + 1, 0, lim)) for v, lim in zip(corners.max(0), (w, h)))
    if x1 <= x0 or y1 <= y0:  # the output sees none of the photo
        x0, y0, x1, y1 = 0, 0, w, h
    shifted = np.hstack([m[:, :2], (m[:, 2] + m[:, :2] @ np.array([x0, y0], np.float64))[:, None]])
    return np.stack([warp_image(f[y0:y1, x0:x1], shifted, size, prefilter="box") for f in frames])


def align_face(image: np.ndarray, landmarks: np.ndarray, config: AlignConfig | None = None) -> AlignedFace:
    """Aligned face crop, its landmarks and the transform."""
    cfg = config or AlignConfig()
    m = estimate_alignment(landmarks, cfg)
    face = warp_image(image, m, cfg.size)
    return AlignedFace(face, transform_points(landmarks, m).astype(np.float32), m)
