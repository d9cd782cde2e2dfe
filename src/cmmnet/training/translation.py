"""Training phase ``translation``: the U-Net G and the patch discriminator D of §3.4, trained apart from the
landmark generator (§3.5) on (neutral face, ground-truth landmark image, real frame) triples.

One item is ``(z_0, y_t, z_t)`` for a sequence n of the train split and a frame t: ``z_0`` is frame 0 of the
sequence (the neutral face), ``y_t`` the dataset's landmark image of frame t, ``z_t`` the real frame. Each step
(pix2pix order) first updates D on real ``[z_0, z_t]`` and generated ``[z_0, w_t]`` pairs (eq. 5, one label per
pixel of D's coarsest map), then G on ``l1_weight * eq. 4 + adv_weight * adversarial term of eq. 6``.
The final G is written with ``save_pretrained`` to ``RUN/translator/`` (class ``UNetGenerator``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.format import SmileDataset
from ..errors import CmmnetError
from ..losses.translation import GanLoss, discriminator_loss, generator_adversarial_loss, reconstruction_l1
from ..models.io import save_pretrained
from ..models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from ..models.unet import UNetConfig, UNetGenerator
from .common import Run, autocast, epoch_batches, epoch_summary, log_epoch, stable_seed

log = logging.getLogger(__name__)

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
    generator: UNetConfig = field(default_factory=UNetConfig)
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
    """The (sequence, frame) pairs of one epoch, (M, 2) int64: all T frames of every sequence, or a fresh draw of
    ``frames_per_sequence`` distinct frames per sequence (a pure function of seed and epoch: resume-safe)."""
    if frames_per_sequence <= 0 or frames_per_sequence >= T:
        seq, t = np.meshgrid(np.arange(n_seq), np.arange(T), indexing="ij")
        return np.stack([seq.ravel(), t.ravel()], axis=1)
    rng = np.random.default_rng(stable_seed(seed, PHASE, "frames", epoch))
    t = np.argsort(rng.random((n_seq, T)), axis=1)[:, :frames_per_sequence]  # (n_seq, f)
    seq = np.repeat(np.arange(n_seq), frames_per_sequence)
    return np.stack([seq, t.ravel()], axis=1)


def load_items(data: SmileDataset, rows: np.ndarray, items: np.ndarray, device: torch.device
               ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``(z_0, y_t, z_t)`` for ``items`` (B, 2) = (position in ``rows``, frame) — faces in [-1, 1], y in [0, 1] —
    and the landmarks ``(p_0, p_t)`` (B, 68, 2) of those two frames."""
    seq = rows[items[:, 0]]
    order = np.argsort(seq, kind="stable")  # memory-mapped reads in file order
    back = np.argsort(order)
    s, t = seq[order], items[order, 1]
    faces, points = data.arrays["faces"], data.arrays["landmarks"]
    z0 = np.asarray(faces[s, 0])[back]  # (B, 3, S, S) uint8
    zt = np.asarray(faces[s, t])[back]  # (B, 3, S, S) uint8
    yt = np.asarray(data.arrays["landmark_images"][s, t])[back]  # (B, S, S) uint8
    p0 = np.asarray(points[s, 0])[back]  # (B, 68, 2) float32
    pt = np.asarray(points[s, t])[back]  # (B, 68, 2)

    def face(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0).to(device)

    def pts(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.float32)).to(device)

    triple = face(z0), torch.from_numpy(yt.astype(np.float32)).unsqueeze(1).to(device), face(zt)
    return triple, (pts(p0), pts(pt))


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


@torch.no_grad()
def validation_l1(g: torch.nn.Module, data: SmileDataset, rows: np.ndarray, items: np.ndarray, run: Run,
                  batch_size: int) -> float:
    """Mean L1 (eq. 4, per pixel, [-1, 1] scale) of G in eval mode on fixed held-out triples."""
    was = g.training
    g.eval()
    total, n = 0.0, 0
    for i in range(0, len(items), batch_size):
        (z0, y, z), (p0, pt) = load_items(data, rows, items[i:i + batch_size], run.dist.device)
        with autocast(run.dist.device, run.precision):
            w = g(y, g.face_input_for(z0, p0, pt))  # (B, 3, S, S)
        total += float((w.float() - z).abs().mean()) * len(z)
        n += len(z)
    g.train(was)
    return total / max(1, n)


