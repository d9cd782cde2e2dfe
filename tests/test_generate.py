"""Inference (`cmmnet.generate.CMMNet`) and the `cmmnet generate` command.

Weights here are tiny: a freshly initialised LandmarkGenerator and a U-Net G at width 1/8, written with
save_pretrained into a run-like directory. The pipeline is the real one (dlib, H.264 files, paste); what is
checked is shapes, files, determinism, seeds, paste geometry and every bad-input path of the CLI (in a
subprocess, as a user runs it). The quality of the trained default weights is measured by
scripts/generation_report.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cmmnet.errors import CheckpointError, CmmnetError
from cmmnet.models.io import save_pretrained
from cmmnet.models.unet import UNetConfig, UNetGenerator

T = 32


def as_generated():
    """The T generated frames as they are (the default timing resamples them to a real-speed clip)."""
    from cmmnet.generate import TimingConfig

    return TimingConfig.as_generated(T)


def default_clip_frames() -> int:
    """Frames of the default clip of weights trained at 50 fps (tests/test_timing.py checks the timing)."""
    from cmmnet.generate import TimingConfig
    from cmmnet.generate.timing import source_times

    return len(source_times(T, 50.0, TimingConfig()))


def make_weights(directory: Path, landmarks: np.ndarray, modes: int = 2) -> Path:
    """A run-like directory with freshly initialised tiny models (T = 32, K = ``modes``)."""
    from cmmnet.models.conditional_lstm import ConditionalLSTMConfig
    from cmmnet.models.landmark_generator import LandmarkGenerator, LandmarkGeneratorConfig
    from cmmnet.models.landmark_vae import LandmarkVAEConfig
    from cmmnet.models.multimode import MultiModeConfig
    from cmmnet.models.point_model import PointModelConfig

    torch.manual_seed(0)
    cfg = LandmarkGeneratorConfig(T=T, modes=modes, vae=LandmarkVAEConfig(channels=(4, 8, 8, 16)),
                                  lstm=ConditionalLSTMConfig(hidden_size=16),
                                  multimode=MultiModeConfig(hidden_size=16),
                                  points=PointModelConfig(iterations=3, max_pixels=96))  # cheap point fits
    lm = LandmarkGenerator(cfg)
    lm.points.fit_pca(landmarks)  # the point model's shape space, from real aligned landmarks
    lm.save_pretrained(directory / "landmark_generator")
    g = UNetGenerator(UNetConfig(width=0.125))
    save_pretrained(g, g.cfg, directory / "translator", name="UNetGenerator")
    return directory


@pytest.fixture(scope="module")
def weights(tmp_path_factory, frl_dir) -> Path:
    from cmmnet.faces import FaceDetector
    from cmmnet.faces.pipeline import process_image

    det = FaceDetector()
    pts = []
    for person in ("001", "003", "008"):
        a, b = (process_image(frl_dir / f"{person}_{k}.jpg", detector=det).aligned.landmarks for k in ("03", "08"))
        pts += [a * (1 - f) + b * f for f in np.linspace(0, 1, 5)]
    return make_weights(tmp_path_factory.mktemp("w") / "run", np.stack(pts).astype(np.float32))


@pytest.fixture(scope="module")
def net(weights):
    """The paper's renderer (G): most tests here are about it; the warp renderer's are marked so."""
    from cmmnet.generate import CMMNet, GenerateConfig

    return CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="fp32", renderer="paper"))


@pytest.fixture(scope="module")
def warp_net(weights):
    from cmmnet.generate import CMMNet, GenerateConfig

    return CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="fp32"))


@pytest.fixture(scope="module")
def photo(frl_dir) -> Path:
    return frl_dir / "001_03.jpg"


def cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, "-m", "cmmnet.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


# ------------------------------------------------------------------------------------------------ Python API
def test_generate_shapes_determinism_and_retargeting(net, photo):
    res = net.generate(photo, "posed", seed=3, timing=as_generated())
    k = net.trained_modes
    assert res.frames.shape == (k + 1, T, 64, 64, 3) and res.frames.dtype == np.uint8
    assert res.landmark_images.shape == (k + 1, T, 64, 64) and res.points.shape == (k + 1, T, 68, 2)
    assert res.n_faces == 1 and res.transform.shape == (2, 3)
    # retargeted (default): every sequence starts exactly on the person's own landmarks
    assert np.allclose(res.points[:, 0], res.neutral_landmarks[None], atol=1e-4)
    # same seed, same result; and the conditional sequence and the first mode do not depend on K
    other = net.generate_aligned(res.neutral_face, res.neutral_landmarks, "posed", modes=1, seed=3,
                                 timing=as_generated())
    assert other.frames.shape[0] == 2
    assert np.array_equal(other.frames, res.frames[:2]) and np.array_equal(other.points, res.points[:2])
    # the frames are G's output on exactly the landmark images reported
    assert np.array_equal(net.translate(res.landmark_images[1], res.neutral_face), res.frames[1])
    # the landmark sequences are exactly LandmarkGenerator.generate's (only its networks run under autocast)
    ref = net.landmark_generator.generate(res.neutral_landmarks, "posed", modes=1, seed=3)
    batch = net.landmark_batch(res.neutral_landmarks[None], ["posed"], 1, 3)
    images, points = batch.decoded[0], batch.fitted[0]
    assert np.array_equal(ref.images, images) and np.array_equal(ref.points, points)
    assert np.allclose(res.points[:2], res.neutral_landmarks + (points - points[:, :1]), atol=1e-5)
    # landmark images are the drawn points
    from cmmnet.faces import draw_landmarks

    assert np.array_equal(res.landmark_images[1, 5], draw_landmarks(res.points[1, 5], 64).astype(np.float32))


def test_fold_batch_norm_keeps_the_output():
    from cmmnet.generate import fold_batch_norm

    torch.manual_seed(1)
    g = UNetGenerator(UNetConfig(width=0.25))
    for m in g.modules():  # non-trivial running statistics and affine parameters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    g.eval()
    f = fold_batch_norm(g)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in f.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())  # the original is untouched
    y, z = (torch.rand(3, 1, 64, 64) > 0.9).float(), torch.rand(3, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(f(y, z), g(y, z), atol=1e-4)
    from cmmnet.models.landmark_vae import LandmarkVAE, LandmarkVAEConfig

    vae = LandmarkVAE(LandmarkVAEConfig(channels=(8, 16, 16, 32), latent_dim=12))
    for m in vae.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    vae.eval()
    fv = fold_batch_norm(vae)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fv.modules())
    h, y1 = torch.randn(5, 12), (torch.rand(5, 1, 64, 64) > 0.9).float()
    with torch.no_grad():
        assert torch.allclose(fv.decode(h), vae.decode(h), atol=1e-5)
        assert torch.allclose(fv.encode(y1)[0], vae.encode(y1)[0], atol=1e-4)


@pytest.mark.parametrize("mode", ["redrawn", "decoded"])
def test_landmark_input_modes(weights, net, photo, mode):
    from cmmnet.generate import CMMNet, GenerateConfig

    other = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", landmark_input=mode, renderer="paper"))
    aligned, _, _, _ = net.align(photo)
    res = other.generate_aligned(aligned.image, aligned.landmarks, "spontaneous", seed=0, timing=as_generated())
    assert res.frames.shape == (net.trained_modes + 1, T, 64, 64, 3)
    if mode == "decoded":  # soft decoded images, not binary
        assert res.landmark_images.min() >= 0 and res.landmark_images.max() <= 1
        assert len(np.unique(res.landmark_images)) > 2


def test_decoded_images_only_feed_a_translator_trained_on_the_same_drawing(tmp_path, weights):
    """A landmark generator drawing anti-aliased images cannot feed its decoded images to G (trained on binary)."""
    import json
    import shutil

    from cmmnet.errors import CheckpointError
    from cmmnet.generate import CMMNet, GenerateConfig

    copy = shutil.copytree(weights, tmp_path / "w")
    cfg_path = copy / "landmark_generator" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["config"]["draw"]["raster"] = "antialiased"
    cfg_path.write_text(json.dumps(cfg))
    net = CMMNet.from_pretrained(copy, GenerateConfig(device="cpu"))  # retargeted points: G draws its own images
    assert net.landmark_generator.cfg.draw.raster == "antialiased"
    with pytest.raises(CheckpointError, match="drawn"):
        CMMNet.from_pretrained(copy, GenerateConfig(device="cpu", landmark_input="decoded"))


def test_generate_with_a_warped_translator(tmp_path, frl_dir):
    from cmmnet.faces.pipeline import process_image
    from cmmnet.generate import CMMNet, GenerateConfig

    aligned = process_image(frl_dir / "001_03.jpg").aligned
    run = make_weights(tmp_path / "run", np.stack([aligned.landmarks + d for d in np.linspace(-1, 1, 6)]))
    g = UNetGenerator(UNetConfig(width=0.125, face_input="warped"))
    save_pretrained(g, g.cfg, run / "translator", name="UNetGenerator")
    net = CMMNet.from_pretrained(run, GenerateConfig(device="cpu", renderer="paper"))
    res = net.generate_aligned(aligned.image, aligned.landmarks, "posed", modes=1, seed=0, timing=as_generated())
    assert res.frames.shape == (2, 32, 64, 64, 3)
    # frame t is G on the landmark image and the neutral face warped onto frame t's points
    t = 20
    one = net.translate(res.landmark_images[1, t:t + 1], res.neutral_face, res.points[1, t:t + 1],
                        res.neutral_landmarks)
    assert np.array_equal(one[0], res.frames[1, t])
    with pytest.raises(CmmnetError, match="landmarks"):
        net.translate(res.landmark_images[1, :2], res.neutral_face)


def test_bf16_close_to_fp32(weights, net, photo):
    from cmmnet.generate import CMMNet, GenerateConfig

    bf = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="bf16", renderer="paper"))
    a = net.generate(photo, "posed", modes=1)
    b = bf.generate(photo, "posed", modes=1)
    diff = np.abs(a.frames.astype(int) - b.frames.astype(int))
    assert diff.mean() < 4.0


def test_precision_auto_resolves(weights):
    from cmmnet.generate import CMMNet, GenerateConfig

    net = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="auto"))
    assert net.precision == ("bf16" if torch.cpu._is_amx_tile_supported() else "fp32")
    with pytest.raises(CmmnetError, match="unknown precision"):
        CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="fp8"))  # type: ignore[arg-type]


def test_cli_imports_only_the_command_it_runs():
    """`cmmnet show --help` must not pay for torch (imported by generate/train only)."""
    code = ("import sys\nfrom cmmnet.cli import main\ntry:\n    main(['show', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
    from cmmnet.cli import build_parser

    every = build_parser()._subparsers._group_actions[0].choices  # all commands when none is named
    assert {"landmarks", "align", "demo", "generate", "prepare", "synth", "show", "evaluate", "study",
            "train"} <= set(every)


def test_the_program_collects_less_and_freezes_what_is_left(tmp_path):
    """The `cmmnet` program (:func:`cmmnet.cli.entry`) returns main's exit code, with the collector's thresholds
    raised while it runs and the objects alive at its end frozen (not walked again by Python's shutdown)."""
    argv = ["cmmnet", "generate", "--image", str(tmp_path / "none.jpg"), "--label", "posed", "--out",
            str(tmp_path / "out")]
    code = (f"import gc, sys\nfrom cmmnet.cli import _GC_THRESHOLDS, entry\nsys.argv = {argv!r}\n"
            "before = gc.get_freeze_count()\nrc = entry()\n"
            "print(rc, gc.get_threshold() == _GC_THRESHOLDS, before == 0 < gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "True", "True"], out.stderr
    assert "none.jpg" in out.stderr and not (tmp_path / "out").exists()


def test_request_checks(net):
    with pytest.raises(CmmnetError, match="unknown label"):
        net.check_request("grin", None)
    for k in (0, 17):
        with pytest.raises(CmmnetError, match="between 1 and 16"):
            net.check_request("posed", k)
    with pytest.raises(CmmnetError, match=f"K = {net.trained_modes}"):
        net.check_request("posed", net.trained_modes + 1)
    assert net.check_request(1, None) == (net.label_names[1], net.trained_modes)


def test_paste_maps_back_into_the_photo(weights, net, photo):
    from cmmnet.faces import read_image
    from cmmnet.faces.paste import PasteConfig
    from cmmnet.generate import CMMNet, GenerateConfig

    img = read_image(photo)
    res = net.generate(photo, "posed", modes=1, timing=as_generated())
    full = net.paste(res, img)
    assert full.shape == (2, T, *img.shape)
    # "delta" adds only what differs from G's own neutral rendering: the (retargeted) neutral frame 0 is the photo
    assert np.array_equal(full[0, 0], img) and np.array_equal(full[1, 0], img)
    # "replace" puts G's face into the photo: changes only around the face, nothing at the borders
    rep = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", paste=PasteConfig(mode="replace"),
                                                         renderer="paper"))
    full = rep.paste(res, img)
    assert np.array_equal(full[1, -1, :20], img[:20]) and np.array_equal(full[1, -1, :, :20], img[:, :20])
    changed = np.abs(full[1, -1].astype(int) - img.astype(int)).sum(-1) > 30
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = res.box
    assert len(xs) > 0.3 * (x1 - x0) * (y1 - y0)
    assert x0 <= np.median(xs) <= x1 and y0 <= np.median(ys) <= y1


