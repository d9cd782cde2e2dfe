"""Training phases of the landmark generator (paper §3.5), one short function each:

1. ``vae``       the landmark-image VAE alone (50 epochs): BCE (eq. 1) + KL on single landmark images.
2. ``lstm``      + the conditional LSTM, VAE fine-tuned (20 epochs): BCE of the decoded sequence (eq. 1).
3. ``multimode`` + the K mode LSTMs and phi from scratch, VAE and LSTM fine-tuned (10 epochs): reconstruction +
                 pull (eq. 2) + push (eq. 3).

Each phase starts from the previous phase's finished checkpoint, saves every epoch, skips itself when its own
checkpoint is complete, and ends by writing ``RUN/landmark_generator/`` (save_pretrained). Silent choices (learning
rates, batch sizes, loss weights, frames per step) are the config fields below; reasons in
docs/landmark-generator.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.format import SmileDataset
from ..errors import CmmnetError
from ..losses import landmark as L
from ..models.io import update_model_index
from ..models.landmark_generator import LandmarkGenerator, LandmarkGeneratorConfig
from ..runtime import autocast, seed_everything, stable_seed
from .batches import BatchKey, EpochBatches, distinct_frames, frame_items, to_device
from .run import Run, progress

log = logging.getLogger(__name__)

OUT_NAME = "landmark_generator"


@dataclass(frozen=True)
class VAEPhaseConfig:
    epochs: int = 50  # §3.5
    lr: float = 1e-3  # paper silent; measured: 1.3 px decoded-landmark error after 200 steps on FRL-Smile
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 32  # landmark images per step
    frames_per_sequence: int = 0  # frames drawn from each sequence per epoch; 0 = all T
    kl_weight: float = 1.0  # weight of KL against the pixel-summed BCE (1 = the standard VAE ELBO)


@dataclass(frozen=True)
class LSTMPhaseConfig:
    epochs: int = 20  # §3.5
    lr: float = 1e-3  # new LSTM
    vae_lr: float = 1e-4  # VAE fine-tuning (§3.5), smaller so the embedding space stays put
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int = 16  # sequences per step
    frames_per_sequence: int = 0  # frames decoded for the BCE per sequence and step; 0 = all T
    vae_weight: float = 1.0  # VAE loss (BCE + KL) on the neutral frame, keeps encoder and decoder consistent
    grad_clip: float = 5.0  # global gradient-norm clip (LSTMs); 0 = off


@dataclass(frozen=True)
class MultiModePhaseConfig:
    epochs: int = 10  # §3.5
    lr: float = 1e-3  # new mode LSTMs and phi
    finetune_lr: float = 1e-4  # VAE and conditional LSTM (fine-tuned, §3.5)
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int = 16
    frames_per_sequence: int = 0
    recon_weight: float = 1.0  # BCE of the conditional sequence (eq. 1)
    pull_weight: float = 1.0  # eq. 2
    push_weight: float = 10.0  # eq. 3; ablation: 0 switches the push loss off
    vae_weight: float = 1.0
    grad_clip: float = 5.0


# --------------------------------------------------------------------------------------------------- helpers
class _VAEStep(nn.Module):
    """Phase 1 loss as a module (so DDP sees exactly the parameters that get gradients)."""

    def __init__(self, gen: LandmarkGenerator, kl_weight: float):
        super().__init__()
        self.vae = gen.vae
        self.kl_weight = kl_weight

    def forward(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, mu, logvar = self.vae(y)  # (B, 1, S, S), (B, D), (B, D)
        bce, kl = L.bce(logits, y), L.kl(mu, logvar)
        return {"loss": bce + self.kl_weight * kl, "bce": bce, "kl": kl}


class _SequenceStep(nn.Module):
    """Phases 2 and 3: neutral frame -> h0 -> conditional sequence (-> K modes); losses of §3.2-§3.3."""

    def __init__(self, gen: LandmarkGenerator, kl_weight: float, vae_weight: float, modes: bool,
                 recon_weight: float = 1.0, pull_weight: float = 0.0, push_weight: float = 0.0):
        super().__init__()
        self.vae, self.lstm, self.h0_mode, self.T = gen.vae, gen.lstm, gen.cfg.h0, gen.cfg.T
        self.multimode = gen.multimode if modes else None
        self.phi = gen.phi if modes else None
        self.w = dict(kl=kl_weight, vae=vae_weight, recon=recon_weight, pull=pull_weight, push=push_weight)

    def forward(self, y: torch.Tensor, labels: torch.Tensor, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """``y`` (B, T, 1, S, S) real sequence (frame 0 neutral), ``labels`` (B,), ``frames`` (B, F) frames scored."""
        y0 = y[:, 0]  # (B, 1, S, S)
        mu, logvar = self.vae.encode(y0)  # (B, D)
        z = self.vae.sample(mu, logvar)  # (B, D)
        h0 = mu if self.h0_mode == "mean" else z
        h = self.lstm(h0, labels, self.T)  # (B, T, D)
        pick = frames[..., None].expand(-1, -1, h.shape[-1])  # (B, F, D)
        h_sel = torch.gather(h, 1, pick)  # (B, F, D)
        tgt = torch.gather(y, 1, frames[..., None, None, None].expand(-1, -1, *y.shape[2:]))  # (B, F, 1, S, S)
        recon = L.bce(self.vae.decode_logits(h_sel), tgt)
        vae_bce, kl = L.bce(self.vae.decode_logits(z), y0), L.kl(mu, logvar)
        out = {"bce": recon, "vae_bce": vae_bce, "kl": kl}
        loss = self.w["recon"] * recon + self.w["vae"] * (vae_bce + self.w["kl"] * kl)
        if self.multimode is not None and self.phi is not None:
            hk = self.multimode(h)  # (B, K, T, D)
            logits = self.phi(hk.mean(dim=2))  # (B, K, K)
            pull, push = L.pull(h, hk), L.push(logits)
            loss = loss + self.w["pull"] * pull + self.w["push"] * push
            out.update(pull=pull, push=push, mode_acc=L.mode_accuracy(logits))
        out["loss"] = loss
        return out


def _train_arrays(data: SmileDataset, gen_cfg: LandmarkGeneratorConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The train split's landmark images (N, T, S, S) uint8 and labels (N,) as in-memory tensors."""
    train = data.subset("train")
    if len(train) == 0:
        raise CmmnetError(f"{data.path}: the train split is empty; the landmark phases need training sequences")
    if data.image_size != gen_cfg.image_size or data.T != gen_cfg.T:
        raise CmmnetError(f"{data.path}: {data.image_size}px x {data.T} frames, but the generator is configured for "
                          f"{gen_cfg.image_size}px x {gen_cfg.T}; use --set landmark_generator.image_size=... "
                          "landmark_generator.T=...")
    if list(data.label_names) != list(gen_cfg.label_names):
        raise CmmnetError(f"{data.path}: labels {data.label_names} differ from landmark_generator.label_names "
                          f"{list(gen_cfg.label_names)}; set --set landmark_generator.label_names=...")
    imgs = torch.from_numpy(np.ascontiguousarray(train.landmark_images))  # (N, T, S, S) uint8
    labels = torch.from_numpy(np.asarray(train.labels, dtype=np.int64))  # (N,)
    return imgs, labels