def train_translation(cfg: TranslationPhaseConfig, data: SmileDataset, run: Run) -> None:
    """Train G and D (§3.4) on the dataset's train split; write ``RUN/translator/`` (G) at the end."""
    device = run.dist.device
    train = data.subset("train")
    rows = train.index
    T = data.T
    out_dir = run.dir / "translator"
    if data.image_size != cfg.generator.image_size:
        raise CmmnetError(f"translation: dataset images are {data.image_size}px but translation.generator.image_size "
                          f"is {cfg.generator.image_size}; use --set translation.generator.image_size=...")
    torch.manual_seed(stable_seed(run.seed, PHASE, "init"))
    g = UNetGenerator(cfg.generator).to(device)
    d = PatchDiscriminator(cfg.discriminator).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(PHASE)
    if ckpt.finished(cfg.epochs):
        if not (out_dir / "model.safetensors").is_file() and run.dist.is_main:
            ckpt.load_models({"G": g})
            save_pretrained(g.cpu(), cfg.generator, out_dir, name="UNetGenerator")
        return
    start = ckpt.restore({"G": g, "D": d}, {"G": opt_g, "D": opt_d})
    net_g, net_d = run.wrap(g), run.wrap(d)

    test = data.subset("test")
    val_items = np.zeros((0, 2), dtype=np.int64)
    if cfg.val_items > 0 and len(test) > 0:
        all_val = frame_items(len(test), T, 0, run.seed, 0)
        pick = np.random.default_rng(stable_seed(run.seed, PHASE, "val")).permutation(len(all_val))[:cfg.val_items]
        val_items = all_val[np.sort(pick)]

    n_items = len(frame_items(len(rows), T, cfg.frames_per_sequence, run.seed, 0))
    steps_per_epoch = len(epoch_batches(n_items, cfg.batch_size, run.seed, PHASE, 0, run.dist))
    run.set_step(PHASE, start * steps_per_epoch)
    log.info("phase %s: %d train sequences, %d triples/epoch, %d steps/epoch, G %.2fM params, D %.2fM params",
             PHASE, len(rows), n_items, steps_per_epoch, sum(p.numel() for p in g.parameters()) / 1e6,
             sum(p.numel() for p in d.parameters()) / 1e6)
    g.train()
    d.train()
    for epoch in run.epochs(PHASE, start, cfg.epochs):
        items = frame_items(len(rows), T, cfg.frames_per_sequence, run.seed, epoch)
        sums: dict[str, float] = {}
        batches = epoch_batches(len(items), cfg.batch_size, run.seed, PHASE, epoch, run.dist)
        aug = torch.Generator().manual_seed(stable_seed(run.seed, PHASE, "augment", epoch, run.dist.rank))
        for idx in batches:
            (z0, y, z), (p0, pt) = load_items(train, rows, items[idx], device)  # (B,3,S,S), (B,1,S,S), ...
            if cfg.augment.active:  # off: the triples go to G untouched (bit-identical to no augmentation code)
                z0, y, z, p0, pt = augment_triples(z0, y, z, cfg.augment, aug, (p0, pt))
            face_in = g.face_input_for(z0, p0, pt)  # (B, 3, S, S) z_0, or z_0 warped onto frame t's landmarks
            # D step: maximise eq. 5 (minimise its negative), G fixed; D judges (z_0, frame) pairs as in §3.4
            with autocast(device, run.precision):
                w = net_g(y, face_in)  # (B, 3, S, S) generated frame w_t
                real_logits = net_d(z0, z)  # (B, 1, h, w): one label per pixel of the coarsest map
                fake_logits = net_d(z0, w.detach())
                loss_d = discriminator_loss(real_logits.float(), fake_logits.float())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # G step: eq. 6 (L1 of eq. 4 + adversarial term), D fixed
            with autocast(device, run.precision):
                adv = generator_adversarial_loss(net_d(z0, w).float(), cfg.gan_loss)
                l1 = reconstruction_l1(w.float(), z)
                loss_g = cfg.l1_weight * l1 + cfg.adv_weight * adv
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            m = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "l1": l1.item(), "adv": adv.item(),
                 "d_real": torch.sigmoid(real_logits.detach().float()).mean().item(),
                 "d_fake": torch.sigmoid(fake_logits.detach().float()).mean().item()}
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            run.log(PHASE, m, epoch=epoch)
        summary = epoch_summary(sums, len(batches))
        if len(val_items):
            summary["val_l1"] = validation_l1(g, test, test.index, val_items, run, cfg.batch_size)
        log_epoch(run, PHASE, summary, (epoch + 1) * steps_per_epoch, epoch, cfg.epochs)
        ckpt.save(epoch + 1, {"G": g, "D": d}, {"G": opt_g, "D": opt_d}, complete=epoch + 1 == cfg.epochs)
    if run.dist.is_main:
        save_pretrained(g.eval().cpu(), cfg.generator, out_dir, name="UNetGenerator")
        g.to(device)
    log.info("phase %s done: %s", PHASE, out_dir)