def test_missing_and_damaged_weights(tmp_path, weights):
    import shutil

    from cmmnet.generate import CMMNet

    with pytest.raises(CheckpointError, match="not found"):
        CMMNet.from_pretrained(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(weights, broken)
    (broken / "translator" / "model.safetensors").write_bytes(b"\0" * 100)
    with pytest.raises(CheckpointError):
        CMMNet.from_pretrained(broken)
    shutil.rmtree(broken / "translator")
    with pytest.raises(CheckpointError, match="translator"):
        CMMNet.from_pretrained(broken)


# ----------------------------------------------------------------------------------------------------- CLI
def test_warp_renderer_moves_the_photo_at_its_resolution(warp_net, photo):
    from cmmnet.faces import read_image

    img = read_image(photo)
    res = warp_net.generate(photo, "posed", modes=1, seed=3)
    n = default_clip_frames()  # the timing step runs before the warp renderer too
    assert res.renderer == "warp" and res.video.shape == (2, n, *img.shape) and res.video.dtype == np.uint8
    assert res.frames.shape == (2, n, 64, 64, 3) and res.points.shape == (2, n, 68, 2) and len(res.times) == n
    video = np.asarray(res.video)  # rendered when read: every read the same bytes, streamed or whole
    assert np.array_equal(res.video[1], video[1]) and np.array_equal(np.stack(list(res.video.frames(0))), video[0])
    assert np.array_equal(np.stack(list(res.video.frames(1, [0, 5]))), video[1, [0, 5]])
    for seq in video:  # frames 0 and N-1 (back to neutral) are the photo, the others move only the face
        assert np.abs(seq[0].astype(int) - img).max() <= 1 and np.abs(seq[-1].astype(int) - img).max() <= 1
    assert np.array_equal(video[:, :, :20], np.broadcast_to(img[:20], video[:, :, :20].shape))
    # the coordinates line up: a mouth widened 1.2 times in aligned px is what dlib finds in the photo frame
    from cmmnet.faces import FaceDetector, transform_points

    wide = res.neutral_landmarks.copy()
    centre = wide[48:68].mean(0)
    wide[48:68, 0] = centre[0] + 1.2 * (wide[48:68, 0] - centre[0])
    frame = warp_net.render_warp(img, res.video_transform, res.neutral_landmarks, wide[None, None])[0, 0]
    seen = transform_points(FaceDetector().detect(frame).landmarks, res.video_transform)  # aligned px
    before = transform_points(FaceDetector().detect(img).landmarks, res.video_transform)

    def width(p: np.ndarray) -> float:
        return float(p[54, 0] - p[48, 0])

    assert width(seen) - width(before) > 0.5 * (width(wide) - width(res.neutral_landmarks))
    # frames are the video aligned like the input face, so frame 0 is (close to) it
    assert np.abs(res.frames[:, 0].astype(int) - res.neutral_face).mean() < 3
    # same seed, same videos
    assert np.array_equal(warp_net.generate(photo, "posed", modes=1, seed=3).video, res.video)


def test_videos_encoded_in_parallel_are_the_files_encoded_one_at_a_time(tmp_path, warp_net, photo):
    from cmmnet.generate.outputs import OutputConfig, _write_files, parallel_encoders

    res = warp_net.generate(photo, "posed", modes=2, seed=1)
    assert parallel_encoders((320, 380), 3, OutputConfig()) == 3  # small frames: all at once
    assert parallel_encoders((768, 1024), 4, OutputConfig()) == 2  # photo-sized frames: bounded memory
    assert parallel_encoders((1024, 1024), 4, OutputConfig()) == 2
    assert parallel_encoders((1920, 1920), 4, OutputConfig()) == 1
    assert parallel_encoders((768, 1024), 4, OutputConfig(encoder_memory=0)) == 1
    written = {}
    for encoders in (1, 3):  # the frame sources share the rendered blocks and the preview frames between threads
        out = tmp_path / str(encoders)
        out.mkdir()
        _write_files(res, out, OutputConfig(encoders=encoders), warp_net.front_end.align)
        written[encoders] = {f.name: f.read_bytes() for f in sorted(out.iterdir())}
    assert len(written[1]) >= 6 and written[1] == written[3]


def test_frames_shown_again_are_converted_once_and_the_encoder_gets_the_same_frames(tmp_path):
    from cmmnet.video import _yuv_frames, read_video, write_video

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 45, 61, 3), dtype=np.uint8)  # odd sizes: padded
    keys = [0, 0, 1, 2, 3, 3, 2, 1, 0]  # a hold and a return, as a default clip
    plain = list(_yuv_frames(images[keys], None, 45, 61))
    keyed = list(_yuv_frames(images[keys], keys, 45, 61))
    assert len({id(vf) for vf in keyed}) == 4 and len({id(vf) for vf in plain}) == 9  # one conversion per image
    for i, (a, b) in enumerate(zip(plain, keyed, strict=True)):
        assert (a.width, a.height, a.format.name) == (b.width, b.height, "yuv420p") == (62, 46, "yuv420p")
        assert np.array_equal(a.to_ndarray(), b.to_ndarray()), i  # the pixels (a plane's line padding is not set)
    assert [vf.pts for vf in plain] == list(range(9))
    video = read_video(write_video(tmp_path / "keyed.mp4", images[keys], keys=keys))
    assert video.shape == (9, 46, 62, 3)
    assert np.array_equal(video[0], video[1]) and np.array_equal(video[4], video[5])  # the hold holds
    with pytest.raises(ValueError):  # a key for every frame, no more, no less
        write_video(tmp_path / "short.mp4", images[keys], keys=keys[:-1])
    assert not (tmp_path / "short.mp4").exists()


