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
    detected: Face  # box and landmarks in `image` pixels (what the detector saw; equals `face` when scale == 1)


def rescale_transform(m: np.ndarray, scale: float) -> np.ndarray:
    """Re-express a (2, 3) transform of a downscaled copy's pixels in the original's pixels.

    ``scale`` = original pixels per copy pixel. Pixel centres are at integers in both, so a copy pixel ``p``
    is the original's ``(p + 0.5) * scale - 0.5``.
    """
    m = np.asarray(m, dtype=np.float64)
    s = 1.0 / scale
    pre_t = 0.5 * s - 0.5  # original -> copy: p_copy = p_orig * s + pre_t
    return np.hstack([m[:, :2] * s, (m[:, 2] + m[:, :2].sum(axis=1) * pre_t)[:, None]])


@dataclass(frozen=True)
class DetectedImage:
    """A photo read and its largest face detected: what the alignment needs (whatever its size)."""

    image: np.ndarray  # (H, W, 3) uint8, possibly downscaled copy of the file (see `scale`)
    scale: float  # file pixels per `image` pixel
    face: Face  # box and landmarks in FILE pixels
    detected: Face  # box and landmarks in `image` pixels

    def align(self, config: AlignConfig) -> AlignedFace:
        """The aligned face; its transform maps FILE pixels to aligned pixels."""
        aligned = align_face(self.image, self.detected.landmarks, config)
        return AlignedFace(aligned.image, aligned.landmarks, rescale_transform(aligned.transform, self.scale))


def detect_image(path: str | Path, config: DetectorConfig | None = None,
                 detector: FaceDetector | None = None) -> DetectedImage:
    """Read and detect (largest face, 68 landmarks). Raises InputFileError / NoFaceError.

    Images larger than ``config.max_side`` are read downscaled (bounded memory); the face's box and landmarks are
    nevertheless in the FILE's pixels.
    """
    cfg = config or DetectorConfig()
    image, scale = read_image_scaled(path, cfg.max_side)  # read first: bad files fail fast
    found = (detector or FaceDetector(cfg)).detect(image, name=str(path))
    landmarks_file = ((found.landmarks.astype(np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    face = Face(found.box * scale, landmarks_file, found.n_faces, found.score)  # box edges scale plainly
    return DetectedImage(image, scale, face, found)


def process_image(path: str | Path, config: FrontEndConfig | None = None,
                  detector: FaceDetector | None = None) -> FaceResult:
    """Read, detect (largest face), landmark, align and draw (:func:`detect_image`, then the alignment).

    The returned box, landmarks and transform are in the FILE's pixels.
    """
    cfg = config or FrontEndConfig()
    det = detect_image(path, cfg.detector, detector)
    aligned = det.align(cfg.align)
    return FaceResult(det.image, det.scale, det.face, aligned,
                      draw_landmarks(aligned.landmarks, cfg.align.size, cfg.draw), det.detected)
