"""68 landmarks of generated (and real) aligned frames, for the AU curves of Fig. 8 / Table 3 (paper §4.3).

The paper measures the AUs on the generated videos themselves ("for Video-GAN, the generated videos usually have
poor quality making it hard to automatically compute the AU score"), so every method's frames, and the real
ones, go through the same measurement: dlib's 68-point shape predictor on the frame upscaled ``upscale`` times,
inside one box per sequence. The box is dlib's HOG detection on the sequence's real neutral frame (frame 0), or,
when HOG finds nothing at that size, the bounding box of the neutral frame's known landmarks. The faces are
aligned, so one box per sequence is what a tracker would use; it also keeps a method whose frames no longer
look like faces measurable (its curves then drift, as the paper observes for Video-GAN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameLandmarksConfig:
    upscale: int = 4  # 64 px aligned faces -> 256 px for dlib (its models were trained on larger faces)


class FrameLandmarks:
    """Landmarks ``(T, 68, 2)`` in aligned pixels for frames ``(T, 3, S, S)`` uint8, one box per sequence."""

    def __init__(self, config: FrameLandmarksConfig | None = None):
        from ..faces import FaceDetector

        self.config = config or FrameLandmarksConfig()
        self.detector = FaceDetector()

    def _up(self, frame: np.ndarray) -> np.ndarray:
        from PIL import Image

        img = np.ascontiguousarray(np.asarray(frame).transpose(1, 2, 0))  # (S, S, 3)
        f = self.config.upscale
        if f == 1:
            return img
        size = (img.shape[1] * f, img.shape[0] * f)
        return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))

    def box(self, neutral: np.ndarray, neutral_landmarks: np.ndarray) -> np.ndarray:
        """The sequence's box ``[x0, y0, x1, y1]`` in upscaled pixels (see the module doc)."""
        big = self._up(neutral)
        found = self.detector.detect_all(big)  # largest first
        if found:
            return np.asarray(found[0].box, dtype=np.float64)
        f = self.config.upscale
        pts = (np.asarray(neutral_landmarks, dtype=np.float64) + 0.5) * f - 0.5
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        return np.array([x0, y0, x1, y1])

    def __call__(self, frames: np.ndarray, box: np.ndarray) -> np.ndarray:
        f = self.config.upscale
        out = np.empty((len(frames), 68, 2), dtype=np.float32)
        for t, frame in enumerate(frames):
            pts = self.detector.landmarks_in_box(self._up(frame), box)
            out[t] = (pts + 0.5) / f - 0.5
        return out  # (T, 68, 2)