def test_preview_gif_shows_every_frame_for_its_time(tmp_path):
    from cmmnet.generate.outputs import write_preview

    rng = np.random.default_rng(1)
    still = rng.integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)  # three videos, T = 7
    videos = [[still[v].copy() for _ in range(7)] for v in range(3)]
    for v in range(3):
        for t in (2, 3, 5):  # a small moving patch, held at t = 3 (the hold) and 4 in every video
            videos[v][t][5:9, 3 + t:8 + t] = 40 * t + v
        videos[v][4] = videos[v][3]
    keys = [[0, 0, 2, 3, 3, 5, 6] for _ in range(3)]  # frame 1 repeats frame 0, frame 4 frame 3
    write_preview(tmp_path / "p.gif", videos, 25, keys)
    gif = Image.open(tmp_path / "p.gif")
    shown = []
    for i in range(gif.n_frames):
        gif.seek(i)
        shown += [np.asarray(gif.convert("RGB")).astype(int)] * (gif.info["duration"] // 40)
    assert len(shown) == 7 and gif.n_frames == 5 and gif.info["loop"] == 0
    for t in range(7):  # the image before shows through the unchanged pixels: every frame is whole
        strip = np.concatenate([v[t] for v in videos], 1).astype(int)
        assert np.abs(shown[t] - strip).mean() < 12, t  # 255 colours for random noise


def test_warp_renderer_caps_the_photo_and_renders_aligned_input(weights, warp_net, photo):
    from cmmnet.faces import read_image
    from cmmnet.generate import CMMNet, GenerateConfig

    big = np.asarray(Image.fromarray(read_image(photo)).resize((900, 700)))
    capped = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="fp32", max_side=300))
    res = capped.generate(big, "posed", modes=1, seed=0)
    assert res.video.shape[2:4] == (233, 300)  # 900 x 700 fitted into 300
    small = np.asarray(Image.fromarray(big).resize((300, 233), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(res.video[0][0].astype(int) - small).mean() < 2
    # the landmarks keep their aligned-pixel layout, as the paper renderer's
    paper = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu", precision="fp32", renderer="paper"))
    assert np.allclose(paper.generate(big, "posed", modes=1, seed=0).points, res.points, atol=1e-4)
    # aligned input: the warp renderer moves the aligned face itself; frame 0 is that face
    aligned, _, _, _ = warp_net.align(photo)
    res = warp_net.generate_aligned(aligned.image, aligned.landmarks, "posed", modes=1, seed=0)
    assert res.video is None and res.frames.shape == (2, default_clip_frames(), 64, 64, 3)
    assert np.array_equal(res.frames[:, 0], np.broadcast_to(aligned.image, res.frames[:, 0].shape))


def test_cli_generate_writes_everything(tmp_path, weights, photo):
    from cmmnet.video import read_video

    out = tmp_path / "out"
    r = cli("generate", "--image", str(photo), "--label", "spontaneous", "--modes", "2", "--seed", "7",
            "--weights", str(weights), "--crop", "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = ["conditional", "mode_1", "mode_2"]
    n_frames = default_clip_frames()
    original = np.asarray(Image.open(photo).convert("RGB")).astype(float)
    for n in names:
        v = read_video(out / f"{n}.mp4")
        assert v.shape == (n_frames, 512, 512, 3)  # the photo's resolution
        assert 10 * np.log10(255**2 / ((v[0] - original) ** 2).mean()) >= 40  # frame 0 is the photo (H.264)
        assert read_video(out / f"{n}_crop.mp4").shape == (n_frames, 256, 256, 3)
    preview = Image.open(out / "preview.gif")  # (PIL merges identical frames: count the time they show)
    assert preview.size == (3 * 192, 192) and preview.info["loop"] == 0
    shown = 0
    for i in range(preview.n_frames):
        preview.seek(i)
        shown += preview.info["duration"]
    assert abs(shown - n_frames * 40) <= 10 * preview.n_frames  # 25 fps in GIF's 10 ms steps
    assert np.load(out / "landmarks.npy").shape == (3, n_frames, 68, 2)
    sheet = Image.open(out / "sheet.png")
    assert sheet.size[1] == 3 * 128
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 7 and meta["inputs"]["label"] == "spontaneous" and meta["inputs"]["modes"] == 2
    assert meta["renderer"] == "warp" and meta["files"]["video_size"] == [512, 512]
    assert np.asarray(meta["face"]["transform"]).shape == (2, 3)
    assert len(meta["weights"]["translator"]) == 16 and meta["versions"]["torch"] == torch.__version__
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    # the paper renderer: 64 px faces upscaled, and pasted into the photo
    paper = tmp_path / "paper"
    r = cli("generate", "--image", str(photo), "--label", "spontaneous", "--modes", "2", "--seed", "7",
            "--weights", str(weights), "--renderer", "paper", "--paste", "--out", str(paper))
    assert r.returncode == 0, r.stderr
    for n in names:
        assert read_video(paper / f"{n}.mp4").shape == (n_frames, 256, 256, 3)
        assert read_video(paper / f"{n}_pasted.mp4").shape == (n_frames, 512, 512, 3)
    assert Image.open(paper / "sheet.png").size[1] == 3 * 64 * 2 and (paper / "preview.gif").is_file()
    assert np.array_equal(np.load(paper / "landmarks.npy"), np.load(out / "landmarks.npy"))
    # a foreign non-empty directory is refused (it would be replaced); an earlier output is replaced
    from cmmnet.cli import main

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    args = ["generate", "--image", str(photo), "--label", "posed", "--modes", "1", "--weights", str(weights)]
    assert main([*args, "--out", str(foreign)]) == 2 and (foreign / "notes.txt").read_text() == "mine"
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "meta.json").read_text())["inputs"]["modes"] == 1
    assert not (out / "mode_2.mp4").exists()


def _one_error_line(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_cli_bad_inputs(tmp_path, weights, photo):
    out = tmp_path / "o"
    base = ["generate", "--image", str(photo), "--weights", str(weights), "--out", str(out)]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    _one_error_line(cli("generate", "--image", str(blank), "--label", "posed", "--weights", str(weights),
                        "--out", str(out)), "face")
    _one_error_line(cli(*base, "--label", "grin"), "grin", "posed")
    _one_error_line(cli(*base, "--label", "posed", "--modes", "0"), "between 1 and 16")  # 17: test_request_checks
    _one_error_line(cli(*base, "--label", "posed", "--modes", "3"), "K = 2")
    _one_error_line(cli(*base, "--label", "posed", "--paste"), "--paste", "--renderer paper")
    _one_error_line(cli(*base, "--label", "posed", "--renderer", "paper", "--crop"), "--crop")
    _one_error_line(cli(*base, "--label", "posed", "--max-side", "-5"), "--max-side")
    damaged = tmp_path / "damaged"
    import shutil

    shutil.copytree(weights, damaged)
    (damaged / "landmark_generator" / "config.json").write_text("{not json")
    _one_error_line(cli("generate", "--image", str(photo), "--label", "posed", "--weights", str(damaged),
                        "--out", str(out)), "config")
    afile = tmp_path / "afile"
    afile.write_text("x")
    _one_error_line(cli(*base[:-1], str(afile / "sub"), "--label", "posed"), "afile")
    assert not out.exists()  # nothing half-written by any of these
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "blank.png", "damaged"]


def test_face_front_end_in_a_forked_process(tmp_path, frl_dir):
    from cmmnet.errors import NoFaceError
    from cmmnet.faces.pipeline import FrontEndConfig, process_image
    from cmmnet.generate.front_end import FaceFrontEnd

    photo = frl_dir / "003_03.jpg"
    front = FaceFrontEnd(photo)
    aligned, n_faces, box, _ = front.result()
    ref = process_image(photo)
    assert np.array_equal(aligned.image, ref.aligned.image) and np.array_equal(aligned.landmarks, ref.aligned.landmarks)
    assert np.array_equal(aligned.transform, ref.aligned.transform) and n_faces == 1
    assert np.array_equal(box, ref.face.box) and front.config == FrontEndConfig()
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    with pytest.raises(NoFaceError):  # the worker's user-facing error is raised here, as the inline call would
        FaceFrontEnd(blank).result()


def test_face_front_end_falls_back_when_its_worker_dies(frl_dir, monkeypatch):
    from cmmnet.faces.pipeline import process_image
    from cmmnet.generate import front_end

    monkeypatch.setattr(front_end, "_front_end_child", lambda *args: os._exit(3))  # dies without an answer
    photo = frl_dir / "003_03.jpg"
    aligned, n_faces, _, _ = front_end.FaceFrontEnd(photo).result()  # done in this process instead
    assert np.array_equal(aligned.landmarks, process_image(photo).aligned.landmarks) and n_faces == 1


def test_cli_two_faces_uses_the_largest(tmp_path, weights, frl_dir):
    a = Image.open(frl_dir / "001_03.jpg").crop((96, 96, 416, 416))  # face ~180 px
    b = Image.open(frl_dir / "003_03.jpg").crop((96, 96, 416, 416)).resize((240, 240))  # face ~145 px
    both = Image.new("RGB", (560, 320), (255, 255, 255))
    both.paste(a, (0, 0))
    both.paste(b, (320, 80))
    img = tmp_path / "two.jpg"
    both.save(img)
    r = cli("generate", "--image", str(img), "--label", "posed", "--modes", "1", "--weights", str(weights),
            "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert "2 faces" in r.stderr and "largest" in r.stderr
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["face"]["n_faces"] == 2 and meta["face"]["box"][2] < 320  # the left (larger) face


# ------------------------------------------------------------------------------------------- default weights, demo
def test_default_weights_ship_and_load():
    from cmmnet.generate import CMMNet, default_weights_dir

    base = default_weights_dir()
    files = [p for p in base.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 40 * 1024 * 1024
    prov = json.loads((base / "provenance.json").read_text())
    net = CMMNet.from_pretrained(None)
    assert net.weights["translator"] == prov["translator"]["hash"]
    assert net.weights["landmark_generator"] == prov["landmark_generator"]["hash"]
    assert net.label_names == ("posed", "spontaneous") and net.T == T and net.trained_modes >= 1
    assert net.translator.down[0][0].out_channels == 32  # the shipped G is the width-0.5 U-Net (docs)


@pytest.mark.slow
def test_demo_command(tmp_path):
    r = cli("demo", "--out", str(tmp_path / "demo"), timeout=600)
    assert r.returncode == 0, r.stderr
    for label in ("posed", "spontaneous"):
        d = tmp_path / "demo" / label
        assert (d / "conditional.mp4").is_file() and (d / "conditional_crop.mp4").is_file()
        assert (d / "preview.gif").is_file()
        assert (d / "sheet.png").is_file() and (d / "meta.json").is_file()
    assert str(tmp_path / "demo") in r.stdout


# ------------------------------------------------------------------------------- weights that describe themselves
def test_meta_lists_the_config_keys_that_took_their_defaults(tmp_path, weights, photo):
    import shutil

    from cmmnet.cli import main

    run = tmp_path / "run"
    shutil.copytree(weights, run)
    cfg_path = run / "translator" / "config.json"
    meta = json.loads(cfg_path.read_text())
    del meta["config"]["draw"]  # weights written before the drawing was recorded
    cfg_path.write_text(json.dumps(meta))
    out = tmp_path / "out"
    assert main(["generate", "--image", str(photo), "--label", "posed", "--modes", "1", "--weights", str(run),
                 "--device", "cpu", "--out", str(out)]) == 0
    written = json.loads((out / "meta.json").read_text())
    assert written["weights"]["defaulted_keys"] == {"landmark_generator": [], "translator": ["draw"]}
    assert written["front_end"]["align"]["size"] == 64


def test_a_64px_landmark_generator_pairs_with_a_128px_translator(tmp_path, frl_dir):
    """Parts trained at different face sizes combine: the front end aligns as the translator's faces (128 px), the
    landmark generator (64 px) sees the neutral landmarks mapped into its own alignment of the photo, and its points
    come back into the translator's."""
    import shutil

    from cmmnet.cli import main
    from cmmnet.data.synth import synthesize
    from cmmnet.faces import between_alignments, transform_points
    from cmmnet.faces.pipeline import FrontEndConfig, process_image
    from cmmnet.generate import CMMNet, GenerateConfig
    from cmmnet.models.io import read_model_index, update_model_index

    smoke = ["--preset", "smoke", "--set", "run.device=cpu", "run.num_threads=1"]
    data = {s: synthesize(frl_dir, tmp_path / f"data{s}", people=2, per_face=1, seed=0, size=s, workers=1)
            for s in (64, 128)}
    assert main(["train", "--data", str(data[64]), "--out", str(tmp_path / "lg"), "--phases", "vae,lstm,multimode",
                 *smoke]) == 0
    assert main(["train", "--data", str(data[128]), "--out", str(tmp_path / "tr"), "--phases", "translation", *smoke,
                 "translation.translator.image_size=128"]) == 0
    pair = tmp_path / "pair"
    for part, run in (("landmark_generator", "lg"), ("translator", "tr")):
        shutil.copytree(tmp_path / run / part, pair / part)
        update_model_index(pair, part)
    assert read_model_index(pair) == {"landmark_generator": "LandmarkGenerator", "translator": "UNetGenerator"}
    net = CMMNet.from_pretrained(pair, GenerateConfig(device="cpu", precision="fp32"))
    assert net.image_size == 128 and net.landmark_generator.cfg.image_size == 64
    photo = frl_dir / "001_03.jpg"
    res = net.generate(photo, "posed", modes=1, seed=0, timing=as_generated())
    assert res.frames.shape == (2, net.T, 128, 128, 3) and res.landmark_images.shape == (2, net.T, 128, 128)
    assert np.allclose(res.points[:, 0], res.neutral_landmarks[None], atol=1e-4)  # retargeted onto the person
    lg_align, tr_align = net.landmark_generator.cfg.align, net.front_end.align
    # the photo's 128 px landmarks, mapped, are its 64 px landmarks
    at64 = process_image(photo, FrontEndConfig(align=lg_align)).aligned.landmarks
    assert np.abs(transform_points(res.neutral_landmarks, between_alignments(tr_align, lg_align)) - at64).max() < 1e-3
    # the batch's points are the landmark generator's own (at 64 px), mapped into the 128 px frame
    batch = net.landmark_batch(res.neutral_landmarks[None], ["posed"], 1, 0)
    own = net.landmark_generator.generate_many(
        transform_points(res.neutral_landmarks[None], between_alignments(tr_align, lg_align)).astype(np.float32),
        ["posed"], 1, 0, fit_iterations=net.config.point_fit_iterations)
    assert batch.decoded.shape == (1, 2, net.T, 64, 64)
    assert np.abs(transform_points(own["points"], between_alignments(lg_align, tr_align)) - batch.fitted).max() < 1e-3
    with pytest.raises(CheckpointError, match="decoded"):  # 64 px decoded images cannot feed a 128 px G
        CMMNet.from_pretrained(pair, GenerateConfig(device="cpu", landmark_input="decoded"))
