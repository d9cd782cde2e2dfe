"""Training phases of the landmark generator (paper §3.5), one short function each:

1. ``vae``       the landmark-image VAE alone (50 epochs): BCE (eq. 1) + KL on single landmark images.
2. ``lstm``      + the conditional LSTM, VAE fine-tuned (20 epochs): BCE of the decoded sequence (eq. 1).
3. ``multimode`` + the K mode LSTMs and phi from scratch, VAE and LSTM fine-tuned (10 epochs): reconstruction +
                 pull (eq. 2) + push (eq. 3).

Phases 2 and 3 have a second ``target`` (a choice where the paper is silent on CPU budgets): ``"points"`` keeps the
VAE fixed after phase 1, fits the linear point read-out (:class:`cmmnet.models.point_readout.PointReadout`) on the
train frames' encoder means, and scores the sequences by their read-out points against the frames' landmarks
(``point_loss``); no image is decoded, so an epoch costs a few LSTM steps. Phase 3 can add a best-of-K
(winner-takes-all) reconstruction of the modes (``recon="best_of_k"``) beside pull and push.

Each phase starts from the previous phase's finished checkpoint, saves every epoch, skips itself when its own
checkpoint is complete, and ends by writing ``RUN/landmark_generator/`` (save_pretrained). Silent choices (learning
rates, batch sizes, loss weights, frames per step) are the config fields below; reasons in
docs/landmark-generator.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.format import SmileDataset
from ..errors import CmmnetError
from ..faces import landmark_images
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
    # weight of a point term trained with the VAE (paper silent): a linear head on the encoder mean predicts the
    # frame's 68 points (squared error summed over the 136 coordinates, pixels), so the embedding holds the points
    # precisely for the linear read-out; the head is for training only (phase 2 fits the read-out in closed form)
    point_weight: float = 0.0
    # new shapes for the VAE (paper silent): each image's landmarks moved by a random offset of the shape model
    # (its components times their standard deviations times this factor, drawn per image) and drawn again, so the
    # embedding is fitted to more faces than the train split's people; 0 = the dataset's images as they are
    shape_augment: float = 0.0


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
    # "images": eq. 1 on decoded frames, VAE fine-tuned (§3.5); "points": the read-out's points against the
    # frames' landmarks, VAE fixed (needs landmark_generator.readout="linear"); see the module doc
    target: Literal["images", "points"] = "images"
    point_loss: Literal["l1", "l2"] = "l1"  # target "points": l1 = the median shape of the data's styles
    # target "points": "absolute" scores the read-out points themselves; "retargeted" scores the read-out motion
    # added to the real neutral face (p_t - p_1 + y_0), as generation draws it, so the read-out's error on the
    # neutral face is not corrected by the LSTM from its second step on
    point_frame: Literal["absolute", "retargeted"] = "absolute"
    # target "points": weight of the mean absolute second difference over time of the read-out points (pixels),
    # against the point loss (whose per-coordinate gradient it matches at weight 1); 0 = off
    smooth_weight: float = 0.0
    # target "points": weight of the mean absolute difference between the read-out points' first differences over
    # time and the real frames' (pixels per frame), on the conditional sequence: its minimiser is the median
    # velocity, zero where the data's smiles have stopped, so the motion stops at its apex instead of creeping on;
    # 0 = off
    velocity_weight: float = 0.0
    # target "points": noise added to h0 while training, in units of the VAE's posterior standard deviation (1 = a
    # posterior sample; generation keeps the mean), so the motion does not hinge on one person's exact embedding
    h0_noise: float = 0.0
    readout_ridge: float = 1e-6  # ridge penalty (per frame) of the read-out fit
    readout_frame_stride: int = 4  # the read-out is fitted on every n-th frame of each train sequence
    # those frames' landmarks moved by random shape-model offsets (as vae.shape_augment; 0 = as they are): a read-out
    # fitted on the train people's shapes alone extrapolates worse to new faces than the encoder does
    readout_shape_augment: float = 0.0


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
    pull_average: Literal["mean", "median"] = "mean"  # eq. 2's average of the modes (losses.landmark.pull)
    push_weight: float = 10.0  # eq. 3; ablation: 0 switches the push loss off
    vae_weight: float = 1.0
    grad_clip: float = 5.0
    target: Literal["images", "points"] = "images"  # as LSTMPhaseConfig.target
    point_loss: Literal["l1", "l2"] = "l1"  # of the conditional sequence (target "points")
    point_frame: Literal["absolute", "retargeted"] = "absolute"  # as LSTMPhaseConfig.point_frame
    smooth_weight: float = 0.0  # as LSTMPhaseConfig.smooth_weight, on the conditional sequence and the modes
    velocity_weight: float = 0.0  # as LSTMPhaseConfig.velocity_weight (the conditional sequence)
    h0_noise: float = 0.0  # as LSTMPhaseConfig.h0_noise
    modes_point_loss: Literal["l1", "l2"] = "l2"  # of the modes in the best-of-K term (target "points")
    # the eyes' 12 points counted this many times in the modes' best-of-K error (1 = as every point): closing eyes
    # move 12 points by a little where an opening mouth moves 20 by a lot
    modes_eye_weight: float = 1.0
    # "conditional": the paper's reconstruction of the conditional sequence only; "best_of_k": + each real
    # sequence reconstructed by the mode closest to it (winner takes all), so each mode takes one way of smiling
    recon: Literal["conditional", "best_of_k"] = "conditional"
    best_of_k_weight: float = 1.0
    best_of_k_eps: float = 0.05  # share of the best-of-K loss spread over all modes


# --------------------------------------------------------------------------------------------------- helpers
class _VAEStep(nn.Module):
    """Phase 1 loss as a module (so DDP sees exactly the parameters that get gradients); with ``point_weight`` > 0
    also a linear point head on the encoder mean (training only), started at the mean shape."""

    def __init__(self, gen: LandmarkGenerator, cfg: VAEPhaseConfig, mean_shape: torch.Tensor):
        super().__init__()
        self.vae = gen.vae
        self.cfg = cfg
        self.head = nn.Linear(gen.cfg.vae.latent_dim, mean_shape.numel()) if cfg.point_weight > 0 else None
        if self.head is not None:
            nn.init.zeros_(self.head.weight)
            with torch.no_grad():
                self.head.bias.copy_(mean_shape.reshape(-1))

    def forward(self, y: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """``y`` (B, 1, S, S) landmark images, ``points`` (B, 68, 2) their landmarks."""
        logits, mu, logvar = self.vae(y)  # (B, 1, S, S), (B, D), (B, D)
        bce, kl = L.bce(logits, y), L.kl(mu, logvar)
        out = {"bce": bce, "kl": kl}
        loss = bce + self.cfg.kl_weight * kl
        if self.head is not None:
            pred = self.head(mu.float()).reshape(points.shape)  # (B, 68, 2)
            pts = L.point_error(pred, points, "l2").mean() * pred.shape[-2]  # squared px summed over the points
            loss = loss + self.cfg.point_weight * pts
            out["vae_points"] = pts
        out["loss"] = loss
        return out


class _SequenceStep(nn.Module):
    """Phases 2 and 3: neutral frame -> h0 -> conditional sequence (-> K modes); losses of §3.2-§3.3."""

    def __init__(self, gen: LandmarkGenerator, kl_weight: float, vae_weight: float, modes: bool,
                 recon_weight: float = 1.0, pull_weight: float = 0.0, push_weight: float = 0.0,
                 pull_average: Literal["mean", "median"] = "mean"):
        super().__init__()
        self.vae, self.lstm, self.h0_mode, self.T = gen.vae, gen.lstm, gen.cfg.h0, gen.cfg.T
        self.pull_average = pull_average
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
            pull, push = L.pull(h, hk, self.pull_average), L.push(logits)
            loss = loss + self.w["pull"] * pull + self.w["push"] * push
            out.update(pull=pull, push=push, mode_acc=L.mode_accuracy(logits))
        out["loss"] = loss
        return out


class _PointSequenceStep(nn.Module):
    """Phases 2 and 3 with target "points": the fixed VAE encodes the neutral frame, the LSTMs run in embedding
    space and the linear read-out's points are scored against the frames' landmarks (no decoding)."""

    def __init__(self, gen: LandmarkGenerator, cfg: LSTMPhaseConfig | MultiModePhaseConfig):
        super().__init__()
        assert gen.readout is not None  # checked by _train_sequences
        self.vae, self.lstm, self.readout, self.h0_mode, self.T = gen.vae, gen.lstm, gen.readout, gen.cfg.h0, gen.cfg.T
        self.vae.requires_grad_(False)
        self.cfg = cfg
        modes = isinstance(cfg, MultiModePhaseConfig)
        self.multimode = gen.multimode if modes else None
        self.phi = gen.phi if modes else None
        w = None  # (68,) weights of the points in the modes' best-of-K error; None = all equal
        if modes and cfg.modes_eye_weight != 1:
            w = torch.ones(68)
            w[36:48] = cfg.modes_eye_weight
        self.point_weights: torch.Tensor | None
        self.register_buffer("point_weights", w, persistent=False)

    def forward(self, y0: torch.Tensor, labels: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """``y0`` (B, 1, S, S) neutral frames, ``labels`` (B,), ``points`` (B, T, 68, 2) the real sequences."""
        cfg = self.cfg
        with torch.no_grad():
            mu, logvar = self.vae.encode(y0)  # (B, D)
            h0 = mu if self.h0_mode == "mean" else self.vae.sample(mu, logvar)
            if cfg.h0_noise > 0:
                h0 = h0 + cfg.h0_noise * (0.5 * logvar).exp() * torch.randn_like(h0)
        h = self.lstm(h0, labels, self.T)  # (B, T, D)
        read = self._read(h, points[:, :1])  # (B, T, 68, 2)
        recon = L.point_error(read, points, cfg.point_loss).mean()
        out = {"points": recon}
        loss = recon
        rough = [read]
        if self.multimode is not None and self.phi is not None and isinstance(cfg, MultiModePhaseConfig):
            hk = self.multimode(h)  # (B, K, T, D)
            logits = self.phi(hk.mean(dim=2))  # (B, K, K)
            pull, push = L.pull(h, hk, cfg.pull_average), L.push(logits)
            loss = cfg.recon_weight * recon + cfg.pull_weight * pull + cfg.push_weight * push
            out.update(pull=pull, push=push, mode_acc=L.mode_accuracy(logits))
            if cfg.recon == "best_of_k":
                read_k = self._read(hk, points[:, None, :1])  # (B, K, T, 68, 2)
                err = L.point_error(read_k, points[:, None], cfg.modes_point_loss,
                                    self.point_weights).mean(-1)  # (B, K)
                best = L.best_of_k(err, cfg.best_of_k_eps)
                loss = loss + cfg.best_of_k_weight * best
                out["best_of_k"] = best
                rough.append(read_k)
        if cfg.velocity_weight > 0:
            velocity = L.velocity_error(read, points)
            loss = loss + cfg.velocity_weight * velocity
            out["velocity"] = velocity
        if cfg.smooth_weight > 0:
            rough_loss = torch.stack([L.roughness(r) for r in rough]).mean()
            loss = loss + cfg.smooth_weight * rough_loss
            out["roughness"] = rough_loss
        out["loss"] = loss
        return out

    def _read(self, h: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
        """Points of embeddings ``h`` (..., T, D): read out, or (``point_frame="retargeted"``) their read-out motion
        from the first step added to the real ``neutral`` points (..., 1, 68, 2), as generation retargets them."""
        p = self.readout(h)  # (..., T, 68, 2)
        return p - p[..., :1, :, :] + neutral if self.cfg.point_frame == "retargeted" else p


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


def _drawn(imgs: torch.Tensor, data: SmileDataset, gen_cfg: LandmarkGeneratorConfig) -> torch.Tensor:
    """The generator's images of the train frames: the dataset's own ``imgs`` (binary), or for an anti-aliased
    ``landmark_generator.draw`` drawn again from the frames' landmarks, (N, T, S, S) float16."""
    if gen_cfg.draw.raster == "binary":
        return imgs
    t0 = time.perf_counter()
    points = _train_points(data).reshape(-1, 68, 2).numpy()  # (N T, 68, 2)
    flat = landmark_images(points, gen_cfg.image_size, gen_cfg.draw)  # (N T, S, S)
    log.info("drew %d %s landmark images in %.0f s", len(flat), gen_cfg.draw.raster, time.perf_counter() - t0)
    return torch.from_numpy(flat.astype(np.float16)).reshape(imgs.shape)  # (N, T, S, S)


