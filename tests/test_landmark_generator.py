"""Landmark generator: shapes of every module, losses, point model, save/load round trip, bad weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cmmnet.errors import CheckpointError, CmmnetError
from cmmnet.faces import draw_landmarks
from cmmnet.losses import landmark as L
from cmmnet.models.conditional_lstm import ConditionalLSTM, ConditionalLSTMConfig
from cmmnet.models.landmark_generator import LandmarkGenerator, LandmarkGeneratorConfig
from cmmnet.models.landmark_vae import LandmarkVAE, LandmarkVAEConfig
from cmmnet.models.multimode import MultiModeConfig, MultiModeLSTMs, Phi
from cmmnet.models.point_model import PointModel, PointModelConfig

TINY = LandmarkGeneratorConfig(
    T=6, modes=3, vae=LandmarkVAEConfig(channels=(4, 8, 8, 16)),
    lstm=ConditionalLSTMConfig(hidden_size=16), multimode=MultiModeConfig(hidden_size=16),
    points=PointModelConfig(components=8, iterations=4),
)


@pytest.fixture(scope="module")
def real_landmarks(frl_dir) -> np.ndarray:
    """Aligned dlib landmarks (64 px) of 2 people, neutral and smiling, plus 3 interpolations each: (10, 68, 2)."""
    from cmmnet.faces import FaceDetector
    from cmmnet.faces.pipeline import process_image

    det = FaceDetector()
    out = []
    for person in ("001", "003"):
        a, b = (process_image(frl_dir / f"{person}_{k}.jpg", detector=det).aligned.landmarks for k in ("03", "08"))
        out += [a * (1 - f) + b * f for f in np.linspace(0, 1, 5)]
    return np.stack(out).astype(np.float32)


def _tiny_generator(landmarks: np.ndarray, cfg: LandmarkGeneratorConfig = TINY) -> LandmarkGenerator:
    torch.manual_seed(0)
    g = LandmarkGenerator(cfg)
    g.points.fit_pca(landmarks)
    return g


def test_vae_layers_and_shapes():
    vae = LandmarkVAE(LandmarkVAEConfig())  # the paper's widths
    convs = [m for m in vae.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in vae.encoder) == 3  # all but the first
    assert vae.mu_head.out_channels == vae.logvar_head.out_channels == 100
    deconvs = [m for m in vae.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [512, 256, 128, 64, 1]
    assert deconvs[0].stride == (1, 1) and deconvs[0].padding == (0, 0)
    y = (torch.rand(3, 1, 64, 64) > 0.9).float()
    logits, mu, logvar = vae(y)
    assert logits.shape == (3, 1, 64, 64) and mu.shape == logvar.shape == (3, 100)
    assert vae.decode(torch.randn(2, 5, 100)).shape == (2, 5, 1, 64, 64)
    assert float(vae.decode(torch.randn(2, 100)).detach().min()) >= 0.0
    with pytest.raises(CmmnetError, match="image_size"):
        LandmarkVAE(LandmarkVAEConfig(), image_size=48)


def test_lstm_multimode_phi_shapes():
    lstm = ConditionalLSTM(ConditionalLSTMConfig(hidden_size=32), latent_dim=100, num_labels=2)
    h0 = torch.randn(4, 100)
    h = lstm(h0, torch.tensor([0, 1, 0, 1]), steps=32)
    assert h.shape == (4, 32, 100)
    assert torch.allclose(h, h0[:, None].expand_as(h))  # delta_h0 output starts as the identity
    for k in (1, 3, 5):
        mm = MultiModeLSTMs(MultiModeConfig(hidden_size=32), 100, k)
        hk = mm(h)
        assert hk.shape == (4, k, 32, 100)
        logits = Phi(100, k)(hk.mean(2))
        assert logits.shape == (4, k, k)
    for variant in (dict(init="zeros", feed="h0", output="absolute"), dict(output="delta_prev")):
        out = ConditionalLSTM(ConditionalLSTMConfig(hidden_size=8, **variant), 100, 2)(h0, torch.zeros(4).long(), 5)
        assert out.shape == (4, 5, 100)


@pytest.mark.parametrize("feed, mode_input, same", [("motion", "motion", True), ("previous", "motion", False),
                                                     ("motion", "sequence", False)])
def test_motion_feeds_make_the_motion_the_same_for_every_person(feed, mode_input, same):
    torch.manual_seed(0)
    lstm = ConditionalLSTM(ConditionalLSTMConfig(hidden_size=16, init="zeros", feed=feed), 100, 2)
    nn.init.normal_(lstm.out.weight, std=0.1)  # a trained-looking output (it starts at zero)
    mm = MultiModeLSTMs(MultiModeConfig(hidden_size=16, input=mode_input), 100, 3)
    h0 = torch.randn(4, 100)
    h = lstm(h0, torch.zeros(4).long(), 6)  # (4, 6, 100)
    motion = h - h0[:, None]
    modes = mm(h) - h[:, None]  # (4, 3, 6, 100) each mode's deviation
    same_cond = torch.allclose(motion, motion[:1].expand_as(motion), atol=1e-6)
    same_modes = torch.allclose(modes, modes[:1].expand_as(modes), atol=1e-6)
    assert (same_cond and same_modes) == same
    assert same_cond == (feed == "motion")


def test_losses():
    y = (torch.rand(2, 3, 1, 8, 8) > 0.5).float()
    assert float(L.bce(torch.where(y > 0, 20.0, -20.0), y)) < 1e-4
    assert float(L.bce(torch.zeros_like(y), y)) == pytest.approx(64 * np.log(2), rel=1e-5)
    assert float(L.kl(torch.zeros(4, 10), torch.zeros(4, 10))) == 0.0
    assert float(L.kl(torch.ones(4, 10), torch.zeros(4, 10))) == pytest.approx(5.0)
    h = torch.randn(2, 5, 7)
    hk = h[:, None] + torch.tensor([-1.0, 1.0])[None, :, None, None]  # modes symmetric around h
    assert float(L.pull(h, hk)) == pytest.approx(0.0, abs=1e-6)
    assert float(L.pull(h, hk + 1)) == pytest.approx(7.0)
    # three modes: one on h, one a little below, one far above (a mode that smiles wider than the median smile)
    hk = h[:, None] + torch.tensor([0.0, -0.5, 3.0])[None, :, None, None]  # (2, 3, 5, 7)
    assert float(L.pull(h, hk, "median")) == pytest.approx(0.0, abs=1e-6)  # the middle mode is h
    assert float(L.pull(h, hk, "mean")) == pytest.approx(7 * (2.5 / 3) ** 2, rel=1e-5)  # the others must pay
    good = torch.eye(3).expand(2, 3, 3) * 30
    assert float(L.push(good)) < 1e-6 and float(L.mode_accuracy(good)) == 1.0
    assert float(L.push(torch.zeros(2, 3, 3))) == pytest.approx(np.log(3))


def test_point_model_fits_real_landmark_images(real_landmarks):
    pm = PointModel(PointModelConfig(components=12))
    pm.fit_pca(real_landmarks)
    imgs = torch.from_numpy(np.stack([draw_landmarks(p, 64) for p in real_landmarks])).float()
    fit = pm.fit(imgs)
    err = (fit - torch.from_numpy(real_landmarks)).norm(dim=-1).mean()
    start = (pm.reconstruct(torch.zeros(1, 12)) - torch.from_numpy(real_landmarks)).norm(dim=-1).mean()
    assert float(err) < 0.5 * float(start) and float(err) < 0.6  # from the mean shape onto each drawn face
    assert fit.shape == (10, 68, 2)
    with pytest.raises(CmmnetError, match="not been fitted"):
        PointModel(PointModelConfig()).fit(imgs)


def test_generate_shapes_and_errors(real_landmarks):
    g = _tiny_generator(real_landmarks)
    out = g.generate(real_landmarks[0], "posed")
    assert out.images.shape == (4, 6, 64, 64) and out.images.dtype == np.float32
    assert out.points.shape == (4, 6, 68, 2) and out.points.dtype == np.float32
    assert out.embeddings.shape == (4, 6, 100) and out.label == "posed"
    assert 0.0 <= out.images.min() and out.images.max() <= 1.0
    assert g.generate(real_landmarks[0], 1, modes=1).images.shape == (2, 6, 64, 64)
    with pytest.raises(CmmnetError, match="K=3"):
        g.generate(real_landmarks[0], "posed", modes=4)
    with pytest.raises(CmmnetError, match="unknown label"):
        g.generate(real_landmarks[0], "angry")
    with pytest.raises(CmmnetError, match="68, 2"):
        g.generate(real_landmarks[0][:10], "posed")
    batch = g.generate_batch(torch.zeros(2, 1, 64, 64), torch.tensor([0, 1]), modes=2, fit_points=False)
    assert batch["images"].shape == (2, 3, 6, 64, 64) and "points" not in batch


def test_save_load_round_trip(real_landmarks, tmp_path):
    g = _tiny_generator(real_landmarks)
    with torch.no_grad():  # make the LSTM outputs non-trivial and the BN statistics non-default
        for p in g.parameters():
            p.add_(0.05 * torch.randn_like(p))
    g.train()
    g.vae(torch.rand(8, 1, 64, 64))
    g.save_pretrained(tmp_path / "lg")
    assert json.loads((tmp_path / "lg" / "config.json").read_text())["class"] == "LandmarkGenerator"
    g2 = LandmarkGenerator.from_pretrained(tmp_path / "lg")
    assert g2.cfg == g.cfg
    a, b = g.generate(real_landmarks[1], "spontaneous"), g2.generate(real_landmarks[1], "spontaneous")
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.points, b.points)
    for k, v in g.state_dict().items():
        assert torch.equal(v, g2.state_dict()[k]), k


def test_wrong_architecture_and_damaged_weights(real_landmarks, tmp_path):
    g = _tiny_generator(real_landmarks)
    g.save_pretrained(tmp_path / "ok")
    # another architecture: same class name, different widths in the config -> weights do not fit
    other = tmp_path / "other"
    other.mkdir()
    meta = json.loads((tmp_path / "ok" / "config.json").read_text())
    meta["config"]["lstm"]["hidden_size"] = 24
    (other / "config.json").write_text(json.dumps(meta))
    (other / "model.safetensors").write_bytes((tmp_path / "ok" / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="do not match"):
        LandmarkGenerator.from_pretrained(other)
    # another class altogether
    meta2 = dict(meta, **{"class": "UNetGenerator"})
    (other / "config.json").write_text(json.dumps(meta2))
    with pytest.raises(CheckpointError, match="UNetGenerator"):
        LandmarkGenerator.from_pretrained(other)
    # a damaged weights file
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text((tmp_path / "ok" / "config.json").read_text())
    raw = (tmp_path / "ok" / "model.safetensors").read_bytes()
    (damaged / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        LandmarkGenerator.from_pretrained(damaged)
