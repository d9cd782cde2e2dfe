"""Training phase ``translation``: the U-Net G and the patch discriminator D of §3.4, trained apart from the
landmark generator (§3.5) on (neutral face, ground-truth landmark image, real frame) triples.

One item is ``(z_0, y_t, z_t)`` for a sequence n of the train split and a frame t: ``z_0`` is frame 0 of the
sequence (the neutral face), ``y_t`` the dataset's landmark image of frame t, ``z_t`` the real frame. Each step
(pix2pix order) first updates D on real ``[z_0, z_t]`` and generated ``[z_0, w_t]`` pairs (eq. 5, one label per
pixel of D's coarsest map), then G on ``l1_weight * eq. 4 + adv_weight * adversarial term of eq. 6``.
The final G is written with ``save_pretrained`` to ``RUN/translator/`` (class ``UNetGenerator``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.format import SmileDataset
from ..data.torch_dataset import FrameTriples, load_items
from ..errors import CmmnetError
from ..losses.translation import GanLoss, TranslationLoss
from ..models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from ..models.unet import UNetConfig, UNetGenerator
from ..runtime import autocast, stable_seed
from . import batches
from .batches import BatchKey, EpochBatches
from .gan import AdamConfig, Export, GanPhase, train_gan
from .run import Run

PHASE = "translation"


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation of the training triples; the paper has none, and neither does the default (all zero = off).

    The same draw applies to all three images of a triple, so the pair stays consistent; the landmark image is only
    flipped, never recoloured. On FRL-Smile (64 train identities) ``flip=0.5, brightness=0.15, contrast=0.2,
    saturation=0.3`` lowered G's held-out L1 from 0.051 to 0.046 but left SSIM against real frames unchanged
    (docs/translation.md), so it stays opt-in (``--set translation.augment.flip=0.5 ...``)."""

    flip: float = 0.0  # probability of a horizontal flip (the drawn landmark contours are mirror-symmetric)
    brightness: float = 0.0  # added offset ~ U(-b, b) on the [-1, 1] scale
    contrast: float = 0.0  # factor ~ U(1 - c, 1 + c) about the neutral face's mean
    saturation: float = 0.0  # factor ~ U(1 - s, 1 + s) away from the grey image

    @property
    def active(self) -> bool:
        return any(v > 0 for v in (self.flip, self.brightness, self.contrast, self.saturation))


@dataclass(frozen=True)
class TranslationPhaseConfig:
    translator: UNetConfig = field(default_factory=UNetConfig)  # G of §3.4
    discriminator: PatchDiscriminatorConfig = field(default_factory=PatchDiscriminatorConfig)
    epochs: int = 20  # §3.5
    lr: float = 2e-4  # paper silent; pix2pix / DCGAN Adam settings
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 32  # (neutral, landmark image, frame) triples per step
    frames_per_sequence: int = 0  # frames drawn from each sequence per epoch (fresh draw every epoch); 0 = all T
    l1_weight: float = 100.0  # eq. 6 weighs both terms 1:1 as sums; with means, pix2pix's 100:1
    adv_weight: float = 1.0
    gan_loss: GanLoss = "non_saturating"
    val_items: int = 256  # test-split triples whose L1 is logged after every epoch (0 = none)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def frame_items(n_seq: int, T: int, frames_per_sequence: int, seed: int, epoch: int) -> np.ndarray:
    """The (sequence, frame) pairs of one epoch, (M, 2) int64 (:func:`cmmnet.training.batches.frame_items`)."""
    return batches.frame_items(n_seq, T, frames_per_sequence, seed, PHASE, "frames", epoch)


@torch.no_grad()
def augment_triples(z0: torch.Tensor, y: torch.Tensor, z: torch.Tensor, cfg: AugmentConfig,
                    generator: torch.Generator, points: tuple[torch.Tensor, ...] = ()
                    ) -> tuple[torch.Tensor, ...]:
    """One random flip + colour change per triple, the same for ``z_0``, ``y_t`` (flip only) and ``z_t``; landmark
    sets in ``points`` (each (B, 68, 2)) are flipped with them and returned after the triple."""
    b = z0.shape[0]
    u = torch.rand(b, 4, generator=generator).to(z0.device)  # (B, 4) uniform draws
    flip = (u[:, 0] < cfg.flip)[:, None, None, None]  # (B, 1, 1, 1)
    z0, y, z = (torch.where(flip, a.flip(-1), a) for a in (z0, y, z))
    width = z0.shape[-1]
    points = tuple(torch.where(flip[:, :, :, 0], torch.stack([width - 1 - p[..., 0], p[..., 1]], -1), p)
                   for p in points)  # x -> S - 1 - x (pixel centres at integers); same point order on both sides
    offset = ((2 * u[:, 1] - 1) * cfg.brightness)[:, None, None, None]  # (B, 1, 1, 1)
    contrast = (1 + (2 * u[:, 2] - 1) * cfg.contrast)[:, None, None, None]
    saturation = (1 + (2 * u[:, 3] - 1) * cfg.saturation)[:, None, None, None]
    mean = z0.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)

    def colour(a: torch.Tensor) -> torch.Tensor:
        grey = a.mean(dim=1, keepdim=True)  # (B, 1, S, S)
        a = grey + (a - grey) * saturation
        return ((a - mean) * contrast + mean + offset).clamp(-1, 1)

    return (colour(z0), y, colour(z), *points)


