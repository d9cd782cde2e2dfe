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
    cfg = TranslationPhaseConfig(generator=UNetConfig(width=0.25))
    assert from_dict(TranslationPhaseConfig, to_dict(cfg)) == cfg
    g = UNetGenerator(cfg.generator).eval()
    save_pretrained(g, cfg.generator, tmp_path / "g")
    g2, c2 = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "g")
    x = torch.rand(1, 1, 64, 64), torch.rand(1, 3, 64, 64)
    assert c2 == cfg.generator and torch.equal(g(*x), g2.eval()(*x))
    save_pretrained(PatchDiscriminator(cfg.discriminator), cfg.discriminator, tmp_path / "d")
    with pytest.raises(CheckpointError):
        load_pretrained(UNetGenerator, UNetConfig, tmp_path / "d")  # another architecture
    with pytest.raises(CheckpointError):  # same class, other width
        save_pretrained(g, UNetConfig(width=0.5), tmp_path / "bad")
        load_pretrained(UNetGenerator, UNetConfig, tmp_path / "bad")
