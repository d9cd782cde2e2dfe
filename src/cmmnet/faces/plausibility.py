"""Is the detected 68-point shape a plausible human face? A point-distribution model fitted on real faces.

dlib's HOG detector also fires on some animal faces, drawings and textures; its shape predictor then returns 68
points that need not look like a person's face. This check compares the shape with a point-distribution model
(Cootes et al.) of 160 real faces (the Face Research Lab London set, neutral and smiling; fitted by
``scripts/fit_face_shape_model.py`` into ``assets/face_shape_model.json``):

* the shape is brought onto the model's mean by a similarity (Procrustes: translation, scale, rotation; no
  reflection), scaled to unit RMS size;
* ``residual``: RMS distance (in units of the face size) from the shape to its projection on the model's first
  ``k`` modes, i.e. the part of the shape no real face in the set has;
* ``mahalanobis``: length of the projection's coefficients in standard deviations, i.e. how extreme the shape is
  along the modes real faces do vary in.

``ratio`` = max(residual / the largest residual of the 160 faces, mahalanobis / the largest of theirs): 1.0 is
the most unusual real face of the set. Together with the detector's score (the 160 faces score 1.15 .. 3.4) it
decides (:class:`ShapeCheckConfig`): refuse, warn, or accept. docs/reliability.md says what it catches.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

from ..errors import NoFaceError

log = logging.getLogger(__name__)

MODEL_NAME = "face_shape_model.json"


@dataclass(frozen=True)
class ShapeCheckConfig:
    refuse_ratio: float = 2.0  # shape ratio above which the face is refused whatever the detector's score
    weak_score: float = 0.5  # a detection scoring under this is weak (real frontal faces score over 1)
    weak_refuse_ratio: float = 1.5  # ... and a weak detection is refused from this ratio on
    warn_ratio: float = 1.3  # from this ratio on (or with a weak detection) a warning is printed


@dataclass(frozen=True)
class ShapeScore:
    residual: float  # RMS off-model distance, in units of the face's RMS size
    mahalanobis: float  # model coefficients' length in standard deviations
    ratio: float  # max of both relative to the largest among the model's real faces


def _normalised(points: np.ndarray) -> np.ndarray:
    p = points - points.mean(0)
    return p / max(float(np.sqrt((p**2).sum(1).mean())), 1e-12)


def _onto(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``points`` (68, 2) moved onto ``ref`` by the best similarity without reflection (unit RMS size)."""
    p = _normalised(np.asarray(points, dtype=np.float64))
    u, _, vt = np.linalg.svd(p.T @ ref)
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    return p @ (u @ vt)


def fit_shape_model(shapes: np.ndarray, k: int = 6) -> dict:
    """The model of ``shapes`` (N, 68, 2) of real faces: mean, ``k`` modes and the set's largest scores."""
    shapes = np.asarray(shapes, dtype=np.float64)
    ref = _normalised(shapes[0])
    for _ in range(5):  # generalised Procrustes: align all to the mean, re-estimate the mean
        ref = _normalised(np.stack([_onto(p, ref) for p in shapes]).mean(0))
    flat = np.stack([_onto(p, ref) for p in shapes]).reshape(len(shapes), -1)  # (N, 136)
    mean = flat.mean(0)
    _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    model = {"format": 1, "k": k, "n_faces": len(shapes), "mean": mean.round(6).tolist(),
             "modes": vt[:k].round(6).tolist(), "sd": (s[:k] / np.sqrt(len(shapes) - 1)).round(6).tolist(),
             "max_residual": 1.0, "max_mahalanobis": 1.0}
    raw = [_score(model, p) for p in shapes]
    model["max_residual"] = round(max(r.residual for r in raw), 6)
    model["max_mahalanobis"] = round(max(r.mahalanobis for r in raw), 6)
    return model


@functools.cache
def _shipped_model() -> dict:
    return json.loads((resources.files("cmmnet") / "assets" / MODEL_NAME).read_text())


def _score(model: dict, points: np.ndarray) -> ShapeScore:
    mean = np.asarray(model["mean"])  # (136,)
    modes, sd = np.asarray(model["modes"]), np.asarray(model["sd"])  # (k, 136), (k,)
    a = _onto(points, mean.reshape(68, 2)).reshape(-1) - mean
    b = modes @ a  # (k,)
    residual = float(np.sqrt(((a - modes.T @ b) ** 2).reshape(68, 2).sum(1).mean()))
    mahalanobis = float(np.sqrt(((b / sd) ** 2).sum()))
    ratio = max(residual / model["max_residual"], mahalanobis / model["max_mahalanobis"])
    return ShapeScore(residual, mahalanobis, ratio)


def shape_score(points: np.ndarray, model: dict | None = None) -> ShapeScore:
    """How far the 68 points (68, 2) are from real human face shapes (see the module docstring)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise ValueError(f"expected finite (68, 2) landmarks, got {points.shape}")
    return _score(model or _shipped_model(), points)


Verdict = Literal["ok", "unsure", "refuse"]


def shape_verdict(points: np.ndarray, detector_score: float,
                  cfg: ShapeCheckConfig | None = None) -> tuple[Verdict, ShapeScore]:
    """"refuse" when the detected face is not a plausible human face, "unsure" when it is unusual or weakly
    detected (a warning), else "ok"."""
    cfg = cfg or ShapeCheckConfig()
    s = shape_score(points)
    weak = detector_score < cfg.weak_score
    if s.ratio > cfg.refuse_ratio or (weak and s.ratio > cfg.weak_refuse_ratio):
        return "refuse", s
    return ("unsure" if weak or s.ratio > cfg.warn_ratio else "ok"), s


def not_a_face(name: str, s: ShapeScore, detector_score: float) -> NoFaceError:
    return NoFaceError(f"{name}: the face found does not have a human face's shape (shape score {s.ratio:.1f}, real "
                       f"faces <= 1.1; detector score {detector_score:.2f}); use a photo with one clearly visible, "
                       "roughly frontal human face")


def warn_unusual(name: str, s: ShapeScore, detector_score: float) -> None:
    log.warning("%s: the face found is unusual (shape score %.1f, detector score %.2f); check the result",
                name, s.ratio, detector_score)
