"""Face detection (dlib HOG) and 68-point landmarks (dlib's iBUG 300-W shape predictor), paper §4.1.

The detector runs on a copy downscaled to ``detect_max_side`` (HOG cost grows with pixels; the faces this project
meets fill a good part of the frame), retrying with upsampling when nothing is found; the shape predictor then
runs at full resolution inside the detected box. Landmarks are returned in input-image pixels, iBUG order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import NoFaceError
from .image_io import check_image_array
from .models import frontal_face_detector, shape_predictor
from .plausibility import ShapeCheckConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorConfig:
    # Longer side of the copy HOG runs on (HOG cost grows with pixels). 400 keeps a 512x512 portrait under 40 ms
    # on one core; at upsample 0 faces wider than ~80 px at this size (20% of the longer side) are found, smaller
    # ones by the upsampling retry (down to ~5% of the longer side at upsample 2). See docs/faces.md.
    detect_max_side: int = 400
    # Upsampling levels tried in order until a face is found (dlib's `upsample_num_times`); the faces of the
    # first level that finds any are returned (a second face much smaller than the first may go unreported).
    upsample: tuple[int, ...] = (0, 1, 2)
    # Longer side above which the whole image is first downscaled (bounded memory for 8000x8000 inputs).
    max_side: int = 2048
    # When the face found is refused as not a human face, or only warned about (faces/plausibility.py).
    shape: ShapeCheckConfig = ShapeCheckConfig()


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # (4,) float64 [x0, y0, x1, y1] in image pixels
    landmarks: np.ndarray  # (68, 2) float32 (x, y) in image pixels, iBUG order
    n_faces: int = 1  # faces found in the image (the largest is this one)
    score: float = 0.0  # HOG detection score

    def to_json(self) -> dict:
        return {
            "box": [round(float(v), 2) for v in self.box],
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
            "n_faces": int(self.n_faces),
        }


def no_face(name: str) -> NoFaceError:
    return NoFaceError(f"{name}: no face found; use a photo with one clearly visible, roughly frontal face")


def _rect(box) -> object:
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, x1, y1)


class FaceDetector:
    """dlib HOG detector + 68-landmark shape predictor. Models are loaded once per process."""

    def __init__(self, config: DetectorConfig | None = None):
        self.config = config or DetectorConfig()
        self._detector = frontal_face_detector()
        self._predictor = shape_predictor()

    def _boxes(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        h, w = image.shape[:2]
        k = min(1.0, self.config.detect_max_side / max(h, w))
        small = image
        if k < 1.0:
            from PIL import Image

            small = np.asarray(
                Image.fromarray(image).resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BILINEAR)
            )
            k_x, k_y = small.shape[1] / w, small.shape[0] / h
        else:
            k_x = k_y = 1.0
        for up in self.config.upsample:
            rects, scores, _ = self._detector.run(small, up, 0.0)
            if rects:
                out = []
                for r, s in zip(rects, scores):
                    box = np.array([r.left() / k_x, r.top() / k_y, (r.right() + 1) / k_x, (r.bottom() + 1) / k_y])
                    out.append((box, float(s)))
                return out
        return []

    def landmarks_in_box(self, image: np.ndarray, box) -> np.ndarray:
        """68 landmarks (68, 2) float32 in image pixels, predicted inside ``box`` = [x0, y0, x1, y1]."""
        shape = self._predictor(np.ascontiguousarray(image), _rect(box))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)

    def detect_all(self, image: np.ndarray) -> list[Face]:
        """All faces, largest first."""
        image = check_image_array(image)
        found = sorted(self._boxes(image), key=lambda bs: -(bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1]))
        return [Face(box, self.landmarks_in_box(image, box), len(found), score) for box, score in found]

    def detect(self, image: np.ndarray, name: str = "image") -> Face:
        """The largest face (the main subject). A second face is reported as a warning; none raises NoFaceError."""
        image = check_image_array(image, name)
        found = self._boxes(image)
        if not found:
            raise no_face(name)
        found.sort(key=lambda bs: -(bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1]))
        if len(found) > 1:
            log.warning("%s: %d faces found; using the largest", name, len(found))
        box, score = found[0]
        return Face(box, self.landmarks_in_box(image, box), len(found), score)
