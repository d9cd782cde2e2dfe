"""The timing step between the landmark generator and the renderer (cmmnet.generate.timing): real speed by default
(the training data's frame rate, recorded with the weights), neutral -> smile -> hold -> neutral, intensity and
resampling to any length. The acceptance numbers use the shipped weights (K = 1) on the bundled example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cmmnet.commands.demo_cmd import example_image
from cmmnet.errors import CmmnetError
from cmmnet.evaluation.smile_measures import onset_seconds
from cmmnet.generate import TimingConfig
from cmmnet.generate.timing import frames_for_onset, resample, retime, source_times

T, DATA_FPS = 32, 50.0


def mouth_gain(points: np.ndarray) -> np.ndarray:
    """(..., N, 68, 2) -> (..., N): mouth width (corners 48, 54) minus the first frame's."""
    w = np.linalg.norm(points[..., 54, :] - points[..., 48, :], axis=-1)
    return w - w[..., :1]


# ------------------------------------------------------------------------------------------------ the schedule
def test_default_clip_is_real_speed_and_returns():
    cfg = TimingConfig()
    t = source_times(T, DATA_FPS, cfg)
    onset = frames_for_onset((T - 1) / DATA_FPS, cfg.fps)  # 0.62 s at 25 fps: 17 frames
    assert onset == 17 and len(t) == 5 + onset + 10 + onset + 3 and 1.9 <= len(t) / cfg.fps <= 2.2
    assert t[0] == 0 and t[-1] == 0 and t.max() == T - 1  # neutral -> apex (held) -> neutral
    rise = np.diff(t)[np.diff(t) > 0]
    assert np.allclose(rise * cfg.fps / DATA_FPS, 1 / 1, atol=0.04)  # one video frame = 2 generated ones: real speed
    apex_only = source_times(T, DATA_FPS, TimingConfig(ending="apex"))
    assert len(apex_only) == onset and apex_only[-1] == T - 1
    assert np.array_equal(source_times(T, DATA_FPS, TimingConfig.as_generated(T)), np.arange(T))
    assert len(source_times(T, DATA_FPS, TimingConfig(frames=64, ending="apex"))) == 64
    slow = source_times(T, DATA_FPS, TimingConfig(fps=50))  # twice the rate: twice the frames, same seconds
    assert abs(len(slow) / 50 - len(t) / 25) < 0.1


def test_resample_is_exact_on_frames_and_never_overshoots():
    rng = np.random.default_rng(0)
    seq = np.cumsum(rng.random((3, T, 68, 2)).astype(np.float32), axis=1)  # increasing along time
    assert np.array_equal(resample(seq, np.arange(T, dtype=float)), seq)  # whole frames are copied
    times = np.linspace(0, T - 1, 3 * (T - 1) + 1)  # thirds of a frame
    out = resample(seq, times)
    assert out.shape == (3, 94, 68, 2) and np.allclose(out[:, ::3], seq, atol=1e-4)
    assert np.all(np.diff(out, axis=1) >= -1e-4)  # monotone data stays monotone (no overshoot, PCHIP)
    out2, _ = retime(seq, DATA_FPS, TimingConfig(intensity=0.5, frames=T, ending="apex"))
    assert np.allclose(out2, seq[:, :1] + 0.5 * (seq - seq[:, :1]), atol=1e-5)
    with pytest.raises(CmmnetError, match="intensity needs landmark points"):
        retime(seq, DATA_FPS, TimingConfig(intensity=0.5), kind="images")


@pytest.mark.parametrize("T_in", [2, 3, 7, 32])
def test_resample_matches_scipy_pchip(T_in):
    """The numpy PCHIP (no scipy import on the generate path) is scipy's PchipInterpolator: flats, extrema, ends."""
    from scipy.interpolate import PchipInterpolator

    rng = np.random.default_rng(T_in)
    seq = rng.normal(size=(2, T_in, 68, 2)).astype(np.float32)
    seq[0] = np.cumsum(np.abs(seq[0]), axis=0)  # monotone
    seq[1, T_in // 2:] = seq[1, T_in // 2]  # a flat stretch
    times = np.sort(rng.uniform(0, T_in - 1, size=41))
    want = PchipInterpolator(np.arange(T_in), seq.astype(np.float64), axis=1)(times).astype(np.float32)
    np.testing.assert_allclose(resample(seq, times), want, rtol=0, atol=1e-6)


def test_pchip_curves_are_scipys_each_on_its_own_knots():
    """Many curves at once, each with its own knots (the warp renderer's lids), equal scipy's PchipInterpolator."""
    from scipy.interpolate import PchipInterpolator

    from cmmnet.interpolate import pchip_curves

    rng = np.random.default_rng(0)
    knots = np.sort(rng.uniform(0, 1, size=(5, 40)), axis=0)  # (n, T): 5 knots per curve
    knots[0], knots[-1] = 0.0, 1.0
    values = rng.normal(size=(5, 40))
    values[2:4, :10] = values[2, :10]  # some flat stretches
    at = np.linspace(0.0, 1.0, 23)
    want = np.stack([PchipInterpolator(knots[:, c], values[:, c])(at) for c in range(40)], 1)  # (q, T)
    np.testing.assert_allclose(pchip_curves(knots, values, at), want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    ({"intensity": -0.1}, "between 0 and 2"),
    ({"intensity": 2.5}, "between 0 and 2"),
    ({"frames": 1}, "between 2 and"),
    ({"fps": 0}, "fps 0"),
    ({"ending": "loop"}, "ending 'loop'"),
    ({"hold_s": -1}, "0 s or more"),
])
def test_bad_timing_is_refused(kwargs, message):
    with pytest.raises(CmmnetError, match=message):
        TimingConfig(**kwargs)


