"""One call from an image file to what CMM-Net consumes: landmarks in file pixels, aligned face, landmark image.

A photo without an upright face is tried turned by 180, 90 and 270 degrees (an upside-down or sideways photo is
used the right way up, with a warning), and the face found must have a plausible human face shape
(:mod:`cmmnet.faces.plausibility`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import NoFaceError
from .align import AlignConfig, AlignedFace, align_face
from .detect import DetectorConfig, Face, FaceDetector, no_face
from .draw import LandmarkDrawConfig, draw_landmarks
from .image_io import check_image_array, read_image_scaled
from .plausibility import ShapeCheckConfig, ShapeScore, not_a_face, shape_verdict, warn_unusual

log = logging.getLogger(__name__)
ROTATIONS = (0, 2, 1, 3)  # quarter turns (np.rot90, counter-clockwise) tried in this order until a face is found


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
    rotation: int = 0  # quarter turns (np.rot90, counter-clockwise) applied to the file; FILE pixels are then the
    # turned file's (see `upright`)


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """The file's pixels turned the way :func:`detect_image` found the face (``DetectedImage.rotation``)."""
    return np.ascontiguousarray(np.rot90(image, rotation)) if rotation % 4 else image


def detect_upright(image: np.ndarray, detector: FaceDetector, name: str,
                   shape: ShapeCheckConfig | None = None) -> tuple[Face, int]:
    """The largest plausible face and the quarter turns (0 when upright) after which it was found.

    Turns are tried (:data:`ROTATIONS`) until a face with a plausible human shape is found; an unusual or weakly
    detected one is used (with a warning) only when no turn gives a better one. Raises NoFaceError when there is
    no face, or only faces whose shape is not a human face's.
    """
    unsure: tuple[Face, int, ShapeScore] | None = None
    refused: NoFaceError | None = None
    for k in ROTATIONS:
        faces = detector.detect_all(upright(image, k))
        if not faces:
            continue
        verdict, s = shape_verdict(faces[0].landmarks, faces[0].score, shape)
        if verdict == "ok":
            return faces[0], k
        if verdict == "unsure" and unsure is None:
            unsure = (faces[0], k, s)
        refused = refused or not_a_face(name, s, faces[0].score)
    if unsure is None:
        raise refused or no_face(name)
    warn_unusual(name, unsure[2], unsure[0].score)
    return unsure[0], unsure[1]


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

    image: np.ndarray  # (H, W, 3) uint8, possibly downscaled copy of the file (see `scale`), turned upright
    scale: float  # file pixels per `image` pixel
    face: Face  # box and landmarks in FILE pixels (of the file turned by `rotation`)
    detected: Face  # box and landmarks in `image` pixels
    rotation: int = 0  # quarter turns (np.rot90, counter-clockwise) after which the face was upright (`upright`)

    def align(self, config: AlignConfig) -> AlignedFace:
        """The aligned face; its transform maps FILE pixels (turned by ``rotation``) to aligned pixels."""
        aligned = align_face(self.image, self.detected.landmarks, config)
        return AlignedFace(aligned.image, aligned.landmarks, rescale_transform(aligned.transform, self.scale))


def detect_image(path: str | Path, config: DetectorConfig | None = None,
                 detector: FaceDetector | None = None) -> DetectedImage:
    """Read and detect (largest plausible face, 68 landmarks). Raises InputFileError / NoFaceError.

    Images larger than ``config.max_side`` are read downscaled (bounded memory); the face's box and landmarks are
    nevertheless in the FILE's pixels.
    """
    cfg = config or DetectorConfig()
    image, scale = read_image_scaled(path, cfg.max_side)  # read first: bad files fail fast
    return detect_array(image, cfg, detector, str(path), scale)


def detect_array(image: np.ndarray, config: DetectorConfig | None = None, detector: FaceDetector | None = None,
                 name: str = "image", scale: float = 1.0) -> DetectedImage:
    """:func:`detect_image` on a photo already read: an (H, W, 3) uint8 array (checked), ``scale`` file pixels per
    array pixel. An upside-down or sideways photo is used turned the right way up (a warning says so)."""
    cfg = config or DetectorConfig()
    image = check_image_array(image, name)
    found, rotation = detect_upright(image, detector or FaceDetector(cfg), name, cfg.shape)
    if found.n_faces > 1:
        log.warning("%s: %d faces found; using the largest", name, found.n_faces)
    if rotation:
        image = upright(image, rotation)
        log.warning("%s: no upright face; the photo is used turned by %d degrees counter-clockwise",
                    name, 90 * rotation)
    landmarks_file = ((found.landmarks.astype(np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    face = Face(found.box * scale, landmarks_file, found.n_faces, found.score)  # box edges scale plainly
    return DetectedImage(image, scale, face, found, rotation)


def _result(det: DetectedImage, cfg: FrontEndConfig) -> FaceResult:
    aligned = det.align(cfg.align)
    return FaceResult(det.image, det.scale, det.face, aligned,
                      draw_landmarks(aligned.landmarks, cfg.align.size, cfg.draw), det.detected, det.rotation)


def process_image(path: str | Path, config: FrontEndConfig | None = None,
                  detector: FaceDetector | None = None) -> FaceResult:
    """Read, detect (largest face), landmark, align and draw (:func:`detect_image`, then the alignment).

    The returned box, landmarks and transform are in the FILE's pixels.
    """
    cfg = config or FrontEndConfig()
    return _result(detect_image(path, cfg.detector, detector), cfg)


def process_array(image: np.ndarray, config: FrontEndConfig | None = None, detector: FaceDetector | None = None,
                  name: str = "image") -> FaceResult:
    """:func:`process_image` on a photo already read as an (H, W, 3) uint8 array."""
    cfg = config or FrontEndConfig()
    return _result(detect_array(image, cfg.detector, detector, name), cfg)
