"""Training phases of the two baselines of paper §4.1: ``cranet`` (CRA-Net) and ``videogan`` (Video-GAN).

Both train on the dataset's train split with the helpers of :mod:`cmmnet.training.common` (checkpoint after every
epoch, ``--resume``, autocast, ``run.log``), exactly like the CMM-Net phases, so the three methods are compared on
the same data with the same command (``cmmnet train --phases cranet,videogan``). The image size, T and label names
of the models are taken from the dataset (they are properties of the data, not hyperparameters).

``cranet``: one step on a batch of sequences ``x`` (B, T, 3, S, S) (or, with ``frames_per_sequence`` F, frame 0
and F - 1 random frames of each) updates
- the image discriminator D (:class:`~cmmnet.models.patch_discriminator.PatchDiscriminator` on [neutral, frame]
  pairs) on real frames vs generated frames (eq. 5 of the paper, its translation discriminator);
- CRA-Net on ``l1_weight * (L1(VAE reconstruction, x) + L1(generated sequence, x)) + kl_weight * KL
  + latent_weight * MSE(LSTM embeddings, encoder means) + adv_weight * adversarial term``; the generated
  sequence is decoded from the conditional LSTM run on the neutral frame's embedding (§4.1 CRA-Net).
Writes ``RUN/cra_net/`` (class ``CRANet``).

``videogan``: one model per label (the paper, §4.3: Video-GAN has no label input), each trained on that label's
train sequences: D on real vs generated videos; G on the adversarial term + ``first_weight * L1(generated frame
0, input frame)`` (Vondrick et al.'s future-generation reconstruction term) + ``mask_weight * mean(mask)``
(their mask sparsity term). Writes ``RUN/video_gan/<label>/`` (class ``VideoGANGenerator``).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..data.format import SmileDataset
from ..errors import CmmnetError
from ..losses.translation import GanLoss, discriminator_loss, generator_adversarial_loss
from ..models.cra_net import CRANet, CRANetConfig
from ..models.io import save_pretrained
from ..models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from ..models.video_gan import VideoGANConfig, VideoGANDiscriminator, VideoGANGenerator
from .common import Run, autocast, epoch_batches, epoch_summary, log_epoch, stable_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CRANetPhaseConfig:
    model: CRANetConfig = field(default_factory=CRANetConfig)
    discriminator: PatchDiscriminatorConfig = field(default_factory=PatchDiscriminatorConfig)
    epochs: int = 50  # paper silent
    batch_size: int = 8  # sequences per step
    frames_per_sequence: int = 0  # frames per sequence per step (frame 0 + a fresh random draw); 0 = all T
    lr: float = 2e-4  # paper silent; DCGAN / pix2pix Adam settings
    beta1: float = 0.5
    beta2: float = 0.999
    l1_weight: float = 100.0  # as the translation phase: L1 means weighted 100:1 against the adversarial term
    kl_weight: float = 1e-3  # KL of the face VAE, per latent unit, relative to the per-pixel L1
    latent_weight: float = 1.0  # LSTM embeddings pulled to the encoder's means of the real frames
    adv_weight: float = 1.0
    gan_loss: GanLoss = "non_saturating"


@dataclass(frozen=True)
class VideoGANPhaseConfig:
    model: VideoGANConfig = field(default_factory=VideoGANConfig)
    epochs: int = 100  # paper silent; few sequences per label
    batch_size: int = 8  # videos per step
    lr: float = 2e-4  # Vondrick et al.
    beta1: float = 0.5
    beta2: float = 0.999
    first_weight: float = 100.0  # L1 of the generated first frame to the input frame (future generation)
    mask_weight: float = 0.1  # Vondrick et al.'s lambda for the L1 sparsity of the mask
    adv_weight: float = 1.0
    gan_loss: GanLoss = "non_saturating"


def _faces(data: SmileDataset, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Sequences ``rows`` (global indices) as (B, T, 3, S, S) float in [-1, 1], read in file order."""
    order = np.argsort(rows, kind="stable")
    a = np.asarray(data.arrays["faces"][rows[order]])[np.argsort(order)]  # (B, T, 3, S, S) uint8
    return torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0).to(device)


def _model_config(cfg, data: SmileDataset, **more):
    return dataclasses.replace(cfg, image_size=data.image_size, T=data.T, **more)