def _build(phase: str, prev: str | None, gen_cfg: LandmarkGeneratorConfig, data: SmileDataset,
           run: Run) -> LandmarkGenerator:
    """A generator seeded for ``phase``, started from phase ``prev``'s finished checkpoint (or fresh + PCA)."""
    seed_everything(stable_seed(run.seed, phase, "init"))
    gen = LandmarkGenerator(gen_cfg)
    if prev is None:
        train = data.subset("train")
        gen.points.fit_pca(np.asarray(train.landmarks).reshape(-1, 68, 2))
    else:
        ck = run.checkpointer(prev)
        if not ck.complete:
            raise CmmnetError(f"phase {phase} starts from the finished {prev} phase, but {ck.path} is missing or "
                              f"incomplete; run --phases {prev},{phase} (add --resume to continue the run)")
        ck.load_models({"generator": gen})
    return gen.to(run.dist.device)


def _skip_if_complete(phase: str, gen: LandmarkGenerator, epochs: int, run: Run) -> bool:
    ckpt = run.checkpointer(phase)
    if not ckpt.finished(epochs):
        return False
    if not (run.dir / OUT_NAME / "model.safetensors").is_file():
        ckpt.load_models({"generator": gen})
        _export(gen, run)
    return True


def _export(gen: LandmarkGenerator, run: Run) -> None:
    if run.dist.is_main:
        gen.save_pretrained(run.dir / OUT_NAME)
        update_model_index(run.dir, OUT_NAME)
        log.info("wrote %s", run.dir / OUT_NAME)


