"""AU proxies on 68-point landmarks: direction of each measure, invariance to pose and scale, curve summaries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmmnet.data import proxies


def schematic_face() -> np.ndarray:
    """A schematic frontal face in iBUG order (pixels, y down): enough geometry for the proxies."""
    p = np.zeros((68, 2))
    a = np.linspace(np.pi, 2 * np.pi, 17)
    p[0:17] = np.stack([50 + 40 * np.cos(a), 50 - 45 * np.sin(a)], 1)  # jaw, below
    p[17:22] = np.stack([np.linspace(20, 42, 5), np.full(5, 28.0)], 1)
    p[22:27] = np.stack([np.linspace(58, 80, 5), np.full(5, 28.0)], 1)
    p[27:31] = np.stack([np.full(4, 50.0), np.linspace(38, 55, 4)], 1)
    p[31:36] = np.stack([np.linspace(43, 57, 5), np.full(5, 58.0)], 1)
    for start, cx in ((36, 32.0), (42, 68.0)):
        # corner, two upper-lid points, corner, two lower-lid points (clockwise in the image)
        p[start : start + 6] = [
            [cx - 8, 40],
            [cx - 3, 37],
            [cx + 3, 37],
            [cx + 8, 40],
            [cx + 3, 43],
            [cx - 3, 43],
        ]
    # the left eye (42-47) starts at its inner corner: mirror the order so 42 is inner, 45 outer
    p[42:48] = [[60, 40], [65, 37], [71, 37], [76, 40], [71, 43], [65, 43]]
    t = np.linspace(0, np.pi, 7)
    p[48:55] = np.stack([50 - 15 * np.cos(t), 70 - 4 * np.sin(t)], 1)  # upper outer lip, 48 -> 54
    p[55:60] = np.stack([50 + 15 * np.cos(t[1:6]), 70 + 5 * np.sin(t[1:6])], 1)  # lower outer lip, 55 -> 59
    p[60] = [37, 70]
    p[61:64] = [[44, 69], [50, 69], [56, 69]]
    p[64] = [63, 70]
    p[65:68] = [[56, 71], [50, 71], [44, 71]]
    return p


def test_indices_and_shapes():
    face = schematic_face()
    batch = np.stack([face] * 6).reshape(2, 3, 68, 2)
    for fn in (
        proxies.au12_proxy,
        proxies.au6_proxy,
        proxies.eye_aperture,
        proxies.mouth_opening,
        proxies.lip_corner_raise,
        proxies.inter_ocular_distance,
    ):
        assert fn(batch).shape == (2, 3)
        assert fn(face).shape == ()
    with pytest.raises(ValueError):
        proxies.au12_proxy(np.zeros((5, 2)))


def test_directions():
    face = schematic_face()
    wide = face.copy()
    wide[48, 0] -= 3
    wide[54, 0] += 3
    assert proxies.au12_proxy(wide) > proxies.au12_proxy(face)
    up = face.copy()
    up[[48, 54], 1] -= 3
    assert proxies.lip_corner_raise(up) > proxies.lip_corner_raise(face)
    cheek = face.copy()
    cheek[[40, 41, 46, 47], 1] -= 1.5  # lower lids rise
    assert proxies.au6_proxy(cheek) > proxies.au6_proxy(face)
    assert proxies.eye_aperture(cheek) < proxies.eye_aperture(face)
    shut = face.copy()
    shut[[37, 38, 43, 44], 1] = 43  # upper lids down onto the lower lids
    assert proxies.eye_aperture(shut) == pytest.approx(0.0, abs=1e-9)
    assert proxies.mouth_opening(face) == pytest.approx(2 / 36, rel=1e-6)
    opened = face.copy()
    opened[65:68, 1] += 6
    assert proxies.mouth_opening(opened) > proxies.mouth_opening(face) + 0.1


@settings(max_examples=40, deadline=None)
@given(
    angle=st.floats(-0.5, 0.5),
    scale=st.floats(0.3, 5.0),
    tx=st.floats(-200, 200),
    ty=st.floats(-200, 200),
)
def test_similarity_invariance(angle, scale, tx, ty):
    face = schematic_face()
    face[48, 0] -= 2  # make it a little asymmetric
    c, s = np.cos(angle), np.sin(angle)
    moved = scale * face @ np.array([[c, s], [-s, c]]) + [tx, ty]
    for fn in (
        proxies.au12_proxy,
        proxies.au6_proxy,
        proxies.eye_aperture,
        proxies.mouth_opening,
        proxies.lip_corner_raise,
    ):
        assert fn(moved) == pytest.approx(fn(face), abs=1e-9)


def test_au_curves_relative_to_frame0():
    face = schematic_face()
    t = 8
    seq = np.repeat(face[None], t, 0)
    ramp = np.linspace(0, 1, t)
    seq[:, 48, 0] -= 4 * ramp
    seq[:, 54, 0] += 4 * ramp
    seq[:, [40, 41, 46, 47], 1] -= 2 * ramp[:, None]
    seq[:, [37, 38, 43, 44], 1] += 1 * ramp[:, None]
    batch = np.stack([seq, seq])
    curves = proxies.au_curves(batch)
    assert set(curves) == set(proxies.AU_CURVE_NAMES)
    for v in curves.values():
        assert v.shape == (2, t)
        np.testing.assert_allclose(v[:, 0], 0.0, atol=1e-12)
    assert np.all(np.diff(curves["au12"][0]) > 0)
    assert np.all(np.diff(curves["au6"][0]) > 0)
    # lower lid up 2 px of a 6 px aperture -> au6 = 1/3 at the end; total closure 3 of 6 px -> 0.5
    assert curves["au6"][0, -1] == pytest.approx(2 / 6, rel=1e-6)
    assert curves["eye_closure"][0, -1] == pytest.approx(0.5, rel=1e-6)
    assert np.allclose(curves["mouth_opening"], 0.0)


def test_curve_stats():
    t = np.arange(32)
    fast = np.clip(t / 8, 0, 1)
    slow = 0.8 * np.clip(t / 20, 0, 1)
    stats = proxies.curve_stats(np.stack([fast, slow]))
    assert list(stats["apex"]) == [8, 20]
    np.testing.assert_allclose(stats["amplitude"], [1.0, 0.8])
    np.testing.assert_allclose(stats["peak_speed"], [1 / 8, 0.04])
    assert stats["jerk"][0] > 0 and stats["jerk"].shape == (2,)
    sm = proxies.smooth_curve(fast, 5)
    assert sm.shape == fast.shape and sm[0] == pytest.approx(0.0, abs=0.1)
    np.testing.assert_allclose(proxies.smooth_curve(fast, 1), fast)


def test_proxies_on_real_photo_pairs(frl_dir):
    """dlib landmarks of real neutral/smiling photo pairs: the smile widens the mouth, raises the lower lids and
    narrows the eyes, measured by the proxies (not all people, as in real data; most)."""
    from cmmnet.faces import FaceDetector, read_image

    det = FaceDetector()
    ids = sorted(p.name[:-7] for p in frl_dir.glob("*_03.jpg"))[:8]
    d12, d6, dap = [], [], []
    for pid in ids:
        n = det.detect(read_image(frl_dir / f"{pid}_03.jpg")).landmarks
        s = det.detect(read_image(frl_dir / f"{pid}_08.jpg")).landmarks
        d12.append(proxies.au12_proxy(s) - proxies.au12_proxy(n))
        d6.append(proxies.au6_proxy(s) - proxies.au6_proxy(n))
        dap.append(proxies.eye_aperture(s) - proxies.eye_aperture(n))
    d12, d6, dap = map(np.asarray, (d12, d6, dap))
    assert (d12 > 0).sum() >= 7 and np.median(d12) > 0.03
    assert (d6 > 0).sum() >= 5 and np.median(d6) > 0
    assert (dap < 0).sum() >= 5
