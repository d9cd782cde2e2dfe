"""Metrics with known answers, the Inception-v3 loader, and `cmmnet evaluate` end to end on a tiny dataset.

``tiny_dataset`` (also used by test_baselines.py / test_study.py) builds a real dataset from a few FRL people: dlib
landmarks and alignment of the neutral and smiling photos, and T frames blending one into the other (a fast ramp
for "posed", a slow one for "spontaneous").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cmmnet.errors import CmmnetError
from cmmnet.evaluation import compute_metric, list_metrics
from cmmnet.evaluation import metrics as M

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------- tiny dataset
def tiny_dataset(frl_dir: Path, out: Path, people: int = 3, T: int = 16, size: int = 64) -> Path:
    """A real, tiny dataset: ``people`` FRL people x 2 labels; the last person is the test split."""
    from cmmnet.data import write_dataset
    from cmmnet.faces import AlignConfig, FaceDetector, LandmarkDrawConfig, align_face, draw_landmarks, read_image

    det = FaceDetector()
    ids = sorted(p.name[:3] for p in Path(frl_dir).glob("*_03.jpg"))[:people]
    cfg = AlignConfig(size=size)
    faces, limgs, lms, labels, subjects, splits = [], [], [], [], [], []
    ramps = {0: np.clip(np.arange(T) / (T / 2 - 1), 0, 1),  # posed: fast onset, held
             1: 0.8 * (3 * (np.arange(T) / (T - 1)) ** 2 - 2 * (np.arange(T) / (T - 1)) ** 3)}  # spontaneous
    for si, pid in enumerate(ids):
        aligned = []
        for kind in ("03", "08"):
            img = read_image(Path(frl_dir) / f"{pid}_{kind}.jpg")
            aligned.append(align_face(img, det.detect(img).landmarks, cfg))
        n, s = aligned
        for label, w in ramps.items():
            ww = w[:, None, None, None]
            frames = ((1 - ww) * n.image[None].astype(np.float64) + ww * s.image[None]).round().astype(np.uint8)
            pts = ((1 - w[:, None, None]) * n.landmarks[None] + w[:, None, None] * s.landmarks[None]).astype(np.float32)
            faces.append(frames.transpose(0, 3, 1, 2))
            lms.append(pts)
            limgs.append(np.stack([draw_landmarks(p, size, LandmarkDrawConfig()) for p in pts]))
            labels.append(label)
            subjects.append(si)
            splits.append(1 if si == len(ids) - 1 else 0)
    arrays = {
        "faces": np.stack(faces), "landmark_images": np.stack(limgs).astype(np.uint8),
        "landmarks": np.stack(lms), "labels": np.array(labels, np.int64), "subjects": np.array(subjects, np.int64),
        "styles": np.full(len(labels), -1, np.int64), "splits": np.array(splits, np.int8),
    }
    return write_dataset(out, arrays, source="test:frl-blend", label_names=["posed", "spontaneous"],
                         subject_names=ids, command="tiny_dataset")


@pytest.fixture(scope="module")
def tiny(frl_dir, tmp_path_factory):
    from cmmnet.data import load_dataset

    return load_dataset(tiny_dataset(frl_dir, tmp_path_factory.mktemp("ds") / "tiny"))


# --------------------------------------------------------------------------------------------- known answers
def test_registry_lists_all_metrics():
    assert {"ssim", "inception_score", "delta_is", "au_curves", "au_curve_distance", "mode_diversity",
            "mode_style_agreement", "identity_distance"} <= set(list_metrics())
    with pytest.raises(CmmnetError, match="unknown metric"):
        compute_metric("nope")


def test_ssim_identical_is_one_and_matches_skimage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    v = rng.integers(0, 256, (2, 3, 3, 32, 32), dtype=np.uint8)
    assert compute_metric("ssim", generated=v, real=v)["ssim"] == pytest.approx(1.0)
    w = np.clip(v.astype(int) + rng.integers(-60, 60, v.shape), 0, 255).astype(np.uint8)
    got = M.ssim_frames(v.reshape(-1, 3, 32, 32), w.reshape(-1, 3, 32, 32))
    want = [structural_similarity(a, b, channel_axis=0, data_range=255)
            for a, b in zip(v.reshape(-1, 3, 32, 32), w.reshape(-1, 3, 32, 32))]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert compute_metric("ssim", generated=w, real=v)["ssim"] < 0.95
    # the maps: skimage's full map (channels averaged) without the border whose windows leave the image
    _, full = structural_similarity(v[0, 0], w[0, 0], channel_axis=0, data_range=255, full=True)
    np.testing.assert_allclose(M.ssim_maps(v[0, :1], w[0, :1])[0], full.mean(0)[3:-3, 3:-3], rtol=1e-10)


def test_inception_score_known_answers():
    uniform = np.full((50, 10), 0.1)
    assert compute_metric("inception_score", probs=uniform)["is"] == pytest.approx(1.0)
    onehot = np.eye(10)[np.arange(100) % 10]  # confident and evenly spread over 10 classes: IS = 10
    assert compute_metric("inception_score", probs=onehot, splits=1)["is"] == pytest.approx(10.0)
    assert compute_metric("delta_is", is_generated=1.3, is_real=1.5)["delta_is"] == pytest.approx(0.2)


def test_inception_score_of_a_small_random_network():
    """class_probs + inception_score on a tiny random classifier equal the formula computed by hand."""
    from cmmnet.models.inception import class_probs

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 5)).eval()
    frames = np.random.default_rng(1).integers(0, 256, (12, 3, 16, 16), dtype=np.uint8)
    p = class_probs(net, frames, batch_size=5).double().numpy()
    with torch.no_grad():
        ref = torch.softmax(net(torch.from_numpy(frames).double().div(255).float()).double(), 1).numpy()
    np.testing.assert_allclose(p, ref, atol=1e-6)
    py = ref.mean(0)
    want = np.exp(np.mean(np.sum(ref * (np.log(ref) - np.log(py)), 1)))
    assert compute_metric("inception_score", probs=p, splits=1)["is"] == pytest.approx(want, rel=1e-5)


def test_inception_loader_safetensors_only(tmp_path):
    from cmmnet.models.inception import InceptionConfig, InceptionV3, load_inception
    from cmmnet.models.io import save_state

    with pytest.raises(CmmnetError, match="not found"):
        load_inception(tmp_path / "missing.safetensors")
    (tmp_path / "w.pth").write_bytes(b"not read")
    with pytest.raises(CmmnetError, match="convert_inception"):
        load_inception(tmp_path / "w.pth")
    torch.manual_seed(0)
    model = InceptionV3(InceptionConfig(num_classes=1008)).eval()
    save_state(model.state_dict(), tmp_path / "w.safetensors")
    loaded = load_inception(tmp_path / "w.safetensors")
    assert loaded.config.variant == "fid"
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_convert_inception_script(tmp_path):
    """The one-off converter reads a .pth with weights_only=True and writes a loadable .safetensors."""
    from cmmnet.models.inception import InceptionConfig, InceptionV3

    torch.manual_seed(0)
    sd = InceptionV3(InceptionConfig(num_classes=1000, variant="torchvision")).state_dict()
    sd["AuxLogits.fc.weight"] = torch.zeros(2, 2)
    torch.save(sd, tmp_path / "w.pth")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_inception.py"), str(tmp_path / "w.pth"),
                        str(tmp_path / "w.safetensors")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "1000 classes, variant torchvision" in r.stdout
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_inception.py"), str(tmp_path / "bad.pth"),
                        str(tmp_path / "bad.safetensors")], capture_output=True, text=True)
    assert r.returncode == 2 and "weights_only" in r.stderr and not (tmp_path / "bad.safetensors").exists()


def test_au_curve_distance_of_a_shifted_curve():
    rng = np.random.default_rng(0)
    base = {"au6": rng.normal(size=32), "au12": rng.normal(size=32)}
    shifted = {"au6": base["au6"] + 0.05, "au12": base["au12"] - 0.1}
    d = compute_metric("au_curve_distance", curves=shifted, real_curves=base)
    assert d["au6_distance"] == pytest.approx(32 * 0.05)
    assert d["au12_distance"] == pytest.approx(32 * 0.1)
    assert d["au_distance"] == pytest.approx(32 * 0.15)
    assert compute_metric("au_curve_distance", curves=base, real_curves=base)["au_distance"] == 0.0


def test_au_curves_smoothed_and_averaged(tiny):
    lm = np.asarray(tiny.landmarks)
    c = compute_metric("au_curves", landmarks=lm, window=5)
    assert set(c) == {"au6", "au12"} and c["au12"].shape == (tiny.T,)
    raw = M.au_intensities(lm)["au12"]
    k = np.ones(5) / 5
    inner = np.mean([np.convolve(r, k, mode="valid") for r in raw], 0)  # centred 5-frame mean, away from edges
    np.testing.assert_allclose(c["au12"][2:-2], inner, atol=1e-12)
    assert c["au12"][-1] > 0.05  # the blended smiles widen the mouth
    still = np.repeat(lm[:, :1], tiny.T, axis=1)  # no motion: flat zero curves
    assert np.abs(compute_metric("au_curves", landmarks=still)["au12"]).max() < 1e-12


def test_mode_metrics_known_answers():
    base = np.zeros((4, 1, 5, 68, 2))
    same = np.repeat(base, 3, axis=1)
    assert compute_metric("mode_diversity", modes=same)["mode_diversity"] == 0.0
    apart = same + np.arange(3)[None, :, None, None, None]  # modes 1 px apart in every coordinate
    assert compute_metric("mode_diversity", modes=apart)["mode_diversity"] == pytest.approx(4 / 3)
    protos = np.arange(3)[:, None, None, None] * np.ones((3, 5, 68, 2))
    perm = apart[:, [2, 0, 1]]  # modes land on styles 2, 0, 1: still a perfect one-to-one agreement
    r = compute_metric("mode_style_agreement", modes=perm, style_prototypes=protos)
    assert r["mode_style_purity"] == 1.0 and r["mode_style_nmi"] == pytest.approx(1.0)
    r = compute_metric("mode_style_agreement", modes=np.zeros((6, 3, 5, 68, 2)), style_prototypes=protos)
    assert r["mode_style_purity"] == pytest.approx(1 / 3) and r["mode_style_nmi"] == 0.0


def test_identity_distance_same_face_is_small(tiny):
    faces, lm = np.asarray(tiny.faces), np.asarray(tiny.landmarks)
    same = compute_metric("identity_distance", neutral=faces[:2, 0], neutral_landmarks=lm[:2, 0],
                          generated=faces[:2, :1], generated_landmarks=lm[:2, :1])
    assert same["identity_distance"] < 1e-6 and same["identity_same"] == 1.0
    other = compute_metric("identity_distance", neutral=faces[:1, 0], neutral_landmarks=lm[:1, 0],
                           generated=faces[2:3, :1], generated_landmarks=lm[2:3, :1])  # another person
    assert other["identity_distance"] > 0.3


def test_frame_landmarks_recover_known_points(tiny):
    from cmmnet.evaluation.landmarks import FrameLandmarks

    fl = FrameLandmarks()
    faces, lm = np.asarray(tiny.faces[0]), np.asarray(tiny.landmarks[0])
    got = fl(faces[[0, -1]], fl.box(faces[0], lm[0]))
    err = np.linalg.norm(got - lm[[0, -1]], axis=-1).mean()
    assert err < 1.5  # pixels of the 64 px face


def _json(path: Path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


# --------------------------------------------------------------------------------------------- cmmnet evaluate
@pytest.fixture(scope="module")
def baseline_run(tiny, tmp_path_factory):
    """One run directory with a 1-epoch CRA-Net and Video-GAN (tiny widths) trained on ``tiny``."""
    from cmmnet.models.patch_discriminator import PatchDiscriminatorConfig
    from cmmnet.training.baselines import CRANetPhaseConfig, VideoGANPhaseConfig, train_cranet, train_videogan
    from cmmnet.training.run import Run
    from test_baselines import TINY_CRA, TINY_VGAN

    out = tmp_path_factory.mktemp("runs") / "run"
    with Run(out, {"test": "baselines"}, seed=0, tensorboard=False, log_every=100) as run:
        train_cranet(CRANetPhaseConfig(model=TINY_CRA, discriminator=PatchDiscriminatorConfig(channels=(8, 8, 8, 8)),
                                       epochs=1, batch_size=4), tiny, run)
        train_videogan(VideoGANPhaseConfig(model=TINY_VGAN, epochs=1, batch_size=4), tiny, run)
    return out


def test_evaluate_report_and_cache(tiny, baseline_run, tmp_path, capsys):
    from cmmnet.cli import main

    report = tmp_path / "report"
    argv = ["evaluate", "--runs", str(baseline_run), "--data", str(tiny.path), "--out", str(report),
            "--set", "batch_size=1"]
    assert main(argv) == 0
    md = (report / "report.md").read_text()
    assert "## Table 1" in md and "## Table 3" in md and "| CRA-Net |" in md and "| Video-GAN |" in md
    assert "n/a: no --inception file" in md
    for label in ("posed", "spontaneous"):
        assert (report / f"fig8_{label}.png").stat().st_size > 1000
    rows = _json(report / "metrics.jsonl")
    by = {(r["method"], r["label"]): r for r in rows}
    assert set(by) == {(m, lb) for m in ("Original", "CRA-Net", "Video-GAN") for lb in ("posed", "spontaneous")}
    for m in ("CRA-Net", "Video-GAN"):
        r = by[(m, "posed")]
        assert 0 < r["ssim"] < 1 and r["au_distance"] > 0 and "is" not in r
        assert r["n"] == 1 and r["identity_distance"] > 0
    assert by[("Original", "posed")]["identity_distance"] < by[("CRA-Net", "posed")]["identity_distance"]
    videos = sorted(p.relative_to(report / "videos") for p in (report / "videos").rglob("*.mp4"))
    assert len(videos) == 4 and {p.parts[1] for p in videos} == {"posed", "spontaneous"}
    # second run: everything from REPORT/cache (the cache files are not rewritten), same numbers
    cache = {p: p.stat().st_mtime_ns for p in (report / "cache").iterdir()}
    assert len(cache) == 3
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in (report / "cache").iterdir()} == cache
    assert _json(report / "metrics.jsonl") == rows


def test_evaluate_with_inception(tiny, baseline_run, tmp_path):
    """IS and ΔIS with a user-given Inception file (random weights here: the plumbing, not the numbers)."""
    from cmmnet.cli import main
    from cmmnet.models.inception import InceptionConfig, InceptionV3
    from cmmnet.models.io import save_state

    torch.manual_seed(0)
    save_state(InceptionV3(InceptionConfig()).state_dict(), tmp_path / "inc.safetensors")
    report = tmp_path / "report"
    assert main(["evaluate", "--runs", str(baseline_run), "--data", str(tiny.path), "--out", str(report),
                 "--inception", str(tmp_path / "inc.safetensors"), "--set", "is_frames=1",
                 "--set", "max_sequences=1"]) == 0  # one test video, one frame each: 3 Inception passes
    by = {(r["method"], r["label"]): r for r in _json(report / "metrics.jsonl")}
    assert set(by) == {(m, "posed") for m in ("Original", "CRA-Net", "Video-GAN")}
    for m in ("CRA-Net", "Video-GAN"):
        assert by[(m, "posed")]["is"] == pytest.approx(1.0)  # one image per split: IS is exactly 1
        assert by[(m, "posed")]["delta_is"] == pytest.approx(0.0, abs=1e-9)
    assert "n/a" not in (report / "report.md").read_text()


def test_evaluate_without_inception_and_bad_inputs(tiny, baseline_run, tmp_path, capsys):
    from cmmnet.cli import main

    report = tmp_path / "r"
    assert main(["evaluate", "--runs", str(baseline_run), "--data", str(tiny.path), "--out", str(report)]) == 0
    assert "n/a: no --inception file" in (report / "report.md").read_text()
    capsys.readouterr()
    assert main(["evaluate", "--runs", str(tmp_path), "--data", str(tiny.path), "--out", str(report)]) == 2
    assert "holds no trained model" in capsys.readouterr().err
    (tmp_path / "lm_only" / "landmark_generator").mkdir(parents=True)
    assert main(["evaluate", "--runs", str(tmp_path / "lm_only"), "--data", str(tiny.path), "--out", str(report)]) == 2
    assert "needs landmark_generator/ and translator/ in one directory" in capsys.readouterr().err
    assert main(["evaluate", "--runs", str(baseline_run), "--data", str(tiny.path), "--out", str(report),
                 "--inception", str(tmp_path / "none.safetensors")]) == 2
    assert "Inception weights not found" in capsys.readouterr().err


def test_study_make_from_runs(tiny, baseline_run, tmp_path, capsys):
    """`study make` with training runs generates both methods' test videos (paired by input) and builds the page."""
    from cmmnet.cli import main

    argv = ["study", "make", "--a", str(baseline_run), "--b", str(baseline_run), "--data", str(tiny.path),
            "--out", str(tmp_path / "study"), "--pairs", "2"]
    assert main(argv) == 2
    assert "choose one with --method-a" in capsys.readouterr().err
    assert main(argv + ["--method-a", "cra-net", "--method-b", "Video-GAN"]) == 0
    key = json.loads((tmp_path / "study" / "key.json").read_text())
    assert (key["a"]["name"], key["b"]["name"]) == ("CRA-Net", "Video-GAN")
    assert sorted(p["label"] for p in key["pairs"]) == ["posed", "spontaneous"]
    assert len(list((tmp_path / "study" / "videos").glob("*.mp4"))) == 4