class _LandmarkFrames(Dataset):
    """Phase 1 batches: ``key.items`` (B, 2) (sequence, frame) -> landmark images (B, 1, S, S) in {0, 1}."""

    def __init__(self, imgs: torch.Tensor):
        self.imgs = imgs  # (N, T, S, S) uint8

    def __len__(self) -> int:
        return len(self.imgs)

    def __getitem__(self, key: BatchKey) -> torch.Tensor:
        it = torch.from_numpy(key.items)
        return self.imgs[it[:, 0], it[:, 1]].float()[:, None]  # (B, 1, S, S)


class _LandmarkSequences(Dataset):
    """Phases 2-3 batches: ``key.items`` (B,) sequences -> ``(y (B, T, 1, S, S), labels (B,), frames (B, F))`` with
    the frames scored drawn per step (all T, or F distinct random frames; a pure function of the step)."""

    def __init__(self, imgs: torch.Tensor, labels: torch.Tensor, frames: int, seed: int, phase: str, rank: int):
        self.imgs, self.labels, self.frames = imgs, labels, frames
        self.key = (seed, phase, "frames")
        self.rank = rank

    def __len__(self) -> int:
        return len(self.imgs)

    def __getitem__(self, key: BatchKey) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sel = torch.from_numpy(key.items)
        t = self.imgs.shape[1]
        fr = distinct_frames(len(sel), t, self.frames, *self.key, key.epoch, key.step, self.rank)  # (B, F)
        return self.imgs[sel].float()[:, :, None], self.labels[sel], torch.from_numpy(fr.astype(np.int64))


def _clip(params: list[torch.nn.Parameter], value: float) -> None:
    if value > 0:
        torch.nn.utils.clip_grad_norm_(params, value)


