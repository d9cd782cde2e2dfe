"""The metrics of the paper's evaluation (§4.3), each a small registered function returning a dict.

Arrays follow the dataset format: videos are ``(N, T, 3, S, S)`` uint8 RGB, landmarks ``(N, T, 68, 2)`` float in
pixels of the aligned ``S x S`` image. Every metric is deterministic.

- ``ssim``: structural similarity [47] between generated and real frames (Table 1).
- ``inception_score`` / ``delta_is``: Inception Score [33] from class probabilities, and |IS(gen) - IS(real)|
  (Table 1). The probabilities come from :mod:`cmmnet.models.inception` (user-given weights).
- ``au_curves``: AU6 (cheek raiser) and AU12 (lip corner puller) intensity curves from the landmark proxies of
  :mod:`cmmnet.data.proxies`, smoothed with a 5-frame window and averaged over the test set (Fig. 8).
- ``au_curve_distance``: the cumulative distance between a model's mean curve and the real one (Table 3).
- ``mode_diversity``: how far apart a model's K modes are (§4.2, Fig. 6).
- ``mode_style_agreement``: where the hidden style of each training sequence is known (FRL-Smile), how well the
  K modes line up with the styles (one-to-one purity and normalised mutual information).
- ``identity_distance``: dlib's 128-D face descriptor distance between the neutral input face and the generated
  frames (dlib's own same-person threshold is 0.6).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..data import proxies
from ..errors import CmmnetError
from .registry import register_metric

AU_NAMES = ("au6", "au12")  # the two AUs of Fig. 4 and Fig. 8
DLIB_SAME_PERSON = 0.6  # dlib's documented threshold for its face descriptor


def _videos(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 5 or a.shape[2] != 3:
        raise ValueError(f"{name}: expected (N, T, 3, S, S) videos, got shape {a.shape}")
    return a


# ----------------------------------------------------------------------------------------------------- SSIM
SSIM_WINDOW = 7  # skimage's default (uniform 7x7 window, sample covariance, K1 = 0.01, K2 = 0.03)


def ssim_maps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM maps (Wang et al. 2004) of paired images ``(M, C, S, S)`` uint8 -> ``(M, S - 6, S - 6)`` float64,
    channels averaged: entry (i, j) is the SSIM of the 7x7 windows centred on pixel (i + 3, j + 3), as skimage's
    ``structural_similarity(..., full=True)`` map without its border (the pixels whose windows leave the image)."""
    import torch
    import torch.nn.functional as F

    w = SSIM_WINDOW
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cov_norm = w * w / (w * w - 1.0)
    x = torch.from_numpy(np.ascontiguousarray(a)).double()  # (M, C, S, S)
    y = torch.from_numpy(np.ascontiguousarray(b)).double()
    ux, uy = F.avg_pool2d(x, w, 1), F.avg_pool2d(y, w, 1)  # (M, C, S-6, S-6)
    vx = cov_norm * (F.avg_pool2d(x * x, w, 1) - ux * ux)
    vy = cov_norm * (F.avg_pool2d(y * y, w, 1) - uy * uy)
    vxy = cov_norm * (F.avg_pool2d(x * y, w, 1) - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))  # (M, C, S-6, S-6)
    return s.mean(1).numpy()


def ssim_frames(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """SSIM (Wang et al. 2004) of paired images ``(M, 3, S, S)`` uint8 -> ``(M,)``, vectorised.

    Exactly skimage's ``structural_similarity(x, y, channel_axis=0, data_range=255)`` per pair (uniform 7x7
    window, sample covariance, the border of half a window dropped from the mean, channels averaged; the tests
    check the equality). The kept pixels' windows lie inside the image, so skimage's padded filter followed by
    its crop equals an unpadded 7x7 mean filter ("valid" average pooling, float64): the mean of :func:`ssim_maps`.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim_frames: expected two equal (M, C, S, S) arrays, got {a.shape} and {b.shape}")
    out = [ssim_maps(a[i:i + chunk], b[i:i + chunk]).mean((1, 2)) for i in range(0, len(a), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


@register_metric("ssim")
def ssim(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Mean SSIM over all frames of paired generated and real videos, both ``(N, T, 3, S, S)`` uint8.

    Frame t of generated video n is compared with frame t of real video n (the same person, label and neutral
    face). Returns ``ssim`` (mean over videos and frames) and ``ssim_std`` (std of the per-video means).
    """
    g, r = _videos(generated, "generated"), _videos(real, "real")
    if g.shape != r.shape:
        raise ValueError(f"ssim: generated {g.shape} and real {r.shape} differ in shape")
    n, t = g.shape[:2]
    per_video = ssim_frames(g.reshape(n * t, *g.shape[2:]), r.reshape(n * t, *r.shape[2:])).reshape(n, t).mean(1)
    return {"ssim": float(per_video.mean()), "ssim_std": float(per_video.std())}


# ------------------------------------------------------------------------------------------- Inception Score
@register_metric("inception_score")
def inception_score(probs: np.ndarray, splits: int = 10) -> dict[str, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities ``(M, C)`` (Salimans et al.).

    As the usual implementation, the M samples are cut into ``splits`` equal parts (at most M), the score is
    computed on each, and the mean and std over parts are returned (``is``, ``is_std``). A classifier that is
    uniform on every input scores 1; one that puts all mass on one of C classes, equally often, scores C.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"inception_score: expected (M, C) probabilities, got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(1), 1.0, atol=1e-4):
        raise ValueError("inception_score: rows must be probability vectors (softmax outputs)")
    splits = max(1, min(int(splits), len(p)))
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)  # (1, C) marginal p(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(1)  # (m,)
        scores.append(float(np.exp(kl.mean())))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores))}


