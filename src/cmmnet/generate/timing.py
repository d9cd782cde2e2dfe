"""Timing and intensity of the generated motion: the one step between the landmark generator and the renderer, so
every renderer (and every command: generate, demo, app, augment) gets the same clip.

The landmark generator makes T frames (T = 32) of a smile's onset, neutral -> apex, at the frame rate of its
training data (FRL-Smile's curves: 50 fps, so T = 32 spans 0.62 s). Videos play at :attr:`TimingConfig.fps`; by
default the onset keeps its real speed (``frames = None``: as many frames as the onset lasts at ``fps``) and the
clip is shaped as real ones are: neutral (``lead_s``) -> smile -> a short hold at the apex (``hold_s``) -> back to
neutral (the onset reversed) -> neutral (``tail_s``); about 2 s at 25 fps. ``ending = "apex"`` gives the onset only.

Resampling in time is monotone cubic (PCHIP: smooth, and never past the values it interpolates, so the apex is
not exaggerated); ``intensity`` scales the motion around the first (neutral) frame, ``p_t' = p_0 + a (p_t - p_0)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import CmmnetError
from ..interpolate import pchip

MAX_INTENSITY = 2.0
MAX_FRAMES = 2000  # onset frames; beyond that a clip is more than a minute long at 30 fps
MAX_FPS = 120


@dataclass(frozen=True)
class TimingConfig:
    intensity: float = 1.0  # the motion around the neutral face, scaled: 0 = the neutral face throughout, 2 = twice
    frames: int | None = None  # frames of the onset (the T generated ones resampled); None = real speed at `fps`
    fps: int = 25  # video frame rate
    ending: Literal["return", "apex"] = "return"  # return: neutral -> smile -> hold -> neutral; apex: ends at apex
    lead_s: float = 0.2  # neutral before the smile starts (ending "return")
    hold_s: float = 0.4  # held at the apex (ending "return")
    tail_s: float = 0.12  # neutral after the return (ending "return")

    def __post_init__(self):
        if not 0.0 <= self.intensity <= MAX_INTENSITY:
            raise CmmnetError(f"intensity {self.intensity}: must be between 0 and {MAX_INTENSITY:g} (1 = as generated)")
        if self.frames is not None and not 2 <= self.frames <= MAX_FRAMES:
            raise CmmnetError(f"frames {self.frames}: must be between 2 and {MAX_FRAMES} (or unset: real speed)")
        if not 1 <= self.fps <= MAX_FPS:
            raise CmmnetError(f"fps {self.fps}: must be between 1 and {MAX_FPS}")
        if self.ending not in ("return", "apex"):
            raise CmmnetError(f"ending {self.ending!r}: use return (back to neutral) or apex")
        if min(self.lead_s, self.hold_s, self.tail_s) < 0:
            raise CmmnetError("lead, hold and tail times must be 0 s or more")

    @classmethod
    def as_generated(cls, T: int) -> TimingConfig:
        """The T generated frames as they are: no resampling, intensity 1, ending at the apex."""
        return cls(frames=T, ending="apex")


def frames_for_onset(seconds: float, fps: int) -> int:
    """:attr:`TimingConfig.frames` for an onset lasting ``seconds`` at ``fps`` (the real one: (T - 1) / data fps)."""
    return max(2, round(seconds * fps) + 1)


def onset_frames(T: int, data_fps: float, cfg: TimingConfig) -> int:
    """Frames the onset takes in the video: ``cfg.frames``, or its real duration ``(T - 1) / data_fps`` at
    ``cfg.fps`` (at least 2)."""
    return cfg.frames if cfg.frames is not None else frames_for_onset((T - 1) / data_fps, cfg.fps)


def source_times(T: int, data_fps: float, cfg: TimingConfig) -> np.ndarray:
    """(N,) float64: for each video frame, the time in generated frames (0 .. T-1) it shows."""
    onset = np.linspace(0.0, T - 1, onset_frames(T, data_fps, cfg))  # ends exactly on the first and last frame
    if cfg.ending == "apex":
        return onset

    def still(t: float, seconds: float) -> np.ndarray:
        return np.full(round(seconds * cfg.fps), t)

    return np.concatenate([still(0.0, cfg.lead_s), onset, still(T - 1.0, cfg.hold_s), onset[::-1],
                           still(0.0, cfg.tail_s)])


def resample(seq: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``seq`` (B, T, ...) at fractional frame ``times`` (N,) -> (B, N, ...), monotone cubic (PCHIP) along axis 1."""
    T = seq.shape[1]
    if np.allclose(times, np.round(times)):  # whole frames: copied, bit for bit
        return np.take(seq, np.round(times).astype(int), axis=1)
    out = pchip(np.arange(T), np.moveaxis(seq, 1, 0), times)  # (N, B, ...)
    return np.moveaxis(out, 0, 1).astype(seq.dtype)


def scale_motion(points: np.ndarray, intensity: float) -> np.ndarray:
    """(B, T, 68, 2) -> the motion around each sequence's first frame scaled by ``intensity``."""
    if intensity == 1.0:
        return points
    p0 = points[:, :1]  # (B, 1, 68, 2)
    return (p0 + np.float32(intensity) * (points - p0)).astype(points.dtype)


def retime(seq: np.ndarray, data_fps: float, cfg: TimingConfig,
           kind: Literal["points", "images"] = "points") -> tuple[np.ndarray, np.ndarray]:
    """The timing step: generated sequences ``seq`` (B, T, ...) -> the video's (B, N, ...) and the source time of
    each video frame (N,). Landmark ``points`` (B, T, 68, 2) have their motion scaled by ``intensity``; ``images``
    (the VAE decoder's) are only resampled and need ``intensity = 1``."""
    if kind == "images" and cfg.intensity != 1.0:
        raise CmmnetError("intensity needs landmark points: use landmark_input retargeted or redrawn, not decoded")
    times = source_times(seq.shape[1], data_fps, cfg)
    return resample(scale_motion(seq, cfg.intensity) if kind == "points" else seq, times), times