# --------------------------------------------------------------------------------------------------- phases
def train_vae(cfg: VAEPhaseConfig, gen_cfg: LandmarkGeneratorConfig, data: SmileDataset, run: Run) -> None:
    """Phase 1 (§3.5): the landmark-image VAE on single frames of the train split."""
    phase = "vae"
    imgs, _ = _train_arrays(data, gen_cfg)
    gen = _build(phase, None, gen_cfg, data, run)
    if _skip_if_complete(phase, gen, cfg.epochs, run):
        return
    step_mod = _VAEStep(gen, cfg.kl_weight)
    opt = torch.optim.Adam(gen.vae.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(phase)
    start = ckpt.restore({"generator": gen}, {"opt": opt})
    net = run.wrap(step_mod)
    n, t = imgs.shape[:2]
    batches = EpochBatches(lambda epoch: frame_items(n, t, cfg.frames_per_sequence, run.seed, phase, "frames", epoch,
                                                     0, 0), cfg.batch_size, run.seed, phase, run.dist)
    loader = run.loader(_LandmarkFrames(imgs), batches)
    steps = len(batches)
    run.set_step(phase, start * steps)
    log.info("phase vae: %d sequences, %d images/epoch, %d steps/epoch", n, len(batches.items(0)), steps)
    gen.train()
    for epoch in run.epochs(phase, start, cfg.epochs):
        t0 = time.perf_counter()
        batches.set_epoch(epoch)
        for y in progress(loader, desc=f"vae {epoch + 1}", leave=False, disable=not run.dist.is_main):
            y = y.to(run.dist.device, non_blocking=True)  # (B, 1, S, S)
            with autocast(run.dist.device, run.precision):
                out = net(y)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            run.log(phase, {k: v.detach() for k, v in out.items()}, epoch=epoch + 1)
        run.log(f"{phase}_epoch", {"epoch_s": time.perf_counter() - t0, "seq_per_s": n / (time.perf_counter() - t0)},
                step=epoch + 1, force=True)
        ckpt.save(epoch + 1, {"generator": gen}, {"opt": opt}, complete=epoch + 1 == cfg.epochs)
    _export(gen, run)


def _train_sequences(phase: str, prev: str, cfg: LSTMPhaseConfig | MultiModePhaseConfig,
                     gen_cfg: LandmarkGeneratorConfig, kl_weight: float, data: SmileDataset, run: Run) -> None:
    """Phases 2 and 3 share one loop; they differ in which modules train and which losses count."""
    imgs, labels = _train_arrays(data, gen_cfg)
    gen = _build(phase, prev, gen_cfg, data, run)
    if _skip_if_complete(phase, gen, cfg.epochs, run):
        return
    modes = isinstance(cfg, MultiModePhaseConfig)
    if isinstance(cfg, MultiModePhaseConfig):
        step_mod = _SequenceStep(gen, kl_weight, cfg.vae_weight, True, cfg.recon_weight, cfg.pull_weight,
                                 cfg.push_weight)
        new = list(gen.multimode.parameters()) + list(gen.phi.parameters())
        old = list(gen.vae.parameters()) + list(gen.lstm.parameters())
        groups = [{"params": new, "lr": cfg.lr}, {"params": old, "lr": cfg.finetune_lr}]
    else:
        step_mod = _SequenceStep(gen, kl_weight, cfg.vae_weight, False)
        groups = [{"params": list(gen.lstm.parameters()), "lr": cfg.lr},
                  {"params": list(gen.vae.parameters()), "lr": cfg.vae_lr}]
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.Adam(groups, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(phase)
    start = ckpt.restore({"generator": gen}, {"opt": opt})
    net = run.wrap(step_mod)
    n, t = imgs.shape[:2]
    positions = np.arange(n)
    batches = EpochBatches(lambda epoch: positions, cfg.batch_size, run.seed, phase, run.dist)
    loader = run.loader(_LandmarkSequences(imgs, labels, cfg.frames_per_sequence, run.seed, phase, run.dist.rank),
                        batches)
    steps = len(batches)
    run.set_step(phase, start * steps)
    log.info("phase %s: %d sequences, %d steps/epoch, %s frames scored per sequence", phase, n, steps,
             cfg.frames_per_sequence or t)
    gen.train()
    for epoch in run.epochs(phase, start, cfg.epochs):
        t0 = time.perf_counter()
        batches.set_epoch(epoch)
        for batch in progress(loader, desc=f"{phase} {epoch + 1}", leave=False, disable=not run.dist.is_main):
            y, lab, fr = to_device(batch, run.dist.device)  # (B, T, 1, S, S), (B,), (B, F)
            with autocast(run.dist.device, run.precision):
                out = net(y, lab, fr)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            _clip(params, cfg.grad_clip)
            opt.step()
            run.log(phase, {k: v.detach() for k, v in out.items()}, epoch=epoch + 1)
        run.log(f"{phase}_epoch", {"epoch_s": time.perf_counter() - t0, "seq_per_s": n / (time.perf_counter() - t0)},
                step=epoch + 1, force=True)
        ckpt.save(epoch + 1, {"generator": gen}, {"opt": opt}, complete=epoch + 1 == cfg.epochs,
                  extra={"modes": bool(modes)})
    _export(gen, run)


def train_lstm(cfg: LSTMPhaseConfig, gen_cfg: LandmarkGeneratorConfig, kl_weight: float, data: SmileDataset,
               run: Run) -> None:
    """Phase 2 (§3.5): conditional LSTM from scratch, VAE fine-tuned; BCE of the decoded sequence (eq. 1)."""
    _train_sequences("lstm", "vae", cfg, gen_cfg, kl_weight, data, run)


def train_multimode(cfg: MultiModePhaseConfig, gen_cfg: LandmarkGeneratorConfig, kl_weight: float,
                    data: SmileDataset, run: Run) -> None:
    """Phase 3 (§3.5): + K mode LSTMs and phi from scratch; reconstruction + pull (eq. 2) + push (eq. 3)."""
    _train_sequences("multimode", "lstm", cfg, gen_cfg, kl_weight, data, run)
