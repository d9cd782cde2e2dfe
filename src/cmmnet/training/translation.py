"""Training phase ``translation``: the U-Net G and the patch discriminator D of §3.4, trained apart from the
landmark generator (§3.5) on (neutral face, ground-truth landmark image, real frame) triples."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..losses.translation import GanLoss
from ..models.patch_discriminator import PatchDiscriminatorConfig
from ..models.unet import UNetConfig


@dataclass(frozen=True)
class TranslationPhaseConfig:
    generator: UNetConfig = field(default_factory=UNetConfig)
    discriminator: PatchDiscriminatorConfig = field(default_factory=PatchDiscriminatorConfig)
    epochs: int = 20  # §3.5
    lr: float = 2e-4  # paper silent; pix2pix / DCGAN Adam settings
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 32  # (neutral, landmark image, frame) triples per step
    frames_per_sequence: int = 0  # frames drawn from each sequence per epoch; 0 = all T (paper)
    l1_weight: float = 100.0  # eq. 6 weighs both terms 1:1 as sums; with means, pix2pix's 100:1
    adv_weight: float = 1.0
    gan_loss: GanLoss = "non_saturating"
