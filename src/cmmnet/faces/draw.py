"""The binary landmark image of paper §4.1 (64x64, binary) and a landmark overlay for people to look at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

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


def draw_landmarks(landmarks: np.ndarray, size: int, config: LandmarkDrawConfig | None = None) -> np.ndarray:
    """(size, size) uint8 image in {0, 1} of (68, 2) landmarks given in that image's pixels."""
    cfg = config or LandmarkDrawConfig()
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
