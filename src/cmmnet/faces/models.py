"""Locating and loading dlib's model files (shipped by the ``face-recognition-models`` package)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from ..errors import CmmnetError

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
FACE_RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"


def model_path(name: str) -> Path:
    """Path of a model file of face-recognition-models, found without importing it (its import needs
    pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CmmnetError("face-recognition-models is not installed; run `pip install face-recognition-models`")
    for root in spec.submodule_search_locations:
        p = Path(root) / "models" / name
        if p.is_file():
            return p
    raise CmmnetError(f"{name} not found in face-recognition-models; reinstall it")


@functools.cache
def shape_predictor():
    import dlib

    return dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_68)))


@functools.cache
def frontal_face_detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def face_recognition_model():
    import dlib

    return dlib.face_recognition_model_v1(str(model_path(FACE_RECOGNITION)))