@pytest.fixture(scope="module")
def cmm_run(tiny, tmp_path_factory):
    """A CMM-Net run directory (landmark_generator/ + translator/): narrow, untrained networks, the point model's
    shape basis fitted on the tiny dataset (as the vae phase does). Exercises the CMM-Net path, not its quality."""
    from cmmnet.config import apply_overrides
    from cmmnet.models.io import save_pretrained
    from cmmnet.models.landmark_generator import LandmarkGenerator, LandmarkGeneratorConfig
    from cmmnet.models.unet import UNetConfig, UNetGenerator

    out = tmp_path_factory.mktemp("runs") / "cmm"
    cfg = apply_overrides(LandmarkGeneratorConfig(T=tiny.T, label_names=tuple(tiny.label_names)),
                          ["vae.channels=[4,8,8,16]", "lstm.hidden_size=16", "multimode.hidden_size=16",
                           "points.components=8", "points.iterations=5"])
    torch.manual_seed(0)
    lm = LandmarkGenerator(cfg)
    lm.points.fit_pca(np.asarray(tiny.landmarks).reshape(-1, 68, 2))
    lm.save_pretrained(out / "landmark_generator")
    u = UNetConfig(width=0.125)
    save_pretrained(UNetGenerator(u), u, out / "translator", name="UNetGenerator")
    return out