class AugmentedTriples(FrameTriples):
    """:class:`FrameTriples` with :func:`augment_triples` applied, drawn per (seed, epoch, step, rank)."""

    def __init__(self, data: SmileDataset, rows: np.ndarray, cfg: AugmentConfig, seed: int, rank: int):
        super().__init__(data, rows)
        self.cfg, self.seed, self.rank = cfg, seed, rank

    def __getitem__(self, key: BatchKey) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        (z0, y, z), (p0, pt) = super().__getitem__(key)
        draw = torch.Generator().manual_seed(stable_seed(self.seed, PHASE, "augment", key.epoch, key.step, self.rank))
        z0, y, z, p0, pt = augment_triples(z0, y, z, self.cfg, draw, (p0, pt))
        return (z0, y, z), (p0, pt)


@torch.no_grad()
def validation_l1(g: torch.nn.Module, data: SmileDataset, rows: np.ndarray, items: np.ndarray, run: Run,
                  batch_size: int) -> float:
    """Mean L1 (eq. 4, per pixel, [-1, 1] scale) of G in eval mode on fixed held-out triples."""
    was = g.training
    g.eval()
    total = torch.zeros((), device=run.dist.device)
    for i in range(0, len(items), batch_size):
        (z0, y, z), (p0, pt) = load_items(data, rows, items[i:i + batch_size], run.dist.device)
        with autocast(run.dist.device, run.precision):
            w = g(y, g.face_input_for(z0, p0, pt))  # (B, 3, S, S)
        total += (w.float() - z).abs().mean() * len(z)
    g.train(was)
    return float(total) / max(1, len(items))


def _validation_items(test: SmileDataset, cfg: TranslationPhaseConfig, seed: int) -> np.ndarray:
    """A fixed draw of ``cfg.val_items`` test-split (sequence, frame) pairs (none without a test split)."""
    if cfg.val_items <= 0 or len(test) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    all_val = frame_items(len(test), test.T, 0, seed, 0)
    pick = np.random.default_rng(stable_seed(seed, PHASE, "val")).permutation(len(all_val))[:cfg.val_items]
    return all_val[np.sort(pick)]


def train_translation(cfg: TranslationPhaseConfig, data: SmileDataset, run: Run) -> None:
    """Train G and D (§3.4) on the dataset's train split; write ``RUN/translator/`` (G) at the end."""
    rows = data.subset("train").index
    if data.image_size != cfg.translator.image_size:
        raise CmmnetError(f"translation: dataset images are {data.image_size}px but translation.translator.image_size"
                          f" is {cfg.translator.image_size}; use --set translation.translator.image_size=...")
    test = data.subset("test")
    val_items = _validation_items(test, cfg, run.seed)

    def items(epoch: int) -> np.ndarray:
        return frame_items(len(rows), data.T, cfg.frames_per_sequence, run.seed, epoch)

    triples = (AugmentedTriples(data, rows, cfg.augment, run.seed, run.dist.rank) if cfg.augment.active
               else FrameTriples(data, rows))  # off: the triples go to G untouched
    def validate(g: torch.nn.Module) -> dict[str, float]:
        return {"val_l1": validation_l1(g, test, test.index, val_items, run, cfg.batch_size)} if len(val_items) else {}

    train_gan(GanPhase(
        name=PHASE, models=lambda: (UNetGenerator(cfg.translator), PatchDiscriminator(cfg.discriminator)),
        dataset=triples,
        loss=lambda g, net_g, net_d: TranslationLoss(net_g, net_d, g.face_input_for, cfg.l1_weight, cfg.adv_weight,
                                                     cfg.gan_loss),
        batches=EpochBatches(items, cfg.batch_size, run.seed, PHASE, run.dist), epochs=cfg.epochs,
        adam=AdamConfig(cfg.lr, cfg.beta1, cfg.beta2), export=Export("translator", cfg.translator, "UNetGenerator"),
        validate=validate, describe=f"{len(rows)} train sequences, {len(items(0))} triples/epoch, "), run)
