"""Detect-then-track 68 landmarks through a video (paper §4.1 extracts landmarks per frame).

HOG detection (:meth:`FaceDetector.detect`) runs on a copy of the frame downscaled to ``detect_side`` (so 1080p
costs what 640x360 costs) on the first frame, after a loss, after drift and every ``verify_every`` frames; in
between, the shape predictor (:meth:`FaceDetector.landmarks_in_box`, ~1 ms) runs at full resolution in a box
derived from the previous frame's landmarks' eyes (:func:`canonical_box`: where dlib's detector puts its box
relative to the eyes, so the predictor sees boxes like the ones it was trained on, and the box does not grow as
the mouth opens). Each detection is refined once with that box too. Frames without a face get NaN landmarks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ...errors import NoFaceError
from ...faces import FaceDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackConfig:
    detect_side: int = 640  # frames are downscaled to this longer side before FaceDetector.detect
    # Re-detect when the box implied by the new landmarks overlaps the box they were predicted in by less than this
    # (IoU): the predictor has drifted off the face or the head moved fast.
    redetect_iou: float = 0.6
    verify_every: int = 50  # run the detector every this many frames to confirm the face is still there (0: never)
    retry_every: int = 5  # while no face is found, try the detector every this many frames
    min_eye_distance: float = 8.0  # pixels; tracked landmarks with a smaller inter-ocular distance count as lost
    # The box given to the shape predictor, in inter-ocular distances (IOD) around the eye midpoint: dlib's HOG
    # boxes on 40 FRL-London photos at full resolution sit 0.52 +- 0.07 IOD below the eyes and are 2.40 +- 0.16
    # IOD wide. A box from detection on a downscaled 1080p frame is coarser (up to 1.3x too large), and the
    # predictor is sensitive to it (a mouth 0.3 IOD off was measured), so every detection is refined once
    # with this box, and tracking uses it.
    box_offset: float = 0.52
    box_extent: float = 2.40
    refine: int = 1  # predictor passes with the canonical box after each detection


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _eyes(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """Midpoint of the two eye centres and their distance (stable through a smile, unlike the jaw and mouth)."""
    le, re = lm[36:42].mean(0), lm[42:48].mean(0)
    return (le + re) / 2, max(float(np.hypot(*(re - le))), 1.0)


def canonical_box(lm: np.ndarray, cfg: TrackConfig) -> np.ndarray:
    """The box dlib's detector typically draws around a face with these landmarks, from the eyes alone (stable
    through a smile, unlike the jaw and mouth): [x0, y0, x1, y1]."""
    mid, iod = _eyes(lm)
    cx, cy = mid[0], mid[1] + cfg.box_offset * iod
    half = cfg.box_extent * iod / 2
    return np.array([cx - half, cy - half, cx + half, cy + half])


@dataclass
class TrackStats:
    frames: int = 0
    detections: int = 0  # detector calls
    lost: int = 0  # frames without landmarks


class Tracker:
    """Feed frames in order with :meth:`step`; each returns (68, 2) float32 landmarks in frame pixels or NaNs."""

    def __init__(self, detector: FaceDetector, cfg: TrackConfig | None = None):
        self.det = detector
        self.cfg = cfg or TrackConfig()
        self.prev: np.ndarray | None = None
        self.since_detect = 0
        self.since_try = 0
        self.stats = TrackStats()

    def _detect(self, frame: np.ndarray) -> np.ndarray | None:
        self.stats.detections += 1
        h, w = frame.shape[:2]
        k = min(1.0, self.cfg.detect_side / max(h, w))
        small = frame
        if k < 1.0:
            small = np.asarray(Image.fromarray(frame).resize((round(w * k), round(h * k)), Image.Resampling.BILINEAR))
        try:
            face = self.det.detect(small, name="frame")
        except NoFaceError:
            return None
        kx, ky = w / small.shape[1], h / small.shape[0]
        box = face.box * np.array([kx, ky, kx, ky])
        lm = self.det.landmarks_in_box(frame, box)
        for _ in range(self.cfg.refine):
            lm = self.det.landmarks_in_box(frame, canonical_box(lm, self.cfg))
        self.since_detect = 0
        return lm

    def _plausible(self, lm: np.ndarray, frame: np.ndarray) -> bool:
        le, re = lm[36:42].mean(0), lm[42:48].mean(0)
        if float(np.hypot(*(re - le))) < self.cfg.min_eye_distance:
            return False
        h, w = frame.shape[:2]
        c = lm.mean(0)
        return 0 <= c[0] < w and 0 <= c[1] < h

    def step(self, frame: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        self.stats.frames += 1
        lm = None
        if self.prev is not None:
            box = canonical_box(self.prev, cfg)
            lm = self.det.landmarks_in_box(frame, box)
            self.since_detect += 1
            if not self._plausible(lm, frame) or _iou(canonical_box(lm, cfg), box) < cfg.redetect_iou:
                lm = None
            elif cfg.verify_every and self.since_detect >= cfg.verify_every:
                lm = self._detect(frame)  # confirm: None when the face is gone
        if lm is None:
            if self.prev is not None or self.since_try >= cfg.retry_every - 1 or self.stats.frames == 1:
                lm = self._detect(frame)
                self.since_try = 0
            else:
                self.since_try += 1
        self.prev = lm
        if lm is None:
            self.stats.lost += 1
            return np.full((68, 2), np.nan, dtype=np.float32)
        return lm.astype(np.float32)


def track(frames: Iterable[np.ndarray], detector: FaceDetector, cfg: TrackConfig | None = None
          ) -> tuple[np.ndarray, TrackStats]:
    """Landmarks (n, 68, 2) float32 (NaN where no face) for every frame of ``frames``."""
    tr = Tracker(detector, cfg)
    out = [tr.step(f) for f in frames]
    lms = np.stack(out) if out else np.zeros((0, 68, 2), np.float32)
    return lms, tr.stats