@register_metric("delta_is")
def delta_is(is_generated: float, is_real: float) -> dict[str, float]:
    """ΔIS = |IS(generated) - IS(real)| (Table 1): how close the generated images' score is to the real one's."""
    return {"delta_is": float(abs(is_generated - is_real))}


# --------------------------------------------------------------------------------------------------- AU curves
def au_intensities(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame AU6 / AU12 intensities ``(N, T)`` of landmark sequences ``(N, T, 68, 2)``, relative to frame 0."""
    curves = proxies.au_curves(np.asarray(landmarks, dtype=np.float64))
    return {name: curves[name] for name in AU_NAMES}


@register_metric("au_curves")
def au_curves(landmarks: np.ndarray, window: int = 5) -> dict[str, np.ndarray]:
    """Fig. 8: each sequence's AU6 and AU12 curves smoothed with a ``window``-frame moving average, then averaged
    over the sequences. Returns ``{"au6": (T,), "au12": (T,)}``."""
    lm = np.asarray(landmarks)
    if lm.ndim != 4 or lm.shape[-2:] != (68, 2) or len(lm) == 0:
        raise ValueError(f"au_curves: expected (N, T, 68, 2) landmarks with N > 0, got {lm.shape}")
    return {name: proxies.smooth_curve(c, window).mean(0) for name, c in au_intensities(lm).items()}


def curve_distance(curve: np.ndarray, reference: np.ndarray) -> float:
    """Cumulative distance between two curves ``(T,)``: the sum over frames of the absolute difference."""
    a, b = np.asarray(curve, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"curve_distance: curves must be equal-length 1-D arrays, got {a.shape} and {b.shape}")
    return float(np.abs(a - b).sum())


@register_metric("au_curve_distance")
def au_curve_distance(curves: dict[str, np.ndarray], real_curves: dict[str, np.ndarray]) -> dict[str, float]:
    """Table 3: cumulative distance between a model's mean AU curves and the real ones (``au6_distance``,
    ``au12_distance``, and their sum ``au_distance``)."""
    out = {f"{name}_distance": curve_distance(curves[name], real_curves[name]) for name in AU_NAMES}
    out["au_distance"] = float(sum(out.values()))
    return out


# ------------------------------------------------------------------------------------------------ modes
def _mode_features(modes: np.ndarray) -> np.ndarray:
    m = np.asarray(modes, dtype=np.float64)
    if m.ndim < 3:
        raise ValueError(f"modes: expected (N, K, ...) with K modes per input, got shape {m.shape}")
    return m.reshape(m.shape[0], m.shape[1], -1)


@register_metric("mode_diversity")
def mode_diversity(modes: np.ndarray) -> dict[str, float]:
    """Mean distance between the K modes generated for one input, averaged over inputs.

    ``modes`` is ``(N, K, ...)``, typically landmark sequences ``(N, K, T, 68, 2)``: the distance of two modes is
    the root-mean-square difference of their entries (for landmarks: pixels). ``mode_diversity`` is 0 when all
    modes are equal.
    """
    f = _mode_features(modes)
    k = f.shape[1]
    if k < 2:
        return {"mode_diversity": 0.0}
    d = [np.sqrt(((f[:, i] - f[:, j]) ** 2).mean(1)) for i, j in itertools.combinations(range(k), 2)]
    return {"mode_diversity": float(np.mean(d))}


def _nmi(counts: np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean normalisation) of a contingency table."""
    p = counts / max(counts.sum(), 1)
    pa, pb = p.sum(1), p.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.nansum(np.where(p > 0, p * np.log(p / np.outer(pa, pb)), 0.0))
        ha = -np.nansum(np.where(pa > 0, pa * np.log(pa), 0.0))
        hb = -np.nansum(np.where(pb > 0, pb * np.log(pb), 0.0))
    denom = 0.5 * (ha + hb)
    return float(mi / denom) if denom > 0 else 0.0


