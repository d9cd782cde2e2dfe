"""Landmark trajectories from a person's neutral landmarks to their own smiling landmarks.

1. Head motion between the two photos is removed by a least-squares similarity fit of the smiling landmarks onto
   the neutral ones on points a smile barely moves (nose bridge, eye corners, upper jaw line).
2. The remaining displacement is split by region: the mouth, nose and jaw follow the AU12 curve (lip corner
   puller); eyes and brows follow the AU6 curve (cheek raiser: the lower lid rises).
3. The hidden style edits the target shape: ``mouth_closed`` puts the inner lips together, ``mouth_open`` parts
   them (AU25 lips part + AU26 jaw drop: lower lip and chin move down, upper lip slightly up, following the AU25
   curve), ``eyes_closed`` keeps the person's own mouth and brings the upper lids onto the lower lids.

All shapes are (68, 2) in the aligned frame of :mod:`cmmnet.faces` (eyes horizontal, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..proxies import EYE_CORNERS_LOWER, INNER_LIP_PAIRS, eye_aperture, inter_ocular_distance, lower_lid_drop
from .curves import SequenceCurves

STYLE_NAMES = ("mouth_open", "mouth_closed", "eyes_closed")
# Points a smile barely moves: nose bridge, the four eye corners, the top of the jaw line (beside the ears).
STABLE_POINTS = np.array([27, 28, 29, 30, 36, 39, 42, 45, 0, 16])
EYE_REGION = np.r_[17:27, 36:48]  # brows and eyes: AU6
UPPER_LIDS = np.array([37, 38, 43, 44])
LOWER_LIDS = np.array([41, 40, 47, 46])  # facing UPPER_LIDS
LOWER_LID_POINTS = np.array([40, 41, 46, 47])


@dataclass(frozen=True)
class TrajectoryConfig:
    # mouth_open: inner-lip gap at apex, in inter-ocular distances (an open-mouthed smile shows ~0.15-0.35).
    mouth_open_gap: tuple[float, float] = (0.16, 0.30)
    upper_lip_share: float = 0.2  # of the gap made by raising the upper lip; the rest is the jaw drop
    # Every person smiles visibly: the photo's lip-corner spread (AU12 proxy change, inter-ocular units) and
    # lower-lid raise (fraction of the neutral eye aperture) are topped up to at least these.
    min_au12: float = 0.06
    min_au6: float = 0.20


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``, ``(2, 3)``."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    r = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / max((s**2).sum() / len(src), 1e-12)
    a = scale * r
    return np.hstack([a, (mu_d - a @ mu_s)[:, None]])


def close_inner_lips(shape: np.ndarray) -> np.ndarray:
    """The shape with each facing pair of inner-lip points moved to its midpoint."""
    out = shape.copy()
    for u, d in INNER_LIP_PAIRS:
        mid = 0.5 * (shape[u] + shape[d])
        out[u] = out[d] = mid
    return out


def topped_up_smile(neutral: np.ndarray, smile: np.ndarray, cfg: TrajectoryConfig) -> np.ndarray:
    """``smile`` with the lip-corner spread and lower-lid raise raised to the configured minimum, and each eye's
    centre kept at its neutral horizontal position (so the inter-ocular distance, the unit of every AU proxy,
    stays that of the neutral face)."""
    out = smile.copy()
    for eye in (np.arange(36, 42), np.arange(42, 48)):
        out[eye, 0] -= (out[eye, 0] - neutral[eye, 0]).mean()
    iod = float(inter_ocular_distance(neutral))
    spread = (np.linalg.norm(out[54] - out[48]) - np.linalg.norm(neutral[54] - neutral[48])) / iod
    if spread < cfg.min_au12:
        push = 0.5 * (cfg.min_au12 - spread) * iod
        for corner, inner, near, sign in ((48, 60, (49, 59), -1.0), (54, 64, (53, 55), 1.0)):
            step = np.array([sign * push, -0.3 * push])  # outwards and a little up
            out[[corner, inner]] += step
            out[list(near)] += 0.5 * step
    ap0 = float(eye_aperture(neutral)) * iod
    raise_ = (float(lower_lid_drop(neutral)) - float(lower_lid_drop(out))) * iod
    if raise_ < cfg.min_au6 * ap0:
        out[LOWER_LID_POINTS, 1] -= cfg.min_au6 * ap0 - raise_
    return out


def _side_weight(neutral: np.ndarray) -> np.ndarray:
    """0 on the image-left half of the face, 1 on the right, a linear blend across the midline; ``(68,)``."""
    iod = float(inter_ocular_distance(neutral))
    cx = 0.5 * (neutral[[c for c, _, _ in EYE_CORNERS_LOWER]].mean(0) + neutral[[b for _, b, _ in
                                                                              EYE_CORNERS_LOWER]].mean(0))[0]
    return np.clip(0.5 + (neutral[:, 0] - cx) / (0.5 * iod), 0.0, 1.0)


def opening_field(upper_lip_share: float) -> np.ndarray:
    """Per-point displacement (68, 2), y down, that parts the inner lips by 1 px: the upper lip rises by
    ``upper_lip_share``, the lower lip and chin drop (AU26) by the rest."""
    f = np.zeros((68, 2))
    f[[65, 66, 67], 1] = 1.0
    f[[56, 57, 58], 1] = 1.0
    f[[55, 59], 1] = 0.6
    f[[7, 8, 9], 1] = 0.85
    f[[6, 10], 1] = 0.6
    f[[5, 11], 1] = 0.35
    f[[4, 12], 1] = 0.15
    f *= 1.0 - upper_lip_share
    f[[61, 62, 63], 1] = -upper_lip_share
    f[[50, 51, 52], 1] = -0.6 * upper_lip_share
    return f


def sequence_landmarks(neutral: np.ndarray, smile: np.ndarray, curves: SequenceCurves, style: str,
                       gap: float = 0.0, config: TrajectoryConfig | None = None) -> np.ndarray:
    """Landmarks ``(T, 68, 2)`` of one sequence; frame 0 equals ``neutral`` exactly.

    ``smile`` is the head-motion-free (and topped-up) smiling shape; ``gap`` is the mouth_open inner-lip gap at
    apex in inter-ocular distances (ignored by the other styles).
    """
    cfg = config or TrajectoryConfig()
    if style not in STYLE_NAMES:
        raise ValueError(f"unknown style {style!r}; use one of {STYLE_NAMES}")
    neutral = np.asarray(neutral, np.float64)
    target = np.asarray(smile, np.float64)
    if style in ("mouth_open", "mouth_closed"):
        target = close_inner_lips(target)
    delta = target - neutral  # (68, 2)
    side = _side_weight(neutral)[:, None]  # (68, 1)
    g_left, g_right = curves.side_gain
    gain = (1 - side) * g_left + side * g_right  # (68, 1)
    eye = np.zeros((68, 1))
    eye[EYE_REGION] = 1.0
    c12 = curves.au12.astype(np.float64)[:, None, None]  # (T, 1, 1)
    c6 = curves.au6.astype(np.float64)[:, None, None]
    seq = neutral[None] + gain[None] * delta[None] * (c12 * (1 - eye)[None] + c6 * eye[None])  # (T, 68, 2)
    if style == "mouth_open":
        iod = float(inter_ocular_distance(neutral))
        g = gap * iod
        field = opening_field(cfg.upper_lip_share)
        seq = seq + curves.au25.astype(np.float64)[:, None, None] * g * field[None]
    if style == "eyes_closed":
        ec = curves.eye_closure.astype(np.float64)[:, None, None]  # (T, 1, 1)
        seq[:, UPPER_LIDS] += ec * (seq[:, LOWER_LIDS] - seq[:, UPPER_LIDS])
    seq[0] = neutral
    return seq.astype(np.float32)