# ------------------------------------------------------------------------------------------------ shipped weights
@pytest.fixture(scope="module")
def net():
    from cmmnet.generate import CMMNet, GenerateConfig

    return CMMNet.from_pretrained(None, GenerateConfig(device="cpu", precision="fp32"))


@pytest.fixture(scope="module")
def aligned(net):
    a, _, _, _ = net.align(example_image())
    return a


def run(net, aligned, label="spontaneous", **timing):
    return net.generate_aligned(aligned.image, aligned.landmarks, label, modes=1, seed=3,
                                timing=TimingConfig(**timing) if timing else None)


def test_default_video_onset_keeps_the_generated_speed(net, aligned):
    """The default clip plays the generated onset at the training data's rate: its 10-90 % mouth-width onset in
    video seconds is the generated sequence's at ``net.fps`` (within a video frame), and a sequence that smiles
    (widens the mouth by 5 % or more: the conditional one always) lasts as a real smile's onset does, 0.2-0.8 s
    (both labels on the example; a mode that barely widens the mouth has no onset to speak of)."""
    assert net.fps == DATA_FPS  # recorded with the shipped weights (FRL-Smile's curves)
    for label in net.label_names:
        res = run(net, aligned, label)
        raw = run(net, aligned, label, frames=net.T, ending="apex")
        assert res.fps == 25 and 1.9 <= res.frames.shape[1] / res.fps <= 2.2
        for row, (video, generated) in enumerate(zip(res.points, raw.points)):
            assert abs(mouth_gain(video)[-1]) < 0.05 * mouth_gain(generated).max()  # back to neutral
            assert onset_seconds(video, res.fps) == pytest.approx(onset_seconds(generated, net.fps), abs=1 / 25)
            width = np.linalg.norm(generated[0, 54] - generated[0, 48])
            smiles = mouth_gain(generated).max() >= 0.05 * width
            assert smiles or row > 0
            if smiles:
                assert 0.2 <= onset_seconds(video, res.fps) <= 0.8


def test_intensity_zero_is_the_inputs_rendering_and_two_doubles_the_gain(net, aligned):
    still = run(net, aligned, intensity=0.0)
    assert all(np.array_equal(f, still.reference) for f in still.frames.reshape(-1, *still.reference.shape))
    one = run(net, aligned, frames=net.T, ending="apex")
    two = run(net, aligned, frames=net.T, ending="apex", intensity=2.0)
    g1, g2 = mouth_gain(one.points), mouth_gain(two.points)
    apex = g1.argmax(axis=1)
    for k, t in enumerate(apex):
        assert g2[k, t] / g1[k, t] == pytest.approx(2.0, rel=0.1)


def test_64_frames_keep_the_apex_shape(net, aligned):
    raw = run(net, aligned, frames=net.T, ending="apex")
    long = run(net, aligned, frames=64, ending="apex")
    assert long.points.shape[1] == 64
    iod = np.linalg.norm(aligned.landmarks[36:42].mean(0) - aligned.landmarks[42:48].mean(0))
    for k, t in enumerate(mouth_gain(raw.points).argmax(axis=1)):
        j = round(t * 63 / (net.T - 1))  # the matching time
        rms = np.sqrt(((long.points[k, j] - raw.points[k, t]) ** 2).sum(-1).mean())
        assert rms < 0.01 * iod, (k, t, j, rms)
    assert np.array_equal(long.points[:, -1], raw.points[:, -1])  # the last frames are the same frame


def test_result_save_and_write_video(net, aligned, tmp_path):
    from cmmnet.video import video_info

    res = run(net, aligned, fps=30, ending="apex", frames=20)
    meta = res.save(tmp_path / "out")
    assert meta["video"] == {"fps": 30, "frames": 20, "seconds": round(20 / 30, 4)}
    info = video_info(tmp_path / "out" / "mode_1.mp4")
    assert info["frames"] == 20 and info["fps"] == 30
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["inputs"]["timing"]["frames"] == 20
    assert video_info(res.write_video(tmp_path / "c.mp4", 0))["frames"] == 20
    with pytest.raises(CmmnetError, match="sequence 2"):
        res.write_video(tmp_path / "x.mp4", 2)


def test_cli_timing_flags(tmp_path):
    from cmmnet.cli import main
    from cmmnet.video import video_info

    out = tmp_path / "out"
    assert main(["generate", "--image", str(example_image()), "--label", "posed", "--modes", "1", "--out", str(out),
                 "--device", "cpu", "--intensity", "0.5", "--frames", "12", "--fps", "20", "--no-return"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    timing = meta["inputs"]["timing"]
    assert (timing["intensity"], timing["frames"], timing["fps"], timing["ending"]) == (0.5, 12, 20, "apex")
    assert video_info(out / "conditional.mp4")["frames"] == 12
    assert main(["generate", "--image", str(example_image()), "--label", "posed", "--out", str(tmp_path / "b"),
                 "--intensity", "3"]) == 2
