"""How close generated smiles come to a person's real smile, in units of the neutral face's inter-ocular distance.

The definitions of the project's reference measures (``shared/tools/smile_quality.py``), on landmark arrays:

- every shape is first similarity-normalised (:func:`canonical`): its two eye centres (the mean of each eye's six
  points) go to (0, 0) and (1, 0), so distances are in inter-ocular distances (IOD) and head pose and scale drop out;
- :func:`rms` is the root-mean-square over the 68 points of the per-point distance;
- a sequence's apex is its frame of widest mouth (lip corners 48-54 over the IOD, :func:`apex_frame`);
- baselines for one person (:func:`smile_baselines`): "nothing moved" (the neutral shape itself) and "typical
  smile" (the neutral shape plus the mean canonical neutral-to-smile displacement of other people,
  :func:`typical_displacement`);
- :func:`generation_measures`: the conditional row's apex and the best apex of the K + 1 rows against the real
  smile, the mouth-width gain, the spread of the K modes' apexes in inner-mouth opening (62-66) and eye aperture,
  the smallest mode gain and the jitter (mean absolute second difference over time, over the IOD);
- :func:`seen_gain`: the mouth-width gain dlib reads on rendered frames (what a viewer sees); :func:`held_gain` a
  reading of it less moved by one frame's noise (medians over the held smile and the neutral frames; a diagnostic);
- :func:`onset_seconds`: how long a played sequence takes from 10 % to 90 % of its mouth-width gain;
- :func:`summarize`: medians over generations, and the share of generations whose conditional apex is closer to
  the real smile than "nothing moved".

The real shapes are plain dlib on the full-resolution photo (:func:`reference_shape`, as the reference does): the
front end's landmarks (detection on a downscaled copy, and a box one pixel wider and taller than dlib's own) differ
from them by ~0.015 IOD, which would otherwise count as generation error. Used by ``scripts/generation_report.py``
(whole pipeline) and :mod:`cmmnet.evaluation.landmark_stages` (stage by stage); docs/landmark-generator.md has the
measured tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..data.proxies import eye_aperture, eye_centres, inter_ocular_distance, lip_corner_distance
from .registry import register_metric

SUMMARY_KEYS = ("no_motion", "typical_smile", "cond_apex", "best_apex", "real_gain", "lm_gain", "mode_mouth_pts",
                "mode_eyes_pts", "min_mode_gain", "jitter", "apex_frame", "onset_s")
PER_LABEL_KEYS = ("lm_gain", "apex_frame", "cond_apex", "onset_s")


def reference_shape(image: np.ndarray) -> np.ndarray | None:
    """68 dlib points (68, 2) of the largest face of an (H, W, 3) uint8 RGB image at full resolution (upsampling
    0, 1, 2 until a face is found), or None: the real shapes the measures compare with."""
    from ..faces.models import frontal_face_detector, shape_predictor

    img = np.ascontiguousarray(image)
    det, sp = frontal_face_detector(), shape_predictor()
    for up in (0, 1, 2):
        rects = det(img, up)
        if rects:
            s = sp(img, max(rects, key=lambda r: r.area()))
            return np.array([[q.x, q.y] for q in s.parts()], dtype=np.float64)
    return None


def canonical(points: np.ndarray) -> np.ndarray:
    """(..., 68, 2) -> the same shapes with the right eye centre at (0, 0) and the left one at (1, 0)."""
    p = np.asarray(points, dtype=np.float64)
    right, left = eye_centres(p)  # (..., 2) each
    d = left - right
    s2 = (d**2).sum(-1)[..., None]  # (..., 1) squared IOD
    q = p - right[..., None, :]  # (..., 68, 2)
    x = (q[..., 0] * d[..., :1] + q[..., 1] * d[..., 1:]) / s2  # rotate by -angle, scale by 1 / IOD
    y = (q[..., 1] * d[..., :1] - q[..., 0] * d[..., 1:]) / s2
    return np.stack([x, y], axis=-1)


def rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS over the 68 points of the point-to-point distance, (..., 68, 2) x2 -> (...)."""
    return np.sqrt(((np.asarray(a, dtype=np.float64) - b) ** 2).sum(-1).mean(-1))


