"""The warp renderer's refinement network R: the model, the training phase `refinement`, the weights and the
renderer with R (frame 0 stays the photo; R acts only inside the face region)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from cmmnet.errors import CmmnetError
from cmmnet.models.io import load_pretrained, save_pretrained, update_model_index
from cmmnet.models.refiner import RefinerConfig, RefinerNet, blend
from cmmnet.render.config import WarpRenderConfig
from cmmnet.render.refine import LUMA
from cmmnet.training.refinement import RefinementPhaseConfig

TINY = RefinerConfig(image_size=64, width=4, levels=2, blocks=1)


def _tiny_cfg(epochs: int) -> RefinementPhaseConfig:
    return RefinementPhaseConfig(refiner=TINY, epochs=epochs, batch_size=4, frames_per_sequence=4, lr=2e-3,
                                 val_items=8)


def _train(data, cfg, out, resume=False):
    from cmmnet.training.refinement import train_refinement
    from cmmnet.training.run import Run

    with Run(out, cfg, resume=resume, seed=0, log_every=1, tensorboard=False) as run:
        train_refinement(cfg, data, run)


@pytest.fixture(scope="module")
def tiny_data(frl_dir, tmp_path_factory):
    from cmmnet.data import load_dataset
    from cmmnet.data.synth import synthesize

    out = tmp_path_factory.mktemp("data") / "frl2"
    return load_dataset(synthesize(frl_dir, out, people=2, per_face=1, seed=0, workers=1))


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """A run directory whose R trained 6 epochs on the tiny synth."""
    out = tmp_path_factory.mktemp("runs") / "r"
    _train(tiny_data, _tiny_cfg(6), out)
    return out


def test_shapes_ranges_and_blend():
    torch.manual_seed(0)
    r = RefinerNet(TINY)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y = (torch.rand(2, 1, 64, 64) > 0.9).float()
    with torch.no_grad():
        face, m = r(x, y)
        refined, m2 = r.refine(x, y)
    assert face.shape == (2, 3, 64, 64) and m.shape == (2, 1, 64, 64)
    assert face.abs().max() <= 1 and 0 <= m.min() and m.max() <= 1
    assert float(m.mean()) < 0.1  # the mask starts near 0: an untrained R leaves the warp almost alone
    assert torch.allclose(refined, blend(x, face, m)) and torch.equal(m, m2)
    assert torch.equal(blend(x, face, torch.zeros_like(m)), x)
    assert torch.allclose(blend(x, face, torch.ones_like(m)), face, atol=1e-6)
    n = sum(p.numel() for p in RefinerNet(RefinerConfig()).parameters())
    assert 300_000 < n < 2_000_000  # the default: small enough for 2 CPU cores
    with pytest.raises(CmmnetError, match="multiple"):
        RefinerNet(RefinerConfig(image_size=100, levels=3))


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    r = RefinerNet(TINY).eval()
    save_pretrained(r, TINY, tmp_path / "refiner")
    r2, cfg = load_pretrained(RefinerNet, RefinerConfig, tmp_path / "refiner")
    assert cfg == TINY and cfg.align.size == 64
    x, y = torch.rand(1, 3, 64, 64) * 2 - 1, torch.zeros(1, 1, 64, 64)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(r(x, y), r2(x, y)))


def test_phase_learns_writes_weights_and_resumes(tiny_data, trained, tmp_path):
    recs = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in recs if "epoch_l1" in r]
    assert len(epochs) == 6 and epochs[-1]["epoch_l1"] < epochs[0]["epoch_l1"]  # the loss falls
    assert all({"val_l1", "val_l1_warp", "val_l1_e", "val_l1_e_warp"} <= set(r) for r in epochs)
    assert json.loads((trained / "model_index.json").read_text())["parts"] == {"refiner": "RefinerNet"}
    r, cfg = load_pretrained(RefinerNet, RefinerConfig, trained / "refiner")
    assert cfg == TINY

    # 3 epochs, then --resume to 6: the same weights as the straight run
    _train(tiny_data, _tiny_cfg(3), tmp_path / "b")
    cfg_dict = json.loads((tmp_path / "b" / "config.json").read_text())
    cfg_dict["epochs"] = 6
    (tmp_path / "b" / "config.json").write_text(json.dumps(cfg_dict))
    _train(tiny_data, _tiny_cfg(6), tmp_path / "b", resume=True)
    r2, _ = load_pretrained(RefinerNet, RefinerConfig, tmp_path / "b" / "refiner")
    for k, v in r.state_dict().items():
        assert torch.equal(v, r2.state_dict()[k]), k


def test_adversarial_phase_trains_r_against_a_discriminator(tiny_data, tmp_path):
    from dataclasses import replace

    from cmmnet.models.patch_discriminator import PatchDiscriminatorConfig

    cfg = replace(_tiny_cfg(2), adv_weight=0.05, discriminator=PatchDiscriminatorConfig(width=0.125))
    _train(tiny_data, cfg, tmp_path / "gan")
    recs = [json.loads(line) for line in (tmp_path / "gan" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in recs if "epoch_loss_d" in r]
    assert len(epochs) == 2
    assert all({"epoch_adv", "epoch_d_real", "epoch_d_fake", "epoch_l1", "val_l1", "val_l1_warp"} <= set(r)
               for r in epochs)
    r, rcfg = load_pretrained(RefinerNet, RefinerConfig, tmp_path / "gan" / "refiner")
    assert rcfg == TINY  # only R is exported: D is a training device
    assert json.loads((tmp_path / "gan" / "model_index.json").read_text())["parts"] == {"refiner": "RefinerNet"}
    steps = [r for r in recs if "loss_g" in r]
    assert steps and all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in steps)
    for rec in steps:  # R's loss is the reconstruction loss plus adv_weight times the adversarial term
        parts = rec["l1"] + cfg.face_weight * rec["face_l1"] + cfg.mask_weight * rec["mask"] + 0.05 * rec["adv"]
        assert rec["loss_g"] == pytest.approx(parts, rel=1e-4)


def test_phase_rejects_another_image_size_or_drawing(tiny_data, tmp_path):
    from cmmnet.faces import LandmarkDrawConfig

    cfg = RefinementPhaseConfig(refiner=RefinerConfig(image_size=128, width=4), epochs=1)
    with pytest.raises(CmmnetError, match="image_size"):
        _train(tiny_data, cfg, tmp_path / "c")
    cfg = RefinementPhaseConfig(refiner=RefinerConfig(image_size=64, width=4, draw=LandmarkDrawConfig(thickness=2)))
    with pytest.raises(CmmnetError, match="drawn with"):
        _train(tiny_data, cfg, tmp_path / "d")


def _photo(data, seq: int, scale: float):
    """Frame 0 of a sequence upscaled to a larger 'photo', with every frame's landmarks in its pixels."""
    from PIL import Image

    face = np.asarray(data.arrays["faces"][seq, 0]).transpose(1, 2, 0)
    side = int(round(face.shape[0] * scale))
    photo = np.asarray(Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC))
    points = (np.asarray(data.arrays["landmarks"][seq], np.float64) + 0.5) * scale - 0.5  # (T, 68, 2)
    return photo, points