def _train_points(data: SmileDataset) -> torch.Tensor:
    """The train split's landmarks (N, T, 68, 2) float32, aligned pixels."""
    return torch.from_numpy(np.ascontiguousarray(data.subset("train").landmarks, dtype=np.float32))


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
    """Phase 1 batches: ``key.items`` (B, 2) (sequence, frame) -> landmark images (B, 1, S, S) in [0, 1] and their
    landmarks (B, 68, 2); with ``augment`` > 0 the landmarks moved by random shape-model offsets (a pure function of
    the step) and drawn again."""

    def __init__(self, imgs: torch.Tensor, points: torch.Tensor, gen: LandmarkGenerator, augment: float,
                 key: tuple):
        self.imgs, self.points = imgs, points  # (N, T, S, S) uint8 or float16, (N, T, 68, 2) float32
        self.augment, self.key = augment, key
        self.draw, self.size = gen.cfg.draw, gen.cfg.image_size
        pm = gen.points
        self.basis = (pm.components * pm.stddev[:, None]).cpu().numpy().astype(np.float64)  # (n, 136) one std each

    def __len__(self) -> int:
        return len(self.imgs)

    def __getitem__(self, key: BatchKey) -> tuple[torch.Tensor, torch.Tensor]:
        it = torch.from_numpy(key.items)
        pts = self.points[it[:, 0], it[:, 1]]  # (B, 68, 2)
        if self.augment <= 0:
            return self.imgs[it[:, 0], it[:, 1]].float()[:, None], pts
        rng = np.random.default_rng(stable_seed(*self.key, key.epoch, key.step))
        z = rng.standard_normal((len(pts), len(self.basis))) * self.augment  # (B, n)
        moved = pts.numpy().astype(np.float64) + (z @ self.basis).reshape(-1, 68, 2)  # (B, 68, 2)
        imgs = landmark_images(moved, self.size, self.draw)  # (B, S, S)
        return torch.from_numpy(imgs)[:, None], torch.from_numpy(moved.astype(np.float32))


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