def canonical_rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS distance of two shapes after each is similarity-normalised (IOD units), (...)."""
    return rms(canonical(a), canonical(b))


def inner_mouth_opening(points: np.ndarray) -> np.ndarray:
    """Gap between the inner lips' centres (62-66) over the IOD, (...)."""
    p = np.asarray(points, dtype=np.float64)
    return np.linalg.norm(p[..., 62, :] - p[..., 66, :], axis=-1) / inter_ocular_distance(p)


def apex_frame(sequence: np.ndarray) -> np.ndarray:
    """Frame of widest mouth of (..., T, 68, 2) sequences, (...) int."""
    return lip_corner_distance(sequence).argmax(-1)


def typical_displacement(neutral: np.ndarray, smile: np.ndarray) -> np.ndarray:
    """Mean canonical neutral-to-smile displacement (68, 2) of people's (N, 68, 2) neutral and smiling shapes."""
    return (canonical(smile) - canonical(neutral)).mean(0)


def smile_baselines(neutral: np.ndarray, smile: np.ndarray, displacement: np.ndarray) -> dict[str, float]:
    """"Nothing moved" and "typical smile" distances to the real smile, and the real mouth-width gain."""
    c0, c1 = canonical(neutral), canonical(smile)
    return {"no_motion": float(rms(c0, c1)), "typical_smile": float(rms(c0 + displacement, c1)),
            "real_gain": float(lip_corner_distance(smile) / lip_corner_distance(neutral) - 1)}


@register_metric("smile_generation")
def generation_measures(points: np.ndarray, neutral: np.ndarray, smile: np.ndarray,
                        displacement: np.ndarray) -> dict[str, Any]:
    """The measures of one generation: ``points`` (K+1, T, 68, 2), row 0 the conditional sequence, rows 1..K the
    modes (as drawn, i.e. retargeted onto the person); ``neutral`` / ``smile`` (68, 2) the person's real shapes;
    ``displacement`` (68, 2) the typical smile's canonical displacement (:func:`typical_displacement`)."""
    pts = np.asarray(points, dtype=np.float64)
    c1 = canonical(smile)
    out: dict[str, Any] = smile_baselines(neutral, smile, displacement)
    widths = lip_corner_distance(pts)  # (K+1, T)
    apex = widths.argmax(-1)  # (K+1,)
    apexes = pts[np.arange(len(pts)), apex]  # (K+1, 68, 2)
    dist = rms(canonical(apexes), c1)  # (K+1,)
    gains = widths[np.arange(len(pts)), apex] / widths[:, 0] - 1  # (K+1,)
    out.update(cond_apex=float(dist[0]), best_apex=float(dist.min()), lm_gain=float(gains[0]),
               apex_frame=int(apex[0]), jitter=float(np.abs(np.diff(pts, 2, axis=1)).mean()
                                                      / inter_ocular_distance(pts[0, 0])))
    modes = apexes[1:]
    out.update(mode_mouth_pts=float(np.ptp(inner_mouth_opening(modes))) if len(modes) > 1 else 0.0,
               mode_eyes_pts=float(np.ptp(eye_aperture(modes))) if len(modes) > 1 else 0.0,
               min_mode_gain=float(gains[1:].min()) if len(modes) else float("nan"))
    return out


def seen_widths(frames: Iterable[np.ndarray]) -> np.ndarray:
    """(N,) the lip-corner distance over the IOD that plain dlib (:func:`reference_shape`) reads on each (H, W, 3)
    uint8 frame, upscaled bicubically to a height of 256 px when smaller (as the reference does); NaN where it finds
    no face."""
    from PIL import Image

    widths = []
    for frame in frames:
        h, w = frame.shape[:2]
        if h < 256:
            frame = np.asarray(Image.fromarray(frame).resize((round(w * 256 / h), 256), Image.BICUBIC))
        shape = reference_shape(frame)
        widths.append(np.nan if shape is None else float(lip_corner_distance(shape)))
    return np.asarray(widths, np.float64)


