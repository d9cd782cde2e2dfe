"""Smile measures (IOD units after similarity normalisation): geometry properties, the reference's definitions, and
hand-built generations whose measures are known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmmnet.evaluation import smile_measures as sm


def _ring(n: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """n points on an ellipse from the image-left end over the top (iBUG order for eyes and lips)."""
    a = np.pi - 2 * np.pi * np.arange(n) / n
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], -1)


def _face() -> np.ndarray:
    """(68, 2) a schematic frontal face in px, iBUG order, IOD 20 px."""
    jaw = np.stack([32 - 24 * np.cos(np.linspace(0, np.pi, 17)), 30 + 24 * np.sin(np.linspace(0, np.pi, 17))], -1)
    brows = np.concatenate([np.stack([np.linspace(14, 28, 5), np.full(5, 18.0)], -1),
                            np.stack([np.linspace(36, 50, 5), np.full(5, 18.0)], -1)])
    nose = np.concatenate([np.stack([np.full(4, 32.0), np.linspace(24, 36, 4)], -1),
                           np.stack([np.linspace(28, 36, 5), np.full(5, 38.0)], -1)])
    eyes = np.concatenate([_ring(6, 22, 24, 4, 1.5), _ring(6, 42, 24, 4, 1.5)])
    lips = np.concatenate([_ring(12, 32, 46, 8, 3), _ring(8, 32, 46, 6, 0.5)])
    return np.concatenate([jaw, brows, nose, eyes, lips])


def _similarity(p: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * p @ np.array([[c, s], [-s, c]]) + np.asarray(shift)


def _reference_canon(p: np.ndarray) -> np.ndarray:
    """shared/tools/smile_quality.py's canon(), as written there."""
    left, right = p[36:42].mean(0), p[42:48].mean(0)
    d = right - left
    s = np.linalg.norm(d)
    c, si = d / s
    rot = np.array([[c, si], [-si, c]]) / s
    return (p - left) @ rot.T


@pytest.mark.parametrize("seed", range(5))
def test_canonical_matches_reference_and_is_similarity_invariant(seed):
    rng = np.random.default_rng(seed)
    p = _face() + rng.normal(0, 0.5, (68, 2))
    q = _similarity(p, rng.uniform(-0.6, 0.6), rng.uniform(0.3, 4), tuple(rng.uniform(-50, 50, 2)))
    np.testing.assert_allclose(sm.canonical(p), _reference_canon(p), atol=1e-12)
    np.testing.assert_allclose(sm.canonical(q), sm.canonical(p), atol=1e-9)
    right, left = sm.canonical(p)[36:42].mean(0), sm.canonical(p)[42:48].mean(0)
    np.testing.assert_allclose([right, left], [[0, 0], [1, 0]], atol=1e-12)
    assert sm.canonical_rms(p, q) < 1e-9


def test_rms_in_iod_units():
    p = _face()
    iod = np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0))
    q = p.copy()
    q[48:68] += [0.0, 0.1 * iod]  # the mouth (20 of 68 points) drops by 0.1 IOD
    assert sm.canonical_rms(p, q) == pytest.approx(0.1 * np.sqrt(20 / 68), rel=1e-9)


def _smile(p: np.ndarray, amount: float) -> np.ndarray:
    """Widen the mouth symmetrically by ``amount`` (fraction of its width) and part the inner lips."""
    q = p.copy()
    c = q[48:68].mean(0)
    q[48:68, 0] = c[0] + (q[48:68, 0] - c[0]) * (1 + amount)
    q[66, 1] += 4 * amount
    return q


def test_generation_measures_of_a_known_generation():
    neutral = _face()
    smile = _smile(neutral, 0.2)
    t = np.linspace(0, 1, 32)
    cond = np.stack([_smile(neutral, 0.2 * a) for a in t])  # reaches the real smile exactly at the last frame
    modes = [np.stack([_smile(neutral, f * a) for a in t]) for f in (0.1, 0.2, 0.3)]
    pts = np.stack([cond, *modes])  # (4, 32, 68, 2)
    zero = np.zeros((68, 2))
    m = sm.generation_measures(pts, neutral, smile, zero)
    assert m["apex_frame"] == 31 and m["cond_apex"] < 1e-9 and m["best_apex"] < 1e-9
    assert m["typical_smile"] == pytest.approx(m["no_motion"])  # a zero displacement is "nothing moved"
    assert m["lm_gain"] == pytest.approx(m["real_gain"]) == pytest.approx(0.2, rel=1e-6)
    assert m["min_mode_gain"] == pytest.approx(0.1, rel=1e-6)
    iod = np.linalg.norm(neutral[42:48].mean(0) - neutral[36:42].mean(0))
    assert m["mode_mouth_pts"] == pytest.approx(4 * 0.2 / iod, rel=1e-6)  # inner-lip gap 0.4 vs 1.2 px
    assert m["mode_eyes_pts"] == pytest.approx(0.0, abs=1e-12)
    assert m["jitter"] < 1e-6  # widening linear in time: no second difference (up to the lip parting's rounding)
    shaky = pts.copy()
    shaky[:, 1::2] += 1.0
    assert sm.generation_measures(shaky, neutral, smile, zero)["jitter"] == pytest.approx(2.0 / iod, rel=1e-6)