def _frame_draw(T: int, k: int, seed: int, epoch: int, step: int) -> np.ndarray:
    """Frame 0 and ``k - 1`` other distinct frames in time order (all T when ``k`` is 0 or >= T); resume-safe."""
    if k <= 0 or k >= T:
        return np.arange(T)
    rng = np.random.default_rng(stable_seed(seed, "cranet", "frames", epoch, step))
    return np.concatenate([[0], np.sort(rng.choice(np.arange(1, T), size=max(1, k - 1), replace=False))])


# --------------------------------------------------------------------------------------------------- CRA-Net
def train_cranet(cfg: CRANetPhaseConfig, data: SmileDataset, run: Run) -> None:
    """Train CRA-Net (§4.1) and its image discriminator on the train split; write ``RUN/cra_net/``."""
    phase = "cranet"
    device = run.dist.device
    train = data.subset("train")
    rows = train.index
    if len(rows) == 0:
        raise CmmnetError("cranet: the dataset has no train sequences")
    mcfg = _model_config(cfg.model, data, label_names=tuple(data.label_names))
    out_dir = run.dir / "cra_net"
    torch.manual_seed(stable_seed(run.seed, phase, "init"))
    model = CRANet(mcfg).to(device)
    d = PatchDiscriminator(cfg.discriminator).to(device)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(phase)
    if ckpt.finished(cfg.epochs):
        if not (out_dir / "model.safetensors").is_file() and run.dist.is_main:
            ckpt.load_models({"G": model})
            save_pretrained(model.cpu(), mcfg, out_dir, name="CRANet")
        return
    start = ckpt.restore({"G": model, "D": d}, {"G": opt_g, "D": opt_d})
    net_g, net_d = run.wrap(model), run.wrap(d)
    labels_all = np.asarray(data.arrays["labels"])
    steps = len(epoch_batches(len(rows), cfg.batch_size, run.seed, phase, 0, run.dist))
    run.set_step(phase, start * steps)
    log.info("phase %s: %d train sequences, %d steps/epoch, CRA-Net %.2fM params, D %.2fM params", phase, len(rows),
             steps, sum(p.numel() for p in model.parameters()) / 1e6, sum(p.numel() for p in d.parameters()) / 1e6)
    model.train()
    d.train()
    for epoch in run.epochs(phase, start, cfg.epochs):
        sums: dict[str, float] = {}
        batches = epoch_batches(len(rows), cfg.batch_size, run.seed, phase, epoch, run.dist)
        for step, idx in enumerate(batches):
            x = _faces(data, rows[idx], device)  # (B, T, 3, S, S)
            lab = torch.from_numpy(labels_all[rows[idx]]).to(device)  # (B,)
            frames = _frame_draw(data.T, cfg.frames_per_sequence, run.seed, epoch, step)  # (F,), frames[0] = 0
            x = x[:, frames]  # (B, F, 3, S, S)
            t = x.shape[1]
            with autocast(device, run.precision):
                out = net_g(x, lab, torch.from_numpy(frames).to(device))
                mu, logvar, hs = out["mu"], out["logvar"], out["embeddings"]  # (B, T, 100) each
                rec, fake = out["reconstruction"], out["generated"]  # (B, T, 3, S, S) each
                neutral = x[:, :1].expand(-1, t, -1, -1, -1).flatten(0, 1)  # (B*T, 3, S, S)
                real_logits = net_d(neutral, x.flatten(0, 1))
                fake_logits = net_d(neutral, fake.flatten(0, 1).detach())
                loss_d = discriminator_loss(real_logits.float(), fake_logits.float())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast(device, run.precision):
                adv = generator_adversarial_loss(net_d(neutral, fake.flatten(0, 1)).float(), cfg.gan_loss)
                l1_rec = (rec.float() - x).abs().mean()
                l1_seq = (fake.float() - x).abs().mean()
                kl = -0.5 * torch.mean(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp())
                lat = F.mse_loss(hs.float(), mu.detach().float())
                loss_g = (cfg.l1_weight * (l1_rec + l1_seq) + cfg.kl_weight * kl + cfg.latent_weight * lat
                          + cfg.adv_weight * adv)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            m = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "l1_rec": l1_rec.item(), "l1_seq": l1_seq.item(),
                 "kl": kl.item(), "latent": lat.item(), "adv": adv.item()}
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            run.log(phase, m, epoch=epoch)
        log_epoch(run, phase, epoch_summary(sums, len(batches)), (epoch + 1) * steps, epoch, cfg.epochs)
        ckpt.save(epoch + 1, {"G": model, "D": d}, {"G": opt_g, "D": opt_d}, complete=epoch + 1 == cfg.epochs)
    if run.dist.is_main:
        save_pretrained(model.eval().cpu(), mcfg, out_dir, name="CRANet")
        model.to(device)
    log.info("phase %s done: %s", phase, out_dir)


