"""The binary landmark image of paper §4.1 (64x64, binary) and a landmark overlay for people to look at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from ..errors import ConfigError

# iBUG 68-point groups: (first, last inclusive, closed contour)
CONTOURS: tuple[tuple[int, int, bool], ...] = (
    (0, 16, False),  # jaw line
    (17, 21, False),  # brow (image left)
    (22, 26, False),  # brow (image right)
    (27, 30, False),  # nose bridge
    (31, 35, False),  # nostrils
    (36, 41, True),  # eye (image left)
    (42, 47, True),  # eye (image right)
    (48, 59, True),  # outer lips
    (60, 67, True),  # inner lips
)


@dataclass(frozen=True)
class LandmarkDrawConfig:
    # "lines": the 68 points joined along the iBUG contours (jaw, brows, nose, eyes, lips), one pixel wide by
    # default; the contours make eye closure and lip parting visible as shapes and give the VAE a denser target
    # than isolated dots. "dots": each point as a square of `thickness` pixels. See docs/faces.md.
    style: Literal["lines", "dots"] = "lines"
    thickness: int = 1
    # "binary": the paper's image, each line through whole pixels. "antialiased" (only `landmark_images`): each
    # pixel's value falls linearly with its centre's distance d to the nearest contour, clip(t / 2 + 1 / 2 - d, 0, 1)
    # for thickness t, so the grey levels keep where a line lies within its pixel (a binary 64 px drawing alone
    # moves each point by 0.025 IOD, RMS, to its pixel's centre). Lines only. See docs/faces.md.
    raster: Literal["binary", "antialiased"] = "binary"

    def __post_init__(self) -> None:
        if self.raster != "binary" and self.style != "lines":
            raise ConfigError(f"draw.raster={self.raster!r} draws lines; set draw.style=\"lines\" or draw.raster="
                              "\"binary\"")


def draw_landmarks(landmarks: np.ndarray, size: int, config: LandmarkDrawConfig | None = None) -> np.ndarray:
    """(size, size) uint8 image in {0, 1} of (68, 2) landmarks given in that image's pixels (the binary raster only;
    :func:`landmark_images` draws either)."""
    cfg = config or LandmarkDrawConfig()
    if cfg.raster != "binary":
        raise ValueError(f"draw_landmarks draws binary images, not {cfg.raster!r} ones: use landmark_images")
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    pts = [(float(x), float(y)) for x, y in np.asarray(landmarks, dtype=np.float64)]
    if cfg.style == "lines":
        for first, last, closed in CONTOURS:
            seq = pts[first : last + 1] + ([pts[first]] if closed else [])
            draw.line(seq, fill=1, width=cfg.thickness)
    else:
        r = (cfg.thickness - 1) / 2
        for x, y in pts:
            draw.rectangle([round(x - r), round(y - r), round(x + r), round(y + r)], fill=1)
    return np.asarray(img, dtype=np.uint8)


def _segments() -> np.ndarray:
    """(E, 2) point indices of every drawn contour segment."""
    pairs = []
    for first, last, closed in CONTOURS:
        idx = list(range(first, last + 1)) + ([first] if closed else [])
        pairs += list(zip(idx[:-1], idx[1:]))
    return np.asarray(pairs)


SEGMENTS = _segments()


def landmark_images(landmarks: np.ndarray, size: int, config: LandmarkDrawConfig | None = None,
                    chunk: int = 16) -> np.ndarray:
    """(N, size, size) float32 images in [0, 1] of (N, 68, 2) landmarks: as :func:`draw_landmarks` for the
    ``binary`` raster, or anti-aliased lines (``config.raster``), the value of a pixel with centre c being
    ``clip(thickness / 2 + 1 / 2 - d(c), 0, 1)`` for its distance d to the nearest contour segment."""
    cfg = config or LandmarkDrawConfig()
    pts = np.asarray(landmarks, dtype=np.float32).reshape(-1, 68, 2)  # (N, 68, 2)
    if cfg.raster == "binary":
        return np.stack([draw_landmarks(p, size, cfg) for p in pts]).astype(np.float32)  # (N, S, S)
    centre = np.arange(size, dtype=np.float32) + 0.5  # pixel j's centre (draw_landmarks' convention)
    reach = cfg.thickness / 2 + 0.5  # pixels farther than this from every segment stay 0
    out = np.zeros((len(pts), size, size), np.float32)
    for i in range(0, len(pts), chunk):
        p = pts[i:i + chunk]  # (n, 68, 2)
        lo = np.clip(np.floor(p.min((0, 1)) - reach).astype(int), 0, size)  # (2,) x, y: the window with ink
        hi = np.clip(np.ceil(p.max((0, 1)) + reach).astype(int), 0, size)
        if (hi <= lo).any():
            continue
        w = hi[0] - lo[0]
        px = np.tile(centre[lo[0]:hi[0]], hi[1] - lo[1])[None, :, None]  # (1, P, 1) x of each window pixel
        py = np.repeat(centre[lo[1]:hi[1]], w)[None, :, None]  # (1, P, 1) y
        a, b = p[:, SEGMENTS[:, 0]], p[:, SEGMENTS[:, 1]]  # (n, E, 2) each
        ab = (b - a)[:, None]  # (n, 1, E, 2)
        length2 = np.maximum((ab * ab).sum(-1), 1e-12)  # (n, 1, E)
        dx, dy = px - a[:, None, :, 0], py - a[:, None, :, 1]  # (n, P, E) each: pixel - segment start
        u = dx * ab[..., 0]
        u += dy * ab[..., 1]
        u /= length2
        np.clip(u, 0.0, 1.0, out=u)  # the segment's point nearest to the pixel, as a fraction of its length
        dx -= u * ab[..., 0]
        dy -= u * ab[..., 1]
        dx *= dx
        dy *= dy
        dx += dy
        d = np.sqrt(dx.min(-1))  # (n, P) distance to the nearest segment
        out[i:i + chunk, lo[1]:hi[1], lo[0]:hi[0]] = np.clip(reach - d, 0.0, 1.0).reshape(len(p), -1, w)
    return out


def draw_overlay(image: np.ndarray, landmarks: np.ndarray, box=None) -> np.ndarray:
    """A copy of ``image`` with the landmarks (and box) drawn, for people to check detections."""
    img = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    draw = ImageDraw.Draw(img)
    r = max(1.0, max(img.size) / 300)
    lm = np.asarray(landmarks, dtype=np.float64)
    for first, last, closed in CONTOURS:
        seq = [tuple(p) for p in lm[first : last + 1]] + ([tuple(lm[first])] if closed else [])
        draw.line(seq, fill=(0, 200, 255), width=max(1, int(r / 2)))
    for x, y in lm:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 60, 60))
    if box is not None:
        draw.rectangle([float(v) for v in box], outline=(60, 255, 60), width=max(1, int(r)))
    return np.asarray(img)