def test_evaluate_cmmnet_run(tiny, cmm_run, baseline_run, tmp_path):
    """By default both renderers: a "CMM-Net" (G) and a "CMM-Net (warp)" row, the same modes' points, their own
    videos; ``--renderers warp`` keeps the warp row only (from the cache)."""
    from cmmnet.cli import main

    report = tmp_path / "report"
    argv = ["evaluate", "--runs", str(cmm_run), str(baseline_run), "--data", str(tiny.path), "--out", str(report)]
    assert main(argv) == 0
    rows = _json(report / "metrics.jsonl")
    by = {(r["method"], r["label"]): r for r in rows}
    for name in ("CMM-Net", "CMM-Net (warp)"):
        cmm = [r for r in rows if r["method"] == name]
        assert {r["label"] for r in cmm} == {"posed", "spontaneous", None}
        modes = by[(name, None)]
        assert modes["mode_diversity"] >= 0 and "mode_style_purity" not in modes  # tiny has no hidden styles
        assert modes["mode_sequences"] == 2
        assert all(0 < r["ssim"] < 1 for r in cmm if r["label"])
    # the renderer does not change the landmarks: the same mode metrics; it changes the frames
    assert by[("CMM-Net (warp)", None)]["mode_diversity"] == by[("CMM-Net", None)]["mode_diversity"]
    assert by[("CMM-Net (warp)", "posed")]["ssim"] != by[("CMM-Net", "posed")]["ssim"]
    md = (report / "report.md").read_text()
    assert md.index("| CMM-Net |") < md.index("| CMM-Net (warp) |") < md.index("| CRA-Net |")
    assert "--renderers paper,warp" in md
    key = by[("CMM-Net", "posed")]["weights"]
    assert by[("CMM-Net (warp)", "posed")]["weights"] == key  # the same weights, two renderers
    for slug in (f"cmmnet-{key[:8]}", f"cmmnetwarp-{key[:8]}"):
        assert len(list((report / "videos" / slug).rglob("*.mp4"))) == 2
    cache = {p: p.stat().st_mtime_ns for p in (report / "cache").iterdir()}
    assert len(cache) == 5  # Original, CMM-Net, CMM-Net (warp), CRA-Net, Video-GAN
    assert main(argv[:2] + [str(cmm_run)] + argv[4:] + ["--renderers", "warp"]) == 0
    assert {r["method"] for r in _json(report / "metrics.jsonl")} == {"Original", "CMM-Net (warp)"}
    assert {p: p.stat().st_mtime_ns for p in (report / "cache").iterdir()} == cache


