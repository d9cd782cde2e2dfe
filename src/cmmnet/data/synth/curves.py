"""Per-class temporal intensity curves of a neutral-to-smile (N2S) onset: AU12, AU6, AU25 and eye closure.

Each curve is 0 at frame 0 (the neutral face), rises during the onset and then holds (a slow optional decay), over
``T`` frames. Intensity 1 means "as much as in the person's own smiling photo". The classes follow the literature
on posed (deliberate) vs spontaneous smiles (docs/frl-smile.md has the sources and the reasoning):

- posed: faster onset with a higher peak speed, larger amplitude, a less smooth (irregular) onset, and AU6 weaker
  and decoupled from the mouth (peaking later) — Schmidt et al. 2006, 2009; Cohn & Schmidt 2004; Frank & Ekman 1993;
- spontaneous: slower, smooth onset, smaller amplitude tied to the onset duration (bigger smiles take longer), AU6
  (cheek raiser) peaking together with AU12 — Frank & Ekman 1993; Cohn & Schmidt 2004; Dibeklioglu et al. 2012;
- left/right asymmetry is drawn from the same range for both classes (Schmidt et al. 2006 found no difference).

Ranges overlap between the classes, as real classes do. Times are fractions of ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Range = tuple[float, float]


@dataclass(frozen=True)
class ClassCurveConfig:
    """Sampling ranges of one class. Times are fractions of T; amplitudes are fractions of the photo's smile."""

    delay: Range  # frames of neutral before the onset starts
    onset: Range  # onset duration (AU12)
    amplitude: Range  # AU12 apex intensity
    jitter: Range  # onset velocity irregularity (0 = a smooth raised-cosine ramp)
    au6_amplitude: Range  # AU6 apex intensity
    au6_lag: Range  # AU6 onset start after AU12's
    au6_onset: Range  # AU6 onset duration, as a multiple of AU12's
    # Spontaneous: the onset duration follows the amplitude (bigger smiles take longer); 0 = independent.
    amplitude_duration_coupling: float = 0.0
    decay: Range = (0.0, 0.06)  # fall of the intensity over the rest of the clip after the apex


def _posed() -> ClassCurveConfig:
    return ClassCurveConfig(
        delay=(0.02, 0.08),
        onset=(0.55, 0.75),
        amplitude=(0.85, 1.15),
        jitter=(0.25, 0.60),
        au6_amplitude=(0.25, 0.60),
        au6_lag=(0.12, 0.28),
        au6_onset=(1.0, 1.6),
    )


def _spontaneous() -> ClassCurveConfig:
    return ClassCurveConfig(
        delay=(0.02, 0.08),
        onset=(0.72, 0.90),
        amplitude=(0.55, 0.95),
        jitter=(0.0, 0.10),
        au6_amplitude=(0.70, 1.00),
        au6_lag=(-0.03, 0.05),
        au6_onset=(0.85, 1.15),
        amplitude_duration_coupling=0.8,
    )


@dataclass(frozen=True)
class CurveConfig:
    posed: ClassCurveConfig = field(default_factory=_posed)
    spontaneous: ClassCurveConfig = field(default_factory=_spontaneous)
    asymmetry: float = 0.12  # left/right gain drawn from 1 +- U(0, asymmetry), the same for both classes
    au25_lag: Range = (0.0, 0.08)  # lips part after the corners start to pull
    eye_closure_lag: Range = (0.0, 0.05)  # eyes-closed style: lids follow the AU12 onset
    latest_apex: float = 0.92  # every onset ends by this fraction of T


@dataclass(frozen=True)
class SequenceCurves:
    au12: np.ndarray  # (T,) float32
    au6: np.ndarray  # (T,)
    au25: np.ndarray  # (T,) 0..1, lips part (the style decides how far)
    eye_closure: np.ndarray  # (T,) 0..1 (only used by the eyes-closed style)
    side_gain: tuple[float, float]  # AU12/AU6 gain on the image-left and image-right half of the face
    params: dict


