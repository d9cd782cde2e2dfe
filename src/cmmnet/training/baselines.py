"""Training phases of the two baselines of paper §4.1: ``cranet`` (CRA-Net) and ``videogan`` (Video-GAN).

Both train with the adversarial loop of :mod:`cmmnet.training.gan` (checkpoint after every epoch, ``--resume``,
autocast, ``run.log``), exactly like CMM-Net's translation phase (losses in :mod:`cmmnet.losses.baselines`), so
the three methods are compared on the same data with the same command (``cmmnet train --phases cranet,videogan``).
The image size, T and label names of the models are taken from the dataset (properties of the data, not
hyperparameters).

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

from ..data.format import SmileDataset
from ..data.torch_dataset import FaceSequences
from ..errors import CmmnetError
from ..losses.baselines import CRANetLoss, VideoGANLoss
from ..losses.translation import GanLoss
from ..models.cra_net import CRANet, CRANetConfig
from ..models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from ..models.video_gan import VideoGANConfig, VideoGANDiscriminator, VideoGANGenerator
from .batches import BatchKey, EpochBatches, first_and_frames
from .gan import AdamConfig, Export, GanPhase, train_gan
from .run import Run

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


def _model_config(cfg, data: SmileDataset, **more):
    return dataclasses.replace(cfg, image_size=data.image_size, T=data.T, **more)


def _adam(cfg: CRANetPhaseConfig | VideoGANPhaseConfig) -> AdamConfig:
    return AdamConfig(cfg.lr, cfg.beta1, cfg.beta2)


# --------------------------------------------------------------------------------------------------- CRA-Net
def train_cranet(cfg: CRANetPhaseConfig, data: SmileDataset, run: Run) -> None:
    """Train CRA-Net (§4.1) and its image discriminator on the train split; write ``RUN/cra_net/``."""
    phase = "cranet"
    rows = data.subset("train").index
    if len(rows) == 0:
        raise CmmnetError("cranet: the dataset has no train sequences")
    mcfg = _model_config(cfg.model, data, label_names=tuple(data.label_names))

    def frames(key: BatchKey) -> np.ndarray:  # (F,): frame 0 + a fresh draw per step
        return first_and_frames(data.T, cfg.frames_per_sequence, run.seed, phase, "frames", key.epoch, key.step)

    train_gan(GanPhase(
        name=phase, models=lambda: (CRANet(mcfg), PatchDiscriminator(cfg.discriminator)),
        loss=lambda g, net_g, net_d: CRANetLoss(net_g, net_d, l1_weight=cfg.l1_weight, kl_weight=cfg.kl_weight,
                                                latent_weight=cfg.latent_weight, adv_weight=cfg.adv_weight,
                                                gan_loss=cfg.gan_loss),
        dataset=FaceSequences(data, rows, frames), batches=_sequences(rows, cfg.batch_size, phase, run),
        epochs=cfg.epochs, adam=_adam(cfg), export=Export("cra_net", mcfg, "CRANet"),
        describe=f"{len(rows)} train sequences, "), run)


def _sequences(rows: np.ndarray, batch_size: int, phase: str, run: Run) -> EpochBatches:
    positions = np.arange(len(rows))
    return EpochBatches(lambda epoch: positions, batch_size, run.seed, phase, run.dist)


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
        phase = f"videogan-{label}"
        mcfg = _model_config(cfg.model, data, label=label)
        train_gan(GanPhase(
            name=phase, models=lambda mcfg=mcfg: (VideoGANGenerator(mcfg), VideoGANDiscriminator(mcfg)),
            loss=lambda g, net_g, net_d: VideoGANLoss(net_g, net_d, adv_weight=cfg.adv_weight,
                                                      first_weight=cfg.first_weight, mask_weight=cfg.mask_weight,
                                                      gan_loss=cfg.gan_loss),
            dataset=FaceSequences(data, rows), batches=_sequences(rows, cfg.batch_size, phase, run),
            epochs=cfg.epochs, adam=_adam(cfg), export=Export(f"video_gan/{label}", mcfg, "VideoGANGenerator"),
            describe=f"{len(rows)} train sequences, "), run)