class _PointSequences(Dataset):
    """Phases 2-3 batches with target "points": ``key.items`` (B,) sequences -> ``(y0 (B, 1, S, S), labels (B,),
    points (B, T, 68, 2))``."""

    def __init__(self, imgs: torch.Tensor, labels: torch.Tensor, points: torch.Tensor):
        self.imgs, self.labels, self.points = imgs, labels, points

    def __len__(self) -> int:
        return len(self.imgs)

    def __getitem__(self, key: BatchKey) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sel = torch.from_numpy(key.items)
        return self.imgs[sel, 0].float()[:, None], self.labels[sel], self.points[sel]


@torch.no_grad()
def _fit_readout(gen: LandmarkGenerator, imgs: torch.Tensor, points: torch.Tensor, cfg: LSTMPhaseConfig, seed: int,
                 device: torch.device, chunk: int = 256) -> None:
    """Fit the linear read-out on every ``readout_frame_stride``-th train frame's encoder mean (VAE in eval mode),
    each frame's landmarks moved by ``readout_shape_augment`` shape-model offsets and drawn again."""
    assert gen.readout is not None  # checked by _train_sequences
    n, t = imgs.shape[:2]
    seqs, frames = np.meshgrid(np.arange(n), np.arange(0, t, cfg.readout_frame_stride), indexing="ij")
    items = np.stack([seqs.ravel(), frames.ravel()], 1)  # (M, 2) (sequence, frame)
    source = _LandmarkFrames(imgs, points, gen, cfg.readout_shape_augment, (seed, "lstm", "readout"))
    was = gen.vae.training
    gen.vae.eval()
    mu, pts = [], []
    for step, i in enumerate(range(0, len(items), chunk)):
        y, p = source[BatchKey(0, step, items[i:i + chunk])]  # (B, 1, S, S), (B, 68, 2)
        mu.append(gen.vae.encode(y.to(device))[0].float().cpu())  # (B, D)
        pts.append(p)
    gen.vae.train(was)
    gen.readout.fit(torch.cat(mu), torch.cat(pts), cfg.readout_ridge)
    log.info("point read-out fitted on %d frames", len(items))


