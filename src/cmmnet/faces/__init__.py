"""Face front end (paper §3.2, §4.1): read, detect, 68 landmarks, align, binary landmark image."""

from .align import (
    AlignConfig,
    AlignedFace,
    align_face,
    between_alignments,
    estimate_alignment,
    eye_centres,
    invert_transform,
    transform_points,
    warp_image,
)
from .detect import DetectorConfig, Face, FaceDetector
from .draw import CONTOURS, LandmarkDrawConfig, draw_landmarks, draw_overlay, landmark_images
from .image_io import read_image, read_image_scaled

__all__ = [
    "CONTOURS",
    "AlignConfig",
    "AlignedFace",
    "DetectorConfig",
    "Face",
    "FaceDetector",
    "LandmarkDrawConfig",
    "align_face",
    "between_alignments",
    "draw_landmarks",
    "draw_overlay",
    "landmark_images",
    "estimate_alignment",
    "eye_centres",
    "invert_transform",
    "read_image",
    "read_image_scaled",
    "transform_points",
    "warp_image",
]
