"""The linear point read-out, the point losses, and the landmark phases trained on read-out points (tiny configs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cmmnet.cli import main
from cmmnet.errors import CmmnetError
from cmmnet.losses import landmark as L
from cmmnet.models.landmark_generator import LandmarkGenerator
from cmmnet.models.point_readout import PointReadout

SMOKE = ["--preset", "smoke", "--set", "run.device=cpu", "run.determinism=deterministic", "run.num_threads=1"]
POINTS = ['landmark_generator.readout="linear"', 'lstm.target="points"', 'multimode.target="points"',
          'multimode.recon="best_of_k"', 'lstm.point_frame="retargeted"', 'multimode.point_frame="retargeted"',
          "vae.point_weight=1.0", "lstm.smooth_weight=1.0", "multimode.smooth_weight=1.0", "lstm.h0_noise=0.5",
          "multimode.h0_noise=0.5", "lstm.velocity_weight=1.0", 'landmark_generator.draw.raster="antialiased"',
          "vae.shape_augment=0.5", "lstm.readout_shape_augment=0.5", "multimode.modes_eye_weight=3"]


@pytest.fixture(scope="module")
def tiny_data(frl_dir, tmp_path_factory) -> Path:
    from cmmnet.data.synth import synthesize

    return synthesize(frl_dir, tmp_path_factory.mktemp("data") / "frl2", people=2, per_face=2, seed=0, workers=1)


@pytest.mark.parametrize("seed", range(3))
def test_readout_recovers_a_linear_map(seed):
    g = torch.Generator().manual_seed(seed)
    w, b = torch.randn(10, 136, generator=g), torch.randn(136, generator=g)
    h = torch.randn(200, 10, generator=g)
    r = PointReadout(10)
    r.fit(h, (h @ w + b).reshape(-1, 68, 2), ridge=0.0)
    torch.testing.assert_close(r(h[:5]), (h[:5] @ w + b).reshape(5, 68, 2), atol=1e-4, rtol=1e-4)
    assert r(torch.randn(3, 7, 10, generator=g)).shape == (3, 7, 68, 2)


def test_readout_refuses_before_fit_and_bad_shapes():
    r = PointReadout(4)
    with pytest.raises(CmmnetError, match="not fitted"):
        r(torch.zeros(1, 4))
    with pytest.raises(CmmnetError, match="embeddings"):
        r.fit(torch.zeros(5, 3), torch.zeros(5, 68, 2), 0.0)


def test_point_error_and_best_of_k():
    pts = torch.zeros(2, 68, 2)
    tgt = torch.ones(2, 68, 2)
    assert torch.allclose(L.point_error(pts, tgt, "l1"), torch.ones(2))
    assert torch.allclose(L.point_error(pts, tgt, "l2"), torch.full((2,), 2.0))
    eyes = tgt.clone()
    eyes[:, 36:48] = 3.0  # the eyes 3 px off per coordinate, every other point 1
    w = torch.ones(68)
    w[36:48] = 4.0
    assert torch.allclose(L.point_error(pts, eyes, "l1", torch.ones(68)), L.point_error(pts, eyes, "l1"))
    assert torch.allclose(L.point_error(pts, eyes, "l1", w), torch.full((2,), (56 * 1 + 12 * 4 * 3) / (56 + 48)))
    err = torch.tensor([[1.0, 3.0, 5.0], [4.0, 2.0, 6.0]], requires_grad=True)
    loss = L.best_of_k(err, eps=0.3)
    assert loss.item() == pytest.approx(((0.7 * 1 + 0.1 * 9) + (0.7 * 2 + 0.1 * 12)) / 2)
    loss.backward()
    assert torch.allclose(err.grad, torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]) / 2)


def test_roughness_is_zero_on_constant_velocity_and_counts_a_jump():
    t = torch.arange(6.0)[:, None, None] * torch.ones(6, 68, 2)  # (T, 68, 2) moving at constant speed
    assert L.roughness(t).item() == 0.0
    jump = torch.zeros(6, 68, 2)
    jump[3:] = 2.0  # one step of 2 px at t = 3: second differences +2 and -2 among 4
    assert L.roughness(jump[None]).item() == pytest.approx(1.0)


def test_velocity_error_is_zero_on_the_targets_motion_and_counts_creep():
    target = torch.zeros(6, 68, 2)
    target[:3] = torch.arange(3.0)[:, None, None]  # moves 1 px per frame, then stops at frame 2
    target[3:] = 2.0
    assert L.velocity_error(target + 5.0, target).item() == 0.0  # an offset is not a velocity
    creep = target.clone()
    creep[3:] += torch.arange(1.0, 4.0)[:, None, None] * 0.3  # keeps moving 0.3 px per frame over 3 of 5 steps
    assert L.velocity_error(creep[None], target[None]).item() == pytest.approx(0.3 * 3 / 5)


def test_train_on_points_end_to_end(tiny_data, tmp_path):
    out = tmp_path / "run"
    sets = [a for kv in POINTS for a in ("--set", kv)]
    assert main(["train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae,lstm,multimode", *SMOKE,
                 *sets]) == 0
    import json

    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["phase"] == "lstm" and np.isfinite(r["points"]) and np.isfinite(r["velocity"]) for r in recs)
    mm = [r for r in recs if r["phase"] == "multimode"]
    assert mm and all(np.isfinite(r["best_of_k"]) and np.isfinite(r["roughness"]) and "push" in r for r in mm)
    # the VAE's point head trained beside it (and kept in the phase's checkpoint only)
    assert all(np.isfinite(r["vae_points"]) for r in recs if r["phase"] == "vae")
    head = load_file(str(out / "checkpoints" / "vae.safetensors"))["model/point_head/weight"]
    assert head.abs().max() > 0
    # the VAE stays as phase 1 left it
    vae_before = {k: v for k, v in load_file(str(out / "checkpoints" / "vae.safetensors")).items()
                  if k.startswith("model/generator/vae.")}
    final = load_file(str(out / "landmark_generator" / "model.safetensors"))
    for k, v in vae_before.items():
        assert torch.equal(final[k[len("model/generator/"):]].float(), v.float()), k
    gen = LandmarkGenerator.from_pretrained(out / "landmark_generator")
    assert gen.readout is not None and int(gen.readout.fitted) == 1
    lm = np.load(tiny_data / "landmarks.npy")[0, 0]
    y0 = gen.draw_neutral(lm)  # drawn as it was trained: anti-aliased, grey levels between the lines' 0 and 1
    assert gen.cfg.draw.raster == "antialiased" and ((y0 > 0.05) & (y0 < 0.95)).sum() > 100
    res = gen.generate(lm, "posed")
    assert res.points.shape == (4, 32, 68, 2)
    np.testing.assert_allclose(res.points, gen.readout(torch.from_numpy(res.embeddings)).numpy(), atol=1e-4)


@pytest.mark.parametrize("sets, message", [
    (['lstm.target="points"'], "readout"),
    (['multimode.recon="best_of_k"'], "best_of_k"),
])
def test_points_settings_that_do_not_fit(tiny_data, tmp_path, capsys, sets, message):
    args = ["train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--phases", "vae,lstm,multimode", *SMOKE]
    assert main(args + [a for kv in sets for a in ("--set", kv)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and message in err[-1] and "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("frame", ["absolute", "retargeted"])
def test_retargeted_points_ignore_the_readouts_neutral_error(frame):
    """With point_frame "retargeted" the LSTM is scored on the read-out motion added to the real neutral face, as
    generation draws it: a read-out that is off by a constant (its error on the neutral face) changes nothing and
    frame 0 is exact; "absolute" scores the read-out points themselves."""
    from cmmnet.models.landmark_generator import LandmarkGeneratorConfig
    from cmmnet.training.landmark import LSTMPhaseConfig, _PointSequenceStep

    torch.manual_seed(0)
    cfg = LandmarkGeneratorConfig(readout="linear")
    gen = LandmarkGenerator(cfg).eval()
    gen.readout.fit(torch.randn(300, cfg.vae.latent_dim), torch.rand(300, 68, 2) * 64, ridge=1e-3)
    torch.nn.init.normal_(gen.lstm.out.weight, std=0.05)
    step = _PointSequenceStep(gen, LSTMPhaseConfig(target="points", point_frame=frame))
    y0 = (torch.rand(2, 1, 64, 64) > 0.9).float()
    labels = torch.tensor([0, 1])
    pts = torch.rand(2, cfg.T, 68, 2) * 64
    with torch.no_grad():
        base = step(y0, labels, pts)["points"]
        gen.readout.bias += 3.0
        shifted = step(y0, labels, pts)["points"]
        read = step._read(gen.lstm(gen.vae.encode(y0)[0], labels, cfg.T), pts[:, :1])
    if frame == "retargeted":
        torch.testing.assert_close(shifted, base)
        torch.testing.assert_close(read[:, 0], pts[:, 0])
    else:
        assert not torch.allclose(shifted, base)


@pytest.mark.parametrize("raster", ["binary", "antialiased"])
def test_shape_augment_draws_the_moved_points_and_is_a_function_of_the_step(tiny_data, raster):
    """vae.shape_augment: each image is its landmarks moved by a random shape-model offset and drawn again (as the
    generator draws); the same step gives the same batch (resume and DDP stay exact), another step other shapes."""
    from cmmnet.data import load_dataset
    from cmmnet.faces import LandmarkDrawConfig, landmark_images
    from cmmnet.models.landmark_generator import LandmarkGeneratorConfig
    from cmmnet.training.batches import BatchKey
    from cmmnet.training.landmark import _LandmarkFrames

    d = load_dataset(tiny_data).subset("train")
    lm = torch.from_numpy(np.asarray(d.landmarks, dtype=np.float32))
    imgs = torch.from_numpy(np.asarray(d.landmark_images))
    gen = LandmarkGenerator(LandmarkGeneratorConfig(draw=LandmarkDrawConfig(raster=raster)))
    gen.points.fit_pca(lm.reshape(-1, 68, 2).numpy())
    frames = _LandmarkFrames(imgs, lm, gen, 0.5, (0, "vae", "augment"))
    key = BatchKey(0, 3, np.array([[0, 0], [1, 5]]))
    y, p = frames[key]
    assert 0.005 < (p - lm[[0, 1], [0, 5]]).abs().mean() < 3.0  # moved, by less than a face changes
    for img, pts in zip(y[:, 0].numpy(), p.numpy()):
        np.testing.assert_array_equal(img, landmark_images(pts, gen.cfg.image_size, gen.cfg.draw)[0])
    y2, p2 = frames[key]
    assert torch.equal(y, y2) and torch.equal(p, p2)
    assert not torch.equal(p, frames[key._replace(step=4)][1])
    y0, p0 = _LandmarkFrames(imgs, lm, gen, 0.0, (0,))[key]
    assert torch.equal(p0, lm[[0, 1], [0, 5]]) and torch.equal(y0[:, 0], imgs[[0, 1], [0, 5]].float())