def test_renderer_with_r_keeps_frame_0_and_acts_only_in_the_face(tiny_data, trained):
    from cmmnet.render import WarpRenderer

    r, _ = load_pretrained(RefinerNet, RefinerConfig, trained / "refiner")
    seq = int(np.argmax(np.asarray(tiny_data.arrays["styles"]) == 0))  # a mouth_open sequence
    photo, points = _photo(tiny_data, seq, 2.5)
    points = points[::3]  # frame 0 and every third frame
    refined = WarpRenderer(photo, points[0], refiner=r.eval()).render(points)
    plain = WarpRenderer(photo, points[0]).render(points)
    off = WarpRenderer(photo, points[0], WarpRenderConfig(refine="off"), refiner=r).render(points)
    assert refined.shape == plain.shape == (len(points), *photo.shape)
    assert np.array_equal(off, plain)  # refine "off" is the plain warp
    mse = np.mean((refined[0].astype(np.float64) - photo) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40  # frame 0 is the photo

    torch.manual_seed(0)
    fresh = RefinerNet(RefinerConfig(image_size=64, width=4, levels=2, blocks=1, mask_bias=0.0)).eval()  # m ~ 0.5
    renderer = WarpRenderer(photo, points[0], refiner=fresh)
    painted = renderer.render(points)
    assert np.array_equal(painted[0], photo)
    assert np.abs(painted.astype(int) - plain).max() > 20  # R changes the moved frames
    g = renderer.region(points).grid
    changed = np.abs(painted.astype(int) - plain).max(axis=(0, 3)) > 0  # (H, W)
    inside = np.zeros(photo.shape[:2], bool)
    bh, bw = min(g.pixel_size[0], photo.shape[0] - g.y0), min(g.pixel_size[1], photo.shape[1] - g.x0)
    inside[g.y0:g.y0 + bh, g.x0:g.x0 + bw] = True
    assert not changed[~inside].any()  # outside the face region: the photo's own pixels

    grey = np.repeat(photo.astype(np.float64) @ LUMA, 3).reshape(photo.shape)
    grey = grey.round().astype(np.uint8)  # the same photo in black and white
    frames = WarpRenderer(grey, points[0], refiner=fresh).render(points).astype(int)
    assert np.abs(frames - grey).max() > 20  # R still paints ...
    assert np.abs(frames - frames[..., :1]).max() <= 1  # ... in grey: no colour on a black-and-white photo


def test_weights_with_and_without_r(trained, tmp_path):
    from cmmnet.generate import CMMNet, GenerateConfig
    from cmmnet.generate.pipeline import default_weights_dir

    cfg = GenerateConfig(device="cpu", precision="fp32")
    assert CMMNet.from_pretrained(None, cfg).refiner is None  # the shipped weights: the plain warp
    w = tmp_path / "w"
    shutil.copytree(default_weights_dir(), w)
    shutil.copytree(trained / "refiner", w / "refiner")
    update_model_index(w, "refiner")
    net = CMMNet.from_pretrained(w, cfg)
    assert isinstance(net.refiner, RefinerNet) and "refiner" in net.weights


def test_cli_refine_option():
    import argparse

    from cmmnet.commands.generate_cmd import add_net_arguments, net_config

    p = argparse.ArgumentParser()
    add_net_arguments(p)
    assert net_config(p.parse_args([])).render.refine == "on"
    assert net_config(p.parse_args(["--refine", "off"])).render.refine == "off"
