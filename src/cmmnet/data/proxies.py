"""Landmark-based action-unit (AU) proxies on 68-point landmarks (iBUG order), vectorized over leading axes.

Every function takes landmarks of shape ``(..., 68, 2)`` (x, y in pixels, y pointing down) and returns an array
of shape ``(...)``. Distances are divided by the inter-ocular distance (between the two eye centres) so that the
measures do not depend on image size or face scale.

Single-frame measures (absolute geometry):

- :func:`inter_ocular_distance` — distance between the eye centres (pixels).
- :func:`lip_corner_distance` — distance between the mouth corners 48 and 54, over the inter-ocular distance.
  :func:`au12_proxy` is this measure (AU12, lip corner puller, widens the mouth).
- :func:`lip_corner_raise` — height of the mouth corners above the centre of the lips, over the inter-ocular
  distance (AU12 also pulls the corners up).
- :func:`lower_lid_drop` — how far the lower eyelid hangs below the line through the eye corners, over the
  inter-ocular distance. AU6 (cheek raiser) pushes the lower lid up, so this shrinks. :func:`au6_proxy` is its
  negative (larger = more AU6).
- :func:`eye_aperture` — mean lid-to-lid opening of both eyes, over the inter-ocular distance.
- :func:`mouth_opening` — mean gap between the inner lips, over the inter-ocular distance (AU25 lips part,
  AU26 jaw drop). About 0 for closed lips.

:func:`au_curves` turns a batch of sequences ``(N, T, 68, 2)`` into intensity curves relative to frame 0 (the
neutral face); :func:`curve_stats` summarises a curve (apex frame, amplitude, peak onset speed).
"""

from __future__ import annotations

import numpy as np

# iBUG 68-point indices (subject's right eye is on the image's left).
JAW = np.arange(0, 17)
RIGHT_BROW = np.arange(17, 22)
LEFT_BROW = np.arange(22, 27)
NOSE = np.arange(27, 36)
RIGHT_EYE = np.arange(36, 42)  # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid
LEFT_EYE = np.arange(42, 48)  # 42 inner corner, 43-44 upper lid, 45 outer corner, 46-47 lower lid
OUTER_LIPS = np.arange(48, 60)  # 48 right corner, 51 top centre, 54 left corner, 57 bottom centre
INNER_LIPS = np.arange(60, 68)  # 60 right corner, 61-63 top, 64 left corner, 65-67 bottom
MOUTH = np.arange(48, 68)
EYES = np.arange(36, 48)

# (upper lid, lower lid) pairs, facing each other
EYE_LID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
# (corner a, corner b, lower lid points) per eye
EYE_CORNERS_LOWER = ((36, 39, (40, 41)), (42, 45, (46, 47)))
# (upper inner lip, lower inner lip) pairs
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))

_EPS = 1e-6


def _check(landmarks) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim < 2 or lm.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must have shape (..., 68, 2), got {lm.shape}")
    return lm


def eye_centres(landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the right and left eye (mean of each eye's six points), each ``(..., 2)``."""
    lm = _check(landmarks)
    return lm[..., RIGHT_EYE, :].mean(-2), lm[..., LEFT_EYE, :].mean(-2)


def inter_ocular_distance(landmarks) -> np.ndarray:
    """Distance between the two eye centres in pixels, ``(...)``."""
    r, l_ = eye_centres(landmarks)
    return np.linalg.norm(l_ - r, axis=-1)


def _norm(landmarks) -> tuple[np.ndarray, np.ndarray]:
    lm = _check(landmarks)
    return lm, np.maximum(inter_ocular_distance(lm), _EPS)


def lip_corner_distance(landmarks) -> np.ndarray:
    """Mouth-corner distance (48-54) over the inter-ocular distance, ``(...)``."""
    lm, iod = _norm(landmarks)
    return np.linalg.norm(lm[..., 54, :] - lm[..., 48, :], axis=-1) / iod


au12_proxy = lip_corner_distance


def _up_direction(lm: np.ndarray) -> np.ndarray:
    """Unit vector pointing up the face (perpendicular to the eye line, towards the brows), ``(..., 2)``."""
    r, l_ = eye_centres(lm)
    d = l_ - r
    d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), _EPS)
    # rotate the eye line by -90 degrees in image coordinates (y down): (dx, dy) -> (dy, -dx) points up
    return np.stack([d[..., 1], -d[..., 0]], axis=-1)


def lip_corner_raise(landmarks) -> np.ndarray:
    """Height of the mouth corners above the mean of the lip centre points (51, 57, 62, 66), over the
    inter-ocular distance, measured perpendicular to the eye line; ``(...)``."""
    lm, iod = _norm(landmarks)
    up = _up_direction(lm)
    corners = 0.5 * (lm[..., 48, :] + lm[..., 54, :])
    centre = lm[..., [51, 57, 62, 66], :].mean(-2)
    return ((corners - centre) * up).sum(-1) / iod


def lower_lid_drop(landmarks) -> np.ndarray:
    """How far the lower eyelid lies below the line through the eye's corners (mean of both eyes), over the
    inter-ocular distance; ``(...)``. AU6 (cheek raiser) makes it smaller."""
    lm, iod = _norm(landmarks)
    up = _up_direction(lm)
    drops = []
    for a, b, lower in EYE_CORNERS_LOWER:
        mid = 0.5 * (lm[..., a, :] + lm[..., b, :])
        low = lm[..., list(lower), :].mean(-2)
        drops.append(((mid - low) * up).sum(-1))
    return (drops[0] + drops[1]) / (2.0 * iod)


