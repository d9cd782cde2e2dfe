"""One call from an image file to what CMM-Net consumes: landmarks in file pixels, aligned face, landmark image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .align import AlignConfig, AlignedFace, align_face
from .detect import DetectorConfig, Face, FaceDetector
from .draw import LandmarkDrawConfig, draw_landmarks
from .image_io import read_image_scaled


@dataclass(frozen=True)
class FrontEndConfig:
    detector: DetectorConfig = DetectorConfig()
    align: AlignConfig = AlignConfig()
    draw: LandmarkDrawConfig = LandmarkDrawConfig()


@dataclass(frozen=True)
class FaceResult:
    image: np.ndarray  # (H, W, 3) uint8, possibly downscaled copy of the file (see `scale`)
    scale: float  # file pixels per `image` pixel
    face: Face  # box and landmarks in FILE pixels
    aligned: AlignedFace  # transform maps FILE pixels -> aligned pixels
    landmark_image: np.ndarray  # (S, S) uint8 in {0, 1}


def process_image(path: str | Path, config: FrontEndConfig | None = None,
                  detector: FaceDetector | None = None) -> FaceResult:
    """Read, detect (largest face), landmark, align and draw. Raises InputFileError / NoFaceError."""
    cfg = config or FrontEndConfig()
    det = detector or FaceDetector(cfg.detector)
    image, scale = read_image_scaled(path, cfg.detector.max_side)
    found = det.detect(image, name=str(path))
    face = Face(found.box * scale, (found.landmarks * scale).astype(np.float32), found.n_faces, found.score)
    aligned = align_face(image, found.landmarks, cfg.align)
    # express the transform in file pixels: p_img = (p_file + 0.5) / scale - 0.5
    s = 1.0 / scale
    pre_t = 0.5 * s - 0.5
    m = aligned.transform.copy()
    m_file = np.hstack([m[:, :2] * s, (m[:, 2] + m[:, :2].sum(axis=1) * pre_t)[:, None]])
    aligned = AlignedFace(aligned.image, aligned.landmarks, m_file)
    return FaceResult(image, scale, face, aligned, draw_landmarks(aligned.landmarks, cfg.align.size, cfg.draw))