def test_summarize_medians_and_share():
    rows = [{"no_motion": 0.05, "typical_smile": 0.04, "cond_apex": c, "label": lab, "lm_gain": 0.1,
             "apex_frame": 10} for c, lab in ((0.03, "posed"), (0.06, "posed"), (0.04, "spontaneous"))]
    s = sm.summarize(rows)
    assert s["cond_apex"] == pytest.approx(0.04) and s["cond_better_than_no_motion"] == pytest.approx(2 / 3)
    assert s["typical_better_than_no_motion"] == 1.0 and s["posed"]["cond_apex"] == pytest.approx(0.045)
    assert s["n"] == 3


def test_typical_displacement_is_mean_canonical_motion():
    a = _face()
    pairs_n = np.stack([a, _similarity(a, 0.3, 2.0, (5.0, -3.0))])
    pairs_s = np.stack([_smile(a, 0.2), _similarity(_smile(a, 0.2), 0.3, 2.0, (5.0, -3.0))])
    d = sm.typical_displacement(pairs_n, pairs_s)
    np.testing.assert_allclose(d, sm.canonical(_smile(a, 0.2)) - sm.canonical(a), atol=1e-9)


@given(st.floats(0.005, 0.05), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_along_contour_splits_sliding_from_moving_off_the_line(step, seed):
    """Jaw points slid along the jaw line err along it only; moved along its normal, across it only."""
    from cmmnet.evaluation.landmark_stages import along_contour

    rng = np.random.default_rng(seed)
    truth = _similarity(_face(), rng.uniform(-0.3, 0.3), rng.uniform(0.5, 3), tuple(rng.uniform(-50, 50, 2)))[None]
    jaw = truth[0, :17]
    tangent = np.gradient(jaw, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    iod = np.linalg.norm(truth[0, 42:48].mean(0) - truth[0, 36:42].mean(0))
    slid = truth.copy()
    slid[0, :17] += step * iod * tangent  # (1, 68, 2) sliding along a line of near-constant direction
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    off = truth.copy()
    off[0, :17] += step * iod * normal
    a, b = along_contour(slid, truth), along_contour(off, truth)
    assert a["along"] > 0.8 * step and a["across"] < 0.35 * step
    assert b["across"] > 0.8 * step and b["along"] < 0.35 * step


def test_seen_gain_reads_dlib_on_frames_as_the_reference(frl_dir):
    """The gain dlib sees: none on still frames, the photos' own gain from a neutral to a smiling frame (small
    frames upscaled to 256 px first, as the reference does), None when frame 0 shows no face."""
    from PIL import Image

    from cmmnet.faces import read_image

    neutral, smile = (read_image(frl_dir / f"014_{k}.jpg") for k in ("03", "08"))
    real = sm.lip_corner_distance(sm.reference_shape(smile)) / sm.lip_corner_distance(sm.reference_shape(neutral)) - 1
    assert real > 0.05
    assert sm.seen_gain([neutral, neutral, neutral]) == 0.0
    assert sm.seen_gain([neutral, smile, neutral]) == pytest.approx(real, abs=1e-9)
    small = [np.asarray(Image.fromarray(f).resize((200, 200), Image.BICUBIC)) for f in (neutral, smile)]
    assert sm.seen_gain(small) == pytest.approx(real, abs=0.03)
    assert sm.seen_gain([np.zeros_like(neutral), smile]) is None


def test_held_gain_takes_medians_over_the_held_and_the_neutral_frames():
    """The held reading: dlib's widths over the frames where the landmarks hold their smile against those where they
    are neutral; one noisy frame moves it less than the largest reading over frame 0's does."""
    neutral = np.zeros((68, 2))
    neutral[36:42] = (-1.0, 0.0)
    neutral[42:48] = (1.0, 0.0)  # IOD 2
    neutral[48], neutral[54] = (-0.5, 1.0), (0.5, 1.0)
    smile = neutral.copy()
    smile[48, 0], smile[54, 0] = -0.6, 0.6  # the landmarks widen by 20 %
    points = np.stack([neutral, neutral, smile, smile, smile, neutral])  # (6, 68, 2)
    widths = np.array([0.50, 0.52, 0.60, 0.66, 0.60, 0.50])  # dlib's readings, one held frame noisy
    assert sm.held_gain(widths, points) == pytest.approx(0.60 / 0.50 - 1)
    assert float(np.nanmax(widths) / widths[0] - 1) == pytest.approx(0.32)  # the reference's reading of the same
    assert sm.held_gain(np.array([0.5, np.nan, np.nan, np.nan, np.nan, 0.5]), points) is None  # no held reading
    assert sm.held_gain(widths, np.stack([neutral] * 6)) is None  # nothing widens
