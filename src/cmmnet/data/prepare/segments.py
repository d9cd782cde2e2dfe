"""Neutral-to-smile (N2S) phases from AU6 (cheek raiser) and AU12 (lip corner puller) intensities, paper §4.1.

Intensities are on the FACS label scale 0-5 (DISFA / DISFA+ ship them; for UvA-NEMO and plain folders they come
from the landmark proxies of :mod:`cmmnet.data.proxies`, scaled by :class:`SegmentConfig` to that scale). The smile
intensity is ``s = AU12 + au6_weight * AU6``, smoothed. A phase starts at the bottom of the rise (the local
minimum at or before the last near-neutral frame, ``s <= neutral_level``) before ``s`` reaches ``min_peak``, and
ends at the apex (the first frame reaching ``apex_fraction`` of that smile's peak). Smiles are separated by a
return to near-neutral (hysteresis). T frames are then taken from the phase (:func:`sample_phase`).
See docs/datasets.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import proxies


@dataclass(frozen=True)
class SegmentConfig:
    T: int = 32  # frames per sequence (the paper's average N2S length)
    smooth: int = 5  # moving-average window (frames) applied to the smile intensity before thresholding
    # s = AU12 + au6_weight * AU6: AU12 defines a smile, AU6 supports it (weakly: many posed smiles lack it)
    au6_weight: float = 0.25
    neutral_level: float = 0.5  # s at or below this is "neutral" (label scale 0-5; FACS trace A = 1)
    min_peak: float = 1.5  # a smile must reach this s (between FACS A and B)
    apex_fraction: float = 0.9  # the phase ends at the first frame reaching this fraction of the smile's peak
    # A phase longer than T: "uniform" = T frames spread evenly from neutral to apex (whole onset, time-normalised);
    # "first" = the first T frames (true speed, may stop before the apex); "last" = the T frames ending at the apex.
    long_phase: Literal["uniform", "first", "last"] = "uniform"
    # Landmark proxies -> label scale: a lip-corner widening of 0.2 inter-ocular distances ~ AU12 intensity 5
    # (FRL-London's posed smiles widen by 0.12 +- 0.06 -> ~3); a lower-lid raise of 0.5 neutral eye apertures ~ AU6 5.
    proxy_au12_scale: float = 25.0
    proxy_au6_scale: float = 10.0
    # Proxy baseline (the subject's neutral value): this percentile of the smoothed proxy over the video.
    baseline_percentile: float = 10.0


@dataclass(frozen=True)
class Phase:
    start: int  # the neutral frame where the rise begins
    apex: int  # first frame at apex_fraction of the peak
    peak: float  # peak smoothed intensity of this smile

    @property
    def length(self) -> int:
        return self.apex - self.start + 1


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaNs (edges: nearest valid value); all-NaN stays NaN."""
    x = np.asarray(x, dtype=np.float64).copy()
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x
    idx = np.arange(len(x))
    x[~ok] = np.interp(idx[~ok], idx[ok], x[ok])
    return x


def proxy_intensities(landmarks: np.ndarray, cfg: SegmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """AU12 and AU6 intensities (n,) on the 0-5 label scale from landmarks (n, 68, 2); NaN frames are interpolated.

    Both are changes from the subject's neutral value (the ``baseline_percentile`` of the smoothed proxy), clipped
    at 0: AU12 from the lip-corner distance (:func:`proxies.au12_proxy`), AU6 from the lower-lid raise
    (:func:`proxies.lower_lid_drop`) relative to the neutral eye aperture (as in :func:`proxies.au_curves`).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    valid = np.isfinite(lm).all(axis=(1, 2))
    if not valid.any():
        nan = np.full(len(lm), np.nan)
        return nan, nan
    safe = np.where(valid[:, None, None], lm, lm[valid][0])
    a12 = _fill_nan(np.where(valid, proxies.au12_proxy(safe), np.nan))
    drop = _fill_nan(np.where(valid, proxies.lower_lid_drop(safe), np.nan))
    ap = _fill_nan(np.where(valid, proxies.eye_aperture(safe), np.nan))
    a12s = proxies.smooth_curve(a12, cfg.smooth)
    drops = proxies.smooth_curve(drop, cfg.smooth)
    base12 = np.percentile(a12s, cfg.baseline_percentile)
    base_drop = np.percentile(drops, 100.0 - cfg.baseline_percentile)  # neutral lids hang lowest
    ap0 = max(float(np.percentile(ap, 50.0)), 0.03)
    au12 = np.clip((a12 - base12) * cfg.proxy_au12_scale, 0.0, 5.0)
    au6 = np.clip((base_drop - drop) / ap0 * cfg.proxy_au6_scale, 0.0, 5.0)
    return au12.astype(np.float32), au6.astype(np.float32)


def smile_intensity(au12: np.ndarray, au6: np.ndarray | None, cfg: SegmentConfig) -> np.ndarray:
    """Smoothed smile intensity s (n,) from AU12 and (optionally) AU6 on the label scale."""
    s = _fill_nan(au12)
    if au6 is not None:
        s = s + cfg.au6_weight * _fill_nan(au6)
    return proxies.smooth_curve(s, cfg.smooth)


def find_phases(s: np.ndarray, cfg: SegmentConfig) -> list[Phase]:
    """All N2S phases of a smoothed smile intensity curve, in time order."""
    s = np.asarray(s, dtype=np.float64)
    n = len(s)
    phases: list[Phase] = []
    t = 0
    last_neutral = -1  # last frame with s <= neutral_level seen so far (-1: the video starts mid-smile)
    while t < n:
        if s[t] <= cfg.neutral_level:
            last_neutral = t
            t += 1
            continue
        if s[t] < cfg.min_peak:
            t += 1
            continue
        # s reached min_peak: this smile lasts until s returns to neutral
        end = t
        while end < n and s[end] > cfg.neutral_level:
            end += 1
        if last_neutral >= 0:  # a smile already under way when the video starts has no neutral onset
            peak = float(s[t:end].max())
            apex = last_neutral + int(np.argmax(s[last_neutral:end] >= cfg.apex_fraction * peak))
            # the onset: walk back from the last neutral frame to the bottom of the rise (a local minimum)
            start = last_neutral
            floor = phases[-1].apex if phases else 0
            while start > floor and s[start - 1] < s[start]:
                start -= 1
            phases.append(Phase(int(start), int(apex), peak))
        t = end
    return phases


def sample_phase(phase: Phase, n_frames: int, cfg: SegmentConfig) -> np.ndarray | None:
    """T frame indices (T,) int from a phase: the whole phase padded with the following frames when it is
    shorter than T (earlier frames are prepended when the video ends first), or T frames chosen by
    ``cfg.long_phase`` when it is longer. None when the video has fewer than T frames."""
    t = cfg.T
    if n_frames < t:
        return None
    if phase.length <= t:
        start = min(phase.start, n_frames - t)
        return np.arange(start, start + t)
    if cfg.long_phase == "uniform":
        return np.round(np.linspace(phase.start, phase.apex, t)).astype(np.int64)
    if cfg.long_phase == "first":
        return np.arange(phase.start, phase.start + t)
    return np.arange(phase.apex - t + 1, phase.apex + 1)