# -------------------------------------------------------------------------------------------------- Video-GAN
def train_videogan(cfg: VideoGANPhaseConfig, data: SmileDataset, run: Run) -> None:
    """Train one Video-GAN per label on that label's train sequences; write ``RUN/video_gan/<label>/``."""
    train = data.subset("train")
    labels_all = np.asarray(data.arrays["labels"])
    for li, label in enumerate(data.label_names):
        rows = train.index[labels_all[train.index] == li]
        if len(rows) == 0:
            log.warning("videogan: no train sequences of label %r; no model for it", label)
            continue
        _train_one_videogan(cfg, data, run, label, rows)


def _train_one_videogan(cfg: VideoGANPhaseConfig, data: SmileDataset, run: Run, label: str,
                        rows: np.ndarray) -> None:
    phase = f"videogan-{label}"
    device = run.dist.device
    mcfg = _model_config(cfg.model, data, label=label)
    out_dir = run.dir / "video_gan" / label
    torch.manual_seed(stable_seed(run.seed, phase, "init"))
    g = VideoGANGenerator(mcfg).to(device)
    d = VideoGANDiscriminator(mcfg).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(phase)
    if ckpt.finished(cfg.epochs):
        if not (out_dir / "model.safetensors").is_file() and run.dist.is_main:
            ckpt.load_models({"G": g})
            save_pretrained(g.cpu(), mcfg, out_dir, name="VideoGANGenerator")
        return
    start = ckpt.restore({"G": g, "D": d}, {"G": opt_g, "D": opt_d})
    net_g, net_d = run.wrap(g), run.wrap(d)
    steps = len(epoch_batches(len(rows), cfg.batch_size, run.seed, phase, 0, run.dist))
    run.set_step(phase, start * steps)
    log.info("phase %s: %d train sequences, %d steps/epoch, G %.2fM params, D %.2fM params", phase, len(rows),
             steps, sum(p.numel() for p in g.parameters()) / 1e6, sum(p.numel() for p in d.parameters()) / 1e6)
    g.train()
    d.train()
    for epoch in run.epochs(phase, start, cfg.epochs):
        sums: dict[str, float] = {}
        batches = epoch_batches(len(rows), cfg.batch_size, run.seed, phase, epoch, run.dist)
        for idx in batches:
            x = _faces(data, rows[idx], device)  # (B, T, 3, S, S)
            with autocast(device, run.precision):
                fake, mask = net_g(x[:, 0], return_mask=True)  # (B, T, 3, S, S), (B, T, 1, S, S)
                real_logits = net_d(x)  # (B,)
                fake_logits = net_d(fake.detach())
                loss_d = discriminator_loss(real_logits.float(), fake_logits.float())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast(device, run.precision):
                adv = generator_adversarial_loss(net_d(fake).float(), cfg.gan_loss)
                first = (fake[:, 0].float() - x[:, 0]).abs().mean()
                sparsity = mask.float().mean()
                loss_g = cfg.adv_weight * adv + cfg.first_weight * first + cfg.mask_weight * sparsity
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            m = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "adv": adv.item(), "l1_first": first.item(),
                 "mask": sparsity.item()}
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            run.log(phase, m, epoch=epoch)
        log_epoch(run, phase, epoch_summary(sums, len(batches)), (epoch + 1) * steps, epoch, cfg.epochs)
        ckpt.save(epoch + 1, {"G": g, "D": d}, {"G": opt_g, "D": opt_d}, complete=epoch + 1 == cfg.epochs)
    if run.dist.is_main:
        save_pretrained(g.eval().cpu(), mcfg, out_dir, name="VideoGANGenerator")
        g.to(device)
    log.info("phase %s done: %s", phase, out_dir)