@register_metric("mode_style_agreement")
def mode_style_agreement(modes: np.ndarray, style_prototypes: np.ndarray) -> dict[str, Any]:
    """How well the K modes match the known hidden styles.

    ``modes`` ``(N, K, ...)`` are the K generated sequences per input; ``style_prototypes`` ``(P, ...)`` the mean
    real sequence of each of the P styles (same trailing shape). Each generated sequence is assigned to its
    nearest prototype; the K x P table of counts gives ``mode_style_purity`` (fraction of sequences on the best
    one-to-one mode-to-style matching, Hungarian; 1 when every mode always lands on its own style) and
    ``mode_style_nmi`` (normalised mutual information). ``contingency`` is the table itself.
    """
    from scipy.optimize import linear_sum_assignment

    f = _mode_features(modes)
    protos = np.asarray(style_prototypes, dtype=np.float64).reshape(len(style_prototypes), -1)
    if protos.shape[1] != f.shape[2]:
        raise ValueError(f"mode_style_agreement: prototypes {protos.shape} do not match modes {f.shape}")
    d = ((f[:, :, None, :] - protos[None, None]) ** 2).sum(-1)  # (N, K, P)
    nearest = d.argmin(-1)  # (N, K)
    k, p = f.shape[1], len(protos)
    counts = np.zeros((k, p), dtype=np.int64)
    for mode in range(k):
        counts[mode] = np.bincount(nearest[:, mode], minlength=p)
    rows, cols = linear_sum_assignment(-counts)
    purity = counts[rows, cols].sum() / max(counts.sum(), 1)
    return {"mode_style_purity": float(purity), "mode_style_nmi": _nmi(counts), "contingency": counts.tolist()}


# -------------------------------------------------------------------------------------------------- identity
class FaceDescriptor:
    """dlib's ResNet face descriptor (128-D) for aligned faces whose 68 landmarks are known.

    Small aligned faces (64 px) are upscaled by ``upscale`` (nearest integer factor reaching ~256 px) before the
    descriptor, which itself resamples a 150x150 chip from the landmarks.
    """

    def __init__(self, target_size: int = 256):
        from ..faces.models import face_recognition_model

        self.model = face_recognition_model()
        self.target_size = target_size

    def __call__(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """``image`` (3, S, S) or (S, S, 3) uint8, ``landmarks`` (68, 2) in its pixels -> (128,) float64."""
        import dlib

        img = np.asarray(image)
        if img.ndim == 3 and img.shape[0] == 3 and img.shape[-1] != 3:
            img = img.transpose(1, 2, 0)
        f = max(1, int(round(self.target_size / max(img.shape[:2]))))
        if f > 1:
            img = np.repeat(np.repeat(img, f, 0), f, 1)
        pts = (np.asarray(landmarks, dtype=np.float64) + 0.5) * f - 0.5
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        rect = dlib.rectangle(int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1)))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
        return np.asarray(self.model.compute_face_descriptor(np.ascontiguousarray(img), shape), dtype=np.float64)


@register_metric("identity_distance")
def identity_distance(
    neutral: np.ndarray,
    neutral_landmarks: np.ndarray,
    generated: np.ndarray,
    generated_landmarks: np.ndarray,
    descriptor: FaceDescriptor | None = None,
    frames: tuple[int, ...] | None = None,
) -> dict[str, float]:
    """dlib face-descriptor distance between each input's neutral face and its generated frames.

    ``neutral`` ``(N, 3, S, S)``, ``neutral_landmarks`` ``(N, 68, 2)``, ``generated`` ``(N, T, 3, S, S)``,
    ``generated_landmarks`` ``(N, T, 68, 2)`` (from the generator or from detection on the frames). ``frames``
    limits the frames compared (default: all). Returns ``identity_distance`` (mean) and ``identity_same``
    (fraction of frames under dlib's 0.6 same-person threshold).
    """
    desc = descriptor or FaceDescriptor()
    g = _videos(generated, "generated")
    ts = list(frames) if frames is not None else list(range(g.shape[1]))
    if not ts:
        raise CmmnetError("identity_distance: no frames selected")
    dists = []
    for n in range(len(g)):
        ref = desc(neutral[n], neutral_landmarks[n])
        for t in ts:
            dists.append(float(np.linalg.norm(desc(g[n, t], generated_landmarks[n, t]) - ref)))
    d = np.asarray(dists)
    return {"identity_distance": float(d.mean()), "identity_same": float((d < DLIB_SAME_PERSON).mean())}