def _clip(params: list[torch.nn.Parameter], value: float) -> None:
    if value > 0:
        torch.nn.utils.clip_grad_norm_(params, value)


# --------------------------------------------------------------------------------------------------- phases
def train_vae(cfg: VAEPhaseConfig, gen_cfg: LandmarkGeneratorConfig, data: SmileDataset, run: Run) -> None:
    """Phase 1 (§3.5): the landmark-image VAE on single frames of the train split."""
    phase = "vae"
    imgs, _ = _train_arrays(data, gen_cfg)
    pts = _train_points(data)  # (N, T, 68, 2)
    gen = _build(phase, None, gen_cfg, data, run)
    if _skip_if_complete(phase, gen, cfg.epochs, run):
        return
    imgs = _drawn(imgs, data, gen_cfg)
    step_mod = _VAEStep(gen, cfg, pts.reshape(-1, 68, 2).mean(0))
    opt = torch.optim.Adam(step_mod.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    models: dict[str, nn.Module] = {"generator": gen}
    if step_mod.head is not None:
        models["point_head"] = step_mod.head
    ckpt = run.checkpointer(phase)
    start = ckpt.restore(models, {"opt": opt})
    net = run.wrap(step_mod)
    n, t = imgs.shape[:2]
    batches = EpochBatches(lambda epoch: frame_items(n, t, cfg.frames_per_sequence, run.seed, phase, "frames", epoch,
                                                     0, 0), cfg.batch_size, run.seed, phase, run.dist)
    loader = run.loader(_LandmarkFrames(imgs, pts, gen, cfg.shape_augment, (run.seed, phase, "augment")), batches)
    steps = len(batches)
    run.set_step(phase, start * steps)
    log.info("phase vae: %d sequences, %d images/epoch, %d steps/epoch", n, len(batches.items(0)), steps)
    gen.train()
    for epoch in run.epochs(phase, start, cfg.epochs):
        t0 = time.perf_counter()
        batches.set_epoch(epoch)
        for batch in progress(loader, desc=f"vae {epoch + 1}", leave=False, disable=not run.dist.is_main):
            y, p = to_device(batch, run.dist.device)  # (B, 1, S, S), (B, 68, 2)
            with autocast(run.dist.device, run.precision):
                out = net(y, p)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            run.log(phase, {k: v.detach() for k, v in out.items()}, epoch=epoch + 1)
        run.log(f"{phase}_epoch", {"epoch_s": time.perf_counter() - t0, "seq_per_s": n / (time.perf_counter() - t0)},
                step=epoch + 1, force=True)
        ckpt.save(epoch + 1, models, {"opt": opt}, complete=epoch + 1 == cfg.epochs)
    _export(gen, run)


def _train_sequences(phase: str, prev: str, cfg: LSTMPhaseConfig | MultiModePhaseConfig,
                     gen_cfg: LandmarkGeneratorConfig, kl_weight: float, data: SmileDataset, run: Run) -> None:
    """Phases 2 and 3 share one loop; they differ in which modules train and which losses count."""
    imgs, labels = _train_arrays(data, gen_cfg)
    gen = _build(phase, prev, gen_cfg, data, run)
    if _skip_if_complete(phase, gen, cfg.epochs, run):
        return
    modes = isinstance(cfg, MultiModePhaseConfig)
    on_points = cfg.target == "points"
    vae_params = [] if on_points else list(gen.vae.parameters())  # target "points": the VAE stays as phase 1 left it
    if isinstance(cfg, MultiModePhaseConfig) and cfg.recon == "best_of_k" and not on_points:
        raise CmmnetError("multimode.recon=\"best_of_k\" compares each mode's points with the real sequence: set "
                          "multimode.target=\"points\" (and lstm.target=\"points\")")
    if on_points and gen.readout is None:
        raise CmmnetError(f"{phase}.target=\"points\" reads points from embeddings: set "
                          "landmark_generator.readout=\"linear\" (from the vae phase on)")
    pts = _train_points(data) if on_points else None  # (N, T, 68, 2)
    imgs = _drawn(imgs, data, gen_cfg)
    step_mod: nn.Module
    if pts is not None:
        if isinstance(cfg, LSTMPhaseConfig):
            _fit_readout(gen, imgs, pts, cfg, run.seed, run.dist.device)
        step_mod = _PointSequenceStep(gen, cfg)
    elif isinstance(cfg, MultiModePhaseConfig):
        step_mod = _SequenceStep(gen, kl_weight, cfg.vae_weight, True, cfg.recon_weight, cfg.pull_weight,
                                 cfg.push_weight, cfg.pull_average)
    else:
        step_mod = _SequenceStep(gen, kl_weight, cfg.vae_weight, False)
    if isinstance(cfg, MultiModePhaseConfig):
        new = list(gen.multimode.parameters()) + list(gen.phi.parameters())
        groups = [{"params": new, "lr": cfg.lr}, {"params": vae_params + list(gen.lstm.parameters()),
                                                  "lr": cfg.finetune_lr}]
    else:
        groups = [{"params": list(gen.lstm.parameters()), "lr": cfg.lr}]
        groups += [{"params": vae_params, "lr": cfg.vae_lr}] if vae_params else []
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.Adam(groups, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(phase)
    start = ckpt.restore({"generator": gen}, {"opt": opt})
    net = run.wrap(step_mod)
    n, t = imgs.shape[:2]
    positions = np.arange(n)
    batches = EpochBatches(lambda epoch: positions, cfg.batch_size, run.seed, phase, run.dist)
    source = (_PointSequences(imgs, labels, pts) if pts is not None else
              _LandmarkSequences(imgs, labels, cfg.frames_per_sequence, run.seed, phase, run.dist.rank))
    loader = run.loader(source, batches)
    steps = len(batches)
    run.set_step(phase, start * steps)
    log.info("phase %s: %d sequences, %d steps/epoch, %s frames scored per sequence", phase, n, steps,
             t if pts is not None else cfg.frames_per_sequence or t)
    gen.train()
    gen.vae.train(not on_points)  # a fixed VAE encodes with its running batch-norm statistics, as at inference
    for epoch in run.epochs(phase, start, cfg.epochs):
        t0 = time.perf_counter()
        batches.set_epoch(epoch)
        for batch in progress(loader, desc=f"{phase} {epoch + 1}", leave=False, disable=not run.dist.is_main):
            # (B, T, 1, S, S), (B,), (B, F) frames scored; target "points": (B, 1, S, S), (B,), (B, T, 68, 2)
            y, lab, extra = to_device(batch, run.dist.device)
            with autocast(run.dist.device, run.precision):
                out = net(y, lab, extra)
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