def test_cmmnet_warp_method(tiny, cmm_run):
    """The warp renderer's row: the aligned neutral frame moved along row 0's points. Frame 0 is that frame
    exactly; moved along a real smile's landmarks it comes closer to the real smile. (That its frames are not G's:
    test_evaluate_cmmnet_run.)"""
    from cmmnet.evaluation.methods import CMMNetMethod, find_methods

    [paper] = find_methods(cmm_run)  # callers that do not ask: G only
    warp = CMMNetMethod(cmm_run, "cpu", "warp")
    assert (paper.name, warp.name) == ("CMM-Net", "CMM-Net (warp)") and paper.key == warp.key
    with pytest.raises(CmmnetError, match="renderer 'gan': unknown"):
        CMMNetMethod(cmm_run, "cpu", "gan")  # type: ignore[arg-type]
    assert (paper.slug, warp.slug) == (f"cmmnet-{paper.key[:8]}", f"cmmnetwarp-{paper.key[:8]}")
    faces0, lm0 = np.asarray(tiny.faces[:2, 0]), np.asarray(tiny.landmarks[:2, 0])
    labels = [tiny.label_names[int(i)] for i in np.asarray(tiny.labels[:2])]
    videos, _ = warp.generate(faces0, lm0, labels, seed=0)
    assert videos.shape == (2, tiny.T, 3, 64, 64) and videos.dtype == np.uint8
    assert np.array_equal(videos[:, 0], faces0)  # frame 0 is the input frame, exactly
    # the untrained fixture barely moves the points: render along the real (posed) sequence's landmarks instead
    real, real_lm = np.array(tiny.faces[0].transpose(0, 2, 3, 1)), np.asarray(tiny.landmarks[0])  # (T, S, S, 3)
    moved = warp._render(np.zeros((tiny.T, 64, 64), np.float32), real[0], real_lm, real_lm[0])  # (T, S, S, 3)
    assert np.array_equal(moved[0], real[0])

    def mae(a):
        return np.abs(a.astype(int) - real[-1]).mean()

    assert mae(moved[-1]) < 0.9 * mae(real[0])  # closer to the smiling frame than the neutral one is