def _ramp(t: np.ndarray, start: float, duration: float, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """0 before ``start``, rising to 1 at ``start + duration`` (raised cosine; ``jitter`` makes the velocity
    irregular frame to frame), then 1."""
    dt = 0.05
    fine = np.arange(0.0, t[-1] + dt, dt)
    x = np.clip((fine - start) / max(duration, 1e-3), 0.0, 1.0)
    vel = np.diff(0.5 - 0.5 * np.cos(np.pi * x), prepend=0.0)
    if jitter > 0:
        # irregular bursts: a random multiplier per frame, held over the frame
        bursts = 1.0 + jitter * rng.uniform(-1.0, 1.0, size=len(t) + 1)
        vel = vel * bursts[np.minimum((fine).astype(int), len(t))]
    cum = np.cumsum(vel)
    cum = cum / max(cum[-1], 1e-9)
    return np.interp(t, fine, cum)


def _hold(curve: np.ndarray, apex: float, decay: float, T: int) -> np.ndarray:
    t = np.arange(T)
    fall = 1.0 - decay * np.clip(t - apex, 0, None) / T
    return curve * fall


def sample_curves(label: str, T: int, rng: np.random.Generator, config: CurveConfig | None = None) -> SequenceCurves:
    """Draw one sequence's curves for ``label`` ("posed" or "spontaneous")."""
    cfg = config or CurveConfig()
    if label not in ("posed", "spontaneous"):
        raise ValueError(f"unknown label {label!r}")
    c: ClassCurveConfig = getattr(cfg, label)
    u = rng.uniform
    t = np.arange(T, dtype=np.float64)
    last = cfg.latest_apex * (T - 1)

    amp = u(*c.amplitude)
    delay = u(*c.delay) * T
    if c.amplitude_duration_coupling > 0:
        a01 = (amp - c.amplitude[0]) / (c.amplitude[1] - c.amplitude[0])
        mix = c.amplitude_duration_coupling * a01 + (1 - c.amplitude_duration_coupling) * u(0, 1)
        onset = (c.onset[0] + mix * (c.onset[1] - c.onset[0])) * T
    else:
        onset = u(*c.onset) * T
    onset = min(onset, last - delay)
    jitter = u(*c.jitter)
    ramp12 = _ramp(t, delay, onset, jitter, rng)
    decay = u(*c.decay)
    au12 = _hold(amp * ramp12, delay + onset, decay, T)

    amp6 = u(*c.au6_amplitude)
    delay6 = max(0.5, delay + u(*c.au6_lag) * T)
    onset6 = onset * u(*c.au6_onset)
    if delay6 + onset6 > last:  # keep the AU6 apex inside the clip: shorten the onset, then the lag
        onset6 = max(last - delay6, 0.5 * onset)
        delay6 = min(delay6, last - onset6)
    au6 = _hold(amp6 * _ramp(t, delay6, onset6, jitter, rng), delay6 + onset6, decay, T)

    delay25 = delay + u(*cfg.au25_lag) * T
    au25 = _ramp(t, delay25, min(onset, last - delay25), 0.0, rng)
    delay_ec = delay + u(*cfg.eye_closure_lag) * T
    eye_closure = _ramp(t, delay_ec, min(onset, last - delay_ec), 0.0, rng)

    gains = tuple(float(1.0 + u(-cfg.asymmetry, cfg.asymmetry)) for _ in range(2))
    params = {
        "amplitude": amp, "delay": delay, "onset": onset, "jitter": jitter, "decay": decay,
        "au6_amplitude": amp6, "au6_delay": delay6, "au6_onset": onset6,
    }
    for arr in (au12, au6, au25, eye_closure):
        arr[0] = 0.0
    return SequenceCurves(
        au12.astype(np.float32), au6.astype(np.float32), au25.astype(np.float32), eye_closure.astype(np.float32),
        gains, {k: float(v) for k, v in params.items()},
    )