def au6_proxy(landmarks) -> np.ndarray:
    """Lower-eyelid height (negative :func:`lower_lid_drop`): rises with AU6; compare against the neutral frame
    (see :func:`au_curves`)."""
    return -lower_lid_drop(landmarks)


def eye_aperture(landmarks) -> np.ndarray:
    """Mean upper-to-lower lid distance of both eyes over the inter-ocular distance, ``(...)``."""
    lm, iod = _norm(landmarks)
    gaps = [np.linalg.norm(lm[..., u, :] - lm[..., d, :], axis=-1) for u, d in EYE_LID_PAIRS]
    return np.mean(gaps, axis=0) / iod


def mouth_opening(landmarks) -> np.ndarray:
    """Mean gap between the inner lips (61-67, 62-66, 63-65) over the inter-ocular distance, ``(...)``."""
    lm, iod = _norm(landmarks)
    gaps = [np.linalg.norm(lm[..., u, :] - lm[..., d, :], axis=-1) for u, d in INNER_LIP_PAIRS]
    return np.mean(gaps, axis=0) / iod


AU_CURVE_NAMES = ("au12", "au12_raise", "au6", "mouth_opening", "eye_closure")


def au_curves(landmarks, neutral_aperture_floor: float = 0.03) -> dict[str, np.ndarray]:
    """Intensity curves of landmark sequences relative to frame 0 (the neutral face).

    ``landmarks`` is ``(N, T, 68, 2)`` (or ``(T, 68, 2)``); every value is ``(N, T)`` (or ``(T,)``) and is 0 at
    frame 0:

    - ``au12``: change of the lip-corner distance, in inter-ocular distances (:func:`au12_proxy`);
    - ``au12_raise``: change of the mouth-corner height above the lip centre, in inter-ocular distances;
    - ``au6``: lower-eyelid raise as a fraction of the neutral eye aperture (:func:`au6_proxy`);
    - ``mouth_opening``: change of the inner-lip gap, in inter-ocular distances (AU25/26);
    - ``eye_closure``: ``1 - aperture / neutral aperture`` (1 = eyes shut).

    ``neutral_aperture_floor`` (inter-ocular units) keeps the ratios finite for a neutral face with nearly shut
    eyes.
    """
    lm = _check(landmarks)
    if lm.ndim < 3:
        raise ValueError(f"au_curves needs sequences (..., T, 68, 2), got {lm.shape}")
    ap = eye_aperture(lm)  # (..., T)
    ap0 = np.maximum(ap[..., :1], neutral_aperture_floor)
    au12 = lip_corner_distance(lm)
    raise_ = lip_corner_raise(lm)
    drop = lower_lid_drop(lm)
    mo = mouth_opening(lm)
    return {
        "au12": au12 - au12[..., :1],
        "au12_raise": raise_ - raise_[..., :1],
        "au6": (drop[..., :1] - drop) / ap0,
        "mouth_opening": mo - mo[..., :1],
        "eye_closure": 1.0 - ap / ap0,
    }


def smooth_curve(curve, window: int = 5) -> np.ndarray:
    """Centred moving average along the last axis (edges padded by repetition); ``window`` 1 is a no-op."""
    c = np.asarray(curve, dtype=np.float64)
    if window <= 1:
        return c.copy()
    half = window // 2
    pad = [(0, 0)] * (c.ndim - 1) + [(half, window - 1 - half)]
    p = np.pad(c, pad, mode="edge")
    cs = np.cumsum(p, axis=-1)
    cs = np.concatenate([np.zeros_like(cs[..., :1]), cs], axis=-1)
    return (cs[..., window:] - cs[..., :-window]) / window


def curve_stats(curve, smooth: int = 1) -> dict[str, np.ndarray]:
    """Summary of intensity curves ``(..., T)``: each value is ``(...)``.

    - ``apex``: first frame of the maximum;
    - ``amplitude``: the maximum value;
    - ``peak_speed``: the largest frame-to-frame increase before (and at) the apex;
    - ``mean_speed``: amplitude / apex frame (onset speed);
    - ``jerk``: mean absolute second difference over the onset (0 for a straight or smooth ramp; less smooth
      curves score higher).
    """
    c = smooth_curve(curve, smooth)
    t = c.shape[-1]
    apex = np.argmax(c, axis=-1)
    amplitude = np.take_along_axis(c, apex[..., None], -1)[..., 0]
    d = np.diff(c, axis=-1, prepend=c[..., :1])  # d[t] = c[t] - c[t-1]
    frames = np.arange(t)
    onset = frames <= apex[..., None]
    peak_speed = np.where(onset, d, -np.inf).max(-1)
    mean_speed = amplitude / np.maximum(apex, 1)
    dd = np.abs(np.diff(c, n=2, axis=-1, prepend=c[..., :1], append=c[..., -1:]))
    jerk = (dd * onset).sum(-1) / np.maximum(onset.sum(-1), 1)
    return {"apex": apex, "amplitude": amplitude, "peak_speed": peak_speed, "mean_speed": mean_speed, "jerk": jerk}