def test_cmmnet_batched_generation_equals_generate_aligned(tiny, cmm_run):
    """The evaluator's batched CMM-Net path gives generate_aligned's row 0 and modes (same weights, same seed)."""
    from cmmnet.evaluation.methods import CMMNetMethod

    m = CMMNetMethod(cmm_run, "cpu")
    faces0, lm0 = np.asarray(tiny.faces[:3, 0]), np.asarray(tiny.landmarks[:3, 0])
    labels = [tiny.label_names[int(i)] for i in np.asarray(tiny.labels[:3])]
    batched, modes_b = m.generate(faces0, lm0, labels, seed=0, modes_for=len(faces0))
    from cmmnet.generate import TimingConfig

    as_generated = TimingConfig.as_generated(tiny.T)  # evaluation scores the T generated frames as they are
    one_by_one = [m.model.generate_aligned(np.array(f.transpose(1, 2, 0)), np.array(p), lab, seed=0,
                                           timing=as_generated) for f, p, lab in zip(faces0, lm0, labels)]
    single = np.stack([r.frames[0].transpose(0, 3, 1, 2) for r in one_by_one])  # (B, T, 3, S, S)
    modes_s = np.stack([r.points[1:] for r in one_by_one])  # (B, K, T, 68, 2)
    assert batched.shape == single.shape == (3, tiny.T, 3, 64, 64) and modes_b.shape == modes_s.shape
    # generate_aligned returns the modes retargeted onto the neutral face; their motion is the same
    np.testing.assert_allclose(modes_b - modes_b[:, :, :1], modes_s - modes_s[:, :, :1], atol=1e-3)
    assert np.abs(batched.astype(int) - single.astype(int)).max() <= 1
    fewer, modes_1 = m.generate(faces0, lm0, labels, seed=0, modes_for=1)  # modes of the first input only
    assert np.array_equal(fewer, batched) and np.array_equal(modes_1, modes_b[:1])
