"""The translation block (§3.4, §4.1): U-Net G, patch discriminator D, losses eq. 4-6, the training phase."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cmmnet.config import from_dict, to_dict
from cmmnet.errors import CheckpointError, CmmnetError
from cmmnet.losses.translation import discriminator_loss, generator_adversarial_loss, reconstruction_l1
from cmmnet.models.io import load_pretrained, save_pretrained
from cmmnet.models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from cmmnet.models.unet import UNetConfig, UNetGenerator
from cmmnet.training.translation import TranslationPhaseConfig


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def test_unet_matches_section_4_1():
    g = UNetGenerator(UNetConfig())
    enc = [layer[0] for layer in g.down]
    assert [c.out_channels for c in enc] == [64, 128, 256, 512, 512, 512]
    assert enc[0].in_channels == 4  # neutral face + landmark image
    assert all((c.kernel_size, c.stride, c.padding) == ((4, 4), (2, 2), (1, 1)) for c in _convs(g))
    # BN on all encoder layers but the first; LeakyReLU on the first five, plain ReLU on the last
    assert [any(isinstance(m, nn.BatchNorm2d) for m in layer) for layer in g.down] == [False] + [True] * 5
    assert [type(layer[-1]) for layer in g.down] == [nn.LeakyReLU] * 5 + [nn.ReLU]
    dec = [layer[0] for layer in g.up]
    assert [c.out_channels for c in dec] == [512, 512, 256, 128, 64, 3]
    assert [c.in_channels for c in dec] == [512, 1024, 1024, 512, 256, 128]  # skip connections
    assert all(isinstance(layer[-1], nn.ReLU) and isinstance(layer[1], nn.BatchNorm2d) for layer in g.up[:-1])
    assert isinstance(g.up[-1][-1], nn.Tanh)


def test_discriminator_matches_section_4_1():
    d = PatchDiscriminator(PatchDiscriminatorConfig())
    convs = _convs(d)
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert convs[0].in_channels == 6
    assert [c.stride for c in convs] == [(2, 2)] * 3 + [(1, 1)] * 2
    layers = list(d.net)
    bn_after = [isinstance(layers[layers.index(c) + 1], nn.BatchNorm2d) if c is not convs[-1] else False
                for c in convs]
    assert bn_after == [False, True, True, True, False]
    assert sum(isinstance(m, nn.LeakyReLU) for m in layers) == 4 and layers[-1] is convs[-1]


@pytest.mark.parametrize("width", [1.0, 0.25])
def test_shapes_and_range(width):
    torch.manual_seed(0)
    g = UNetGenerator(UNetConfig(width=width)).eval()
    d = PatchDiscriminator(PatchDiscriminatorConfig(width=width)).eval()
    face = torch.rand(2, 3, 64, 64) * 2 - 1
    lm = (torch.rand(2, 1, 64, 64) > 0.9).float()
    out = g(lm, face)
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1
    assert d(face, out).shape == (2, 1, 6, 6)  # one label per pixel of the coarsest map


def test_width_scales_parameters_and_bad_configs():
    n = {w: sum(p.numel() for p in UNetGenerator(UNetConfig(width=w)).parameters()) for w in (1.0, 0.5)}
    assert 3.5 < n[1.0] / n[0.5] < 4.5  # conv weights scale with width^2
    with pytest.raises(CmmnetError):
        UNetGenerator(UNetConfig(image_size=48))
    with pytest.raises(CmmnetError):
        PatchDiscriminator(PatchDiscriminatorConfig(width=0))


def test_losses():
    x = torch.zeros(1, 3, 4, 4)
    assert reconstruction_l1(x + 0.5, x).item() == pytest.approx(0.5)
    big = torch.full((2, 1, 6, 6), 20.0)
    assert discriminator_loss(big, -big).item() == pytest.approx(0.0, abs=1e-6)  # D right everywhere
    assert discriminator_loss(-big, big).item() > 30  # D wrong everywhere
    zero = torch.zeros(2, 1, 6, 6)
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * np.log(2), rel=1e-5)
    # G's terms: non-saturating -log D(fake), minimax log(1 - D(fake)); both fall as D believes the fake
    for kind in ("non_saturating", "minimax"):
        assert generator_adversarial_loss(big, kind) < generator_adversarial_loss(zero, kind)
    assert generator_adversarial_loss(zero, "minimax").item() == pytest.approx(-np.log(2), rel=1e-5)
    with pytest.raises(ValueError):
        generator_adversarial_loss(zero, "hinge")  # type: ignore[arg-type]


def test_config_round_trip_and_save_load(tmp_path):
    cfg = TranslationPhaseConfig(translator=UNetConfig(width=0.25))
    assert from_dict(TranslationPhaseConfig, to_dict(cfg)) == cfg
    g = UNetGenerator(cfg.translator).eval()
    save_pretrained(g, cfg.translator, tmp_path / "g")
    g2, c2 = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "g")
    x = torch.rand(1, 1, 64, 64), torch.rand(1, 3, 64, 64)
    assert c2 == cfg.translator and torch.equal(g(*x), g2.eval()(*x))
    save_pretrained(PatchDiscriminator(cfg.discriminator), cfg.discriminator, tmp_path / "d")
    with pytest.raises(CheckpointError):
        load_pretrained(UNetGenerator, UNetConfig, tmp_path / "d")  # another architecture
    with pytest.raises(CheckpointError):  # same class, other width
        save_pretrained(g, UNetConfig(width=0.5), tmp_path / "bad")
        load_pretrained(UNetGenerator, UNetConfig, tmp_path / "bad")


# ------------------------------------------------------------------------------------------- training phase
def _tiny_dataset(frl_dir, out, people=3, T=6):
    """A small real dataset: each person's aligned neutral photo cross-fading into their smiling photo (two
    timing curves as the two labels), landmark images drawn from the interpolated landmarks."""
    from cmmnet.data import write_dataset
    from cmmnet.faces import draw_landmarks
    from cmmnet.faces.pipeline import process_image

    ids = sorted(p.name[:3] for p in frl_dir.glob("*_08.jpg"))[:people]
    faces, lms, lmi, labels, subjects, splits = [], [], [], [], [], []
    for i, pid in enumerate(ids):
        neu, smi = (process_image(frl_dir / f"{pid}_{k}.jpg").aligned for k in ("03", "08"))
        for label, curve in enumerate((np.linspace(0, 1, T), np.linspace(0, 1, T) ** 2)):
            a = curve[:, None, None, None]
            f = (1 - a) * neu.image[None].astype(np.float32) + a * smi.image[None].astype(np.float32)  # (T,S,S,3)
            pts = (1 - a[..., 0]) * neu.landmarks[None] + a[..., 0] * smi.landmarks[None]  # (T, 68, 2)
            faces.append(np.round(f).astype(np.uint8).transpose(0, 3, 1, 2))
            lms.append(pts.astype(np.float32))
            lmi.append(np.stack([draw_landmarks(p, 64) for p in pts]))
            labels.append(label)
            subjects.append(i)
            splits.append(1 if i == len(ids) - 1 else 0)
    arrays = {"faces": np.stack(faces), "landmark_images": np.stack(lmi), "landmarks": np.stack(lms),
              "labels": np.array(labels, np.int64), "subjects": np.array(subjects, np.int64),
              "styles": np.full(len(labels), -1, np.int64), "splits": np.array(splits, np.int8)}
    return write_dataset(out, arrays, source="test cross-fade", label_names=["posed", "spontaneous"],
                         subject_names=ids, command="test")


@pytest.fixture(scope="module")
def tiny_data(frl_dir, tmp_path_factory):
    from cmmnet.data import load_dataset

    return load_dataset(_tiny_dataset(frl_dir, tmp_path_factory.mktemp("data") / "ds"))


def _tiny_cfg(epochs=5):
    return TranslationPhaseConfig(translator=UNetConfig(width=0.125),
                                  discriminator=PatchDiscriminatorConfig(width=0.125), epochs=epochs,
                                  batch_size=4, frames_per_sequence=5, lr=1e-3, val_items=8)


def _train(data, cfg, out, resume=False, workers=0):
    from cmmnet.training.run import Run
    from cmmnet.training.translation import train_translation

    with Run(out, cfg, resume=resume, seed=0, log_every=1, tensorboard=False, workers=workers) as run:
        train_translation(cfg, data, run)


def test_frame_items_cover_and_are_seeded():
    from cmmnet.training.translation import frame_items

    full = frame_items(3, 5, 0, seed=0, epoch=0)
    assert full.shape == (15, 2) and len({tuple(r) for r in full}) == 15
    a, b = frame_items(3, 5, 2, 0, 1), frame_items(3, 5, 2, 0, 1)
    assert a.shape == (6, 2) and np.array_equal(a, b)
    assert all(len(set(a[a[:, 0] == s, 1])) == 2 for s in range(3))  # distinct frames per sequence
    assert not np.array_equal(a, frame_items(3, 5, 2, 0, 2))  # a fresh draw every epoch


def test_augmentation_is_consistent_within_a_triple_and_seeded():
    from cmmnet.training.translation import AugmentConfig, augment_triples

    g = torch.Generator().manual_seed(0)
    z0 = torch.rand(64, 3, 8, 8) * 2 - 1
    z = z0.clone()  # the real frame equals the neutral face: it must stay equal to it after augmentation
    y = (torch.rand(64, 1, 8, 8) > 0.7).float()
    cfg = AugmentConfig(flip=0.5, brightness=0.15, contrast=0.2, saturation=0.3)
    a0, ay, az = augment_triples(z0, y, z, cfg, g)
    assert torch.equal(a0, az)  # one draw per triple, applied to both faces
    assert a0.min() >= -1 and a0.max() <= 1
    flipped = [torch.equal(ay[i], y[i].flip(-1)) and not torch.equal(y[i], y[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(ay[i], y[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54  # y is only flipped, about half
    assert set(torch.unique(ay).tolist()) <= {0.0, 1.0}
    again = augment_triples(z0, y, z, cfg, torch.Generator().manual_seed(0))
    assert all(torch.equal(u, v) for u, v in zip((a0, ay, az), again))  # a pure function of the generator
    none = AugmentConfig()
    assert cfg.active and not none.active
    assert all(torch.allclose(u, v, atol=1e-6) for u, v in zip(augment_triples(z0, y, z, none, g), (z0, y, z)))


def test_train_translation_learns_saves_and_resumes(tiny_data, tmp_path):
    import json

    from cmmnet.data.torch_dataset import load_items

    cfg = _tiny_cfg()
    _train(tiny_data, cfg, tmp_path / "a")
    g, gcfg = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "a" / "translator")
    assert gcfg == cfg.translator
    g.eval()
    train = tiny_data.subset("train")
    items = np.stack([np.repeat(np.arange(len(train)), tiny_data.T), np.tile(np.arange(tiny_data.T), len(train))], 1)
    (z0, y, z), _ = load_items(tiny_data, train.index, items, torch.device("cpu"))
    torch.manual_seed(0)
    fresh = UNetGenerator(cfg.translator).eval()
    with torch.no_grad():
        assert reconstruction_l1(g(y, z0), z) < 0.7 * reconstruction_l1(fresh(y, z0), z)  # it learned
    recs = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert any("val_l1" in r for r in recs) and all(np.isfinite(r["loss_d"]) for r in recs if "loss_d" in r)

    # 3 epochs, then --resume to 5: the same weights as the straight run (checkpoint holds opt + RNG state)
    _train(tiny_data, _tiny_cfg(epochs=3), tmp_path / "b")
    cfg_dict = json.loads((tmp_path / "b" / "config.json").read_text())
    cfg_dict["epochs"] = cfg.epochs
    (tmp_path / "b" / "config.json").write_text(json.dumps(cfg_dict))
    _train(tiny_data, cfg, tmp_path / "b", resume=True)
    g2, _ = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "b" / "translator")
    for k, v in g.state_dict().items():
        assert torch.equal(v, g2.state_dict()[k]), k
    # complete: a further --resume skips training and leaves the weights alone
    before = (tmp_path / "b" / "translator" / "model.safetensors").stat().st_mtime_ns
    _train(tiny_data, cfg, tmp_path / "b", resume=True)
    assert (tmp_path / "b" / "translator" / "model.safetensors").stat().st_mtime_ns == before


def test_train_translation_rejects_wrong_image_size(tiny_data, tmp_path):
    cfg = TranslationPhaseConfig(translator=UNetConfig(image_size=128, width=0.125), epochs=1)
    with pytest.raises(CmmnetError, match="image_size"):
        _train(tiny_data, cfg, tmp_path / "c")


def test_train_translation_with_the_warped_input(tiny_data, tmp_path):
    cfg = TranslationPhaseConfig(translator=UNetConfig(width=0.125, face_input="warped"),
                                 discriminator=PatchDiscriminatorConfig(width=0.125), epochs=1, batch_size=4,
                                 frames_per_sequence=2, val_items=4)
    _train(tiny_data, cfg, tmp_path / "run")
    _, gcfg = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "run" / "translator")
    assert gcfg.face_input == "warped"
    assert "val_l1" in (tmp_path / "run" / "metrics.jsonl").read_text()


def test_loader_workers_do_not_change_the_batches(tiny_data, tmp_path):
    """A DataLoader worker process (which reopens the memory-mapped dataset) gives the weights of in-process loading."""
    cfg = _tiny_cfg(epochs=1)
    _train(tiny_data, cfg, tmp_path / "w0")
    _train(tiny_data, cfg, tmp_path / "w1", workers=1)
    a, _ = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "w0" / "translator")
    b, _ = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "w1" / "translator")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