def seen_gain(frames: Iterable[np.ndarray]) -> float | None:
    """The mouth-width gain a viewer sees in rendered frames (the reference's ``seen_gain``): the largest of
    :func:`seen_widths` over frame 0's, minus 1 (:func:`widest_gain`). Frames without a face are skipped; None when
    frame 0 has none."""
    return widest_gain(seen_widths(frames))


def widest_gain(widths: np.ndarray) -> float | None:
    """The largest of ``widths`` (N,) over the first, minus 1, NaN skipped; None when the first is NaN."""
    if not len(widths) or np.isnan(widths[0]):
        return None
    return float(np.nanmax(widths) / widths[0] - 1)


def held_gain(widths: np.ndarray, points: np.ndarray, hold: float = 0.95, rest: float = 0.05) -> float | None:
    """A reading of the seen gain that one frame's noise moves less than :func:`seen_gain`'s (a diagnostic, not the
    reference's definition: its largest reading over all frames against frame 0's alone favours noise upwards, and
    dlib's points are whole pixels, a pixel at each lip corner 3 % of a 65 px mouth): the median of ``widths`` (N,)
    (:func:`seen_widths` of the frames) over the frames where the landmarks ``points`` (N, 68, 2) drawn in them hold
    at least ``hold`` of their largest gain, over its median over the frames where they are within ``rest`` of that
    gain from neutral, minus 1. None when dlib read none of either (or the landmarks do not widen)."""
    lm = lip_corner_distance(np.asarray(points, np.float64))  # (N,)
    gain = lm / lm[0] - 1
    top = float(gain.max())
    held, still = widths[gain >= hold * top], widths[gain <= rest * top]
    if top <= 0 or not np.isfinite(held).any() or not np.isfinite(still).any():
        return None
    return float(np.nanmedian(held) / np.nanmedian(still) - 1)


def onset_seconds(sequence: np.ndarray, fps: float) -> float:
    """The smile's onset of a (T, 68, 2) sequence played at ``fps``: seconds from 10 % to 90 % of its largest
    mouth-width gain (first crossings, linear between frames)."""
    width = lip_corner_distance(np.asarray(sequence, dtype=np.float64))  # (T,)
    gain = width - width[0]
    top = gain.max()
    t = np.arange(len(gain), dtype=np.float64)

    def first(level: float) -> float:
        i = int(np.argmax(gain >= level))
        return float(i if i == 0 else np.interp(level, gain[i - 1:i + 1], t[i - 1:i + 1]))

    return (first(0.9 * top) - first(0.1 * top)) / fps


def sequence_jitter(sequences: np.ndarray) -> float:
    """Mean over sequences (N, T, 68, 2) of the mean absolute second difference over time, over the first
    frame's IOD (the jitter of :func:`generation_measures` for real data)."""
    s = np.asarray(sequences, dtype=np.float64)
    return float((np.abs(np.diff(s, 2, axis=1)).mean((1, 2, 3)) / inter_ocular_distance(s[:, 0])).mean())


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over generations (all, and per label where rows carry ``label``) and the share of generations whose
    conditional apex is closer to the real smile than "nothing moved"."""
    out: dict[str, Any] = {k: float(np.median([r[k] for r in rows])) for k in SUMMARY_KEYS if rows and k in rows[0]}
    out["cond_better_than_no_motion"] = float(np.mean([r["cond_apex"] < r["no_motion"] for r in rows]))
    out["typical_better_than_no_motion"] = float(np.mean([r["typical_smile"] < r["no_motion"] for r in rows]))
    for label in sorted({r["label"] for r in rows if "label" in r}):
        sel = [r for r in rows if r.get("label") == label]
        out[label] = {k: float(np.median([r[k] for r in sel])) for k in PER_LABEL_KEYS if k in sel[0]}
    out["n"] = len(rows)
    return out
