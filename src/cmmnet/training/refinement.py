"""Training phase ``refinement``: the warp renderer's refinement network R (not in the paper; docs/translation.md).

One item is a (sequence n, frame t) pair of the train split. R's input is the warp of the sequence's frame 0 (the
neutral face) onto the landmarks of frame t, made by the warp renderer itself (:class:`cmmnet.render.WarpRenderer`
on the aligned face, at the dataset's size: the same field, mask and painted mouth interior that inference feeds
R), and the dataset's landmark image of frame t; the target is the real frame t. The losses are
:mod:`cmmnet.losses.refinement`'s: the reconstruction loss alone by default (``adv_weight = 0``: a plain loop, no
discriminator), or with a PatchGAN D conditioned on the warp (``adv_weight > 0``: then the phase runs in the one
adversarial loop, :func:`cmmnet.training.gan.train_gan`, with checkpoints of R as ``G`` and of D).

The warped inputs are made per batch, grouped by sequence (one field for the batch's frames of each sequence):
measured at 128 px on one thread (benchmarks/bench_refiner.py), 7.4 ms a frame against R's training step of 33 ms
a frame, so they are not cached.
The final R is written with ``save_pretrained`` to ``RUN/refiner/`` (class ``RefinerNet``), listed in
``RUN/model_index.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import from_dict
from ..data.format import SmileDataset
from ..data.torch_dataset import _BatchDataset
from ..errors import CmmnetError
from ..faces.draw import LandmarkDrawConfig
from ..losses.refinement import RefinementGanLoss, reconstruction
from ..losses.translation import GanLoss
from ..models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from ..models.refiner import RefinerConfig, RefinerNet
from ..render.config import WarpRenderConfig
from ..runtime import autocast, stable_seed
from . import batches
from .batches import EpochBatches, to_device
from .gan import AdamConfig, Export, GanPhase, train_gan
from .run import Run, accumulate, epoch_summary, log_epoch

log = logging.getLogger(__name__)

PHASE = "refinement"
PART = "refiner"


@dataclass(frozen=True)
class RefinementPhaseConfig:
    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    render: WarpRenderConfig = field(default_factory=WarpRenderConfig)  # the warp that makes R's inputs
    epochs: int = 30
    lr: float = 1e-3  # Adam; the usual rate for an L1-trained U-Net
    beta1: float = 0.9  # Adam's (beta1, beta2), for R and, with adv_weight > 0, for D
    beta2: float = 0.999
    batch_size: int = 16  # (warped, landmark image, frame) triples per step
    frames_per_sequence: int = 4  # frames drawn from each sequence per epoch (fresh draw every epoch); 0 = all T
    l1_weight: float = 1.0  # on the refined face
    face_weight: float = 0.5  # on R's own face r where the warp is wrong: it learns to paint while its mask is closed
    mask_weight: float = 0.002  # on the mean of R's mask: where the warp is right, leave it
    adv_weight: float = 0.0  # the adversarial term's weight for R; 0 = no discriminator
    gan_loss: GanLoss = "non_saturating"
    discriminator: PatchDiscriminatorConfig = field(default_factory=lambda: PatchDiscriminatorConfig(width=0.25))
    val_items: int = 128  # test-split pairs whose L1 (refined and plain warp) is logged after every epoch


def warped_items(data: SmileDataset, rows: np.ndarray, items: np.ndarray, render: WarpRenderConfig
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, y, z)`` for ``items`` (B, 2) = (position in ``rows``, frame): the warp renderer's frame 0 moved onto
    frame t's landmarks (B, 3, S, S) in [-1, 1], the landmark image (B, 1, S, S) in [0, 1], the real frame (B, 3,
    S, S) in [-1, 1]."""
    from ..render import WarpRenderer

    x = np.zeros((len(items), data.image_size, data.image_size, 3), np.uint8)  # (B, S, S, 3)
    faces, points = data.arrays["faces"], data.arrays["landmarks"]
    for pos in np.unique(items[:, 0]):
        sel = np.flatnonzero(items[:, 0] == pos)
        s = int(rows[pos])
        p = np.asarray(points[s], np.float64)  # (T, 68, 2) aligned px
        neutral = np.ascontiguousarray(np.asarray(faces[s, 0]).transpose(1, 2, 0))  # (S, S, 3)
        x[sel] = WarpRenderer(neutral, p[0], render).render(p[items[sel, 1]])  # (b, S, S, 3)
    seq = rows[items[:, 0]]
    z = np.stack([np.asarray(faces[s, t]) for s, t in zip(seq, items[:, 1])])  # (B, 3, S, S)
    y = np.stack([np.asarray(data.arrays["landmark_images"][s, t]) for s, t in zip(seq, items[:, 1])])  # (B, S, S)

    def face(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0)

    return face(x.transpose(0, 3, 1, 2)), torch.from_numpy(y.astype(np.float32))[:, None], face(z)


class WarpedTriples(_BatchDataset):
    """Batches of R's training triples: ``dataset[key]`` is :func:`warped_items` of ``key.items``, on the CPU."""

    def __init__(self, data: SmileDataset, rows: np.ndarray, render: WarpRenderConfig):
        self.data, self.rows, self.render = data, rows, render

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return warped_items(self.data, self.rows, key.items, self.render)


def refinement_loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                    cfg: RefinementPhaseConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The reconstruction loss of ``net`` (R or its DDP wrapper, called so that gradients are averaged over ranks)
    on the batch ``(x, y, z)``, and its detached parts."""
    face, m = net(x, y)  # (B, 3, S, S), (B, 1, S, S)
    return reconstruction(face, m, x, z, cfg.l1_weight, cfg.face_weight, cfg.mask_weight)


@torch.no_grad()
def validation(r: RefinerNet, data: SmileDataset, items: np.ndarray, cfg: RefinementPhaseConfig,
               run: Run) -> dict[str, float]:
    """Mean L1 of the refined and of the plain warp's frames against the real ones, on fixed test-split pairs; and
    both weighted by the warp's error (``_e``: the L1 where R has to paint, the phase's second loss term)."""
    if not len(items):
        return {}
    was = r.training
    r.eval()
    sums = torch.zeros(4, dtype=torch.float64)
    weight = torch.zeros((), dtype=torch.float64)
    for i in range(0, len(items), cfg.batch_size):
        x, y, z = warped_items(data, data.index, items[i:i + cfg.batch_size], cfg.render)
        x, y, z = (a.to(run.dist.device) for a in (x, y, z))
        with autocast(run.dist.device, run.precision):
            refined, _ = r.refine(x, y)
        err, miss = (refined.float() - z).abs(), (x - z).abs()  # (B, 3, S, S)
        e = miss.mean(1, keepdim=True)  # (B, 1, S, S)
        sums += torch.stack([err.mean() * len(z), miss.mean() * len(z), (err * e).sum() / 3,
                             (miss * e).sum() / 3]).double().cpu()
        weight += e.sum().double().cpu()
    r.train(was)
    val = (sums[:2] / len(items)).tolist() + (sums[2:] / weight.clamp_min(1e-12)).tolist()
    return {"val_l1": val[0], "val_l1_warp": val[1], "val_l1_e": val[2], "val_l1_e_warp": val[3]}


def _check(cfg: RefinementPhaseConfig, data: SmileDataset) -> None:
    if data.image_size != cfg.refiner.image_size:
        raise CmmnetError(f"refinement: dataset images are {data.image_size}px but refinement.refiner.image_size is "
                          f"{cfg.refiner.image_size}; use --set refinement.refiner.image_size={data.image_size}")
    drawn = data.meta.get("extra", {}).get("draw")  # as cmmnet synth records it
    if isinstance(drawn, dict) and from_dict(LandmarkDrawConfig, drawn, "draw") != cfg.refiner.draw:
        raise CmmnetError(f"refinement: the dataset's landmark images were drawn with {drawn}, the refiner's config "
                          f"says {cfg.refiner.draw}; use --set refinement.refiner.draw.style=... / .thickness=...")


def train_refinement(cfg: RefinementPhaseConfig, data: SmileDataset, run: Run) -> None:
    """Train R on the dataset's train split (checkpoint after every epoch, resumable); write ``RUN/refiner/``."""
    _check(cfg, data)
    device = run.dist.device
    rows = data.subset("train").index
    test = data.subset("test")
    val_items = np.zeros((0, 2), np.int64)
    if cfg.val_items > 0 and len(test):
        every = batches.frame_items(len(test), test.T, 0, run.seed, PHASE, "val")
        pick = np.random.default_rng(stable_seed(run.seed, PHASE, "val")).permutation(len(every))[:cfg.val_items]
        val_items = every[np.sort(pick)]

    def items(epoch: int) -> np.ndarray:
        return batches.frame_items(len(rows), data.T, cfg.frames_per_sequence, run.seed, PHASE, "frames", epoch)

    order = EpochBatches(items, cfg.batch_size, run.seed, PHASE, run.dist)
    triples = WarpedTriples(data, rows, cfg.render)
    export = Export(PART, cfg.refiner, "RefinerNet")
    if cfg.adv_weight > 0:
        train_gan(GanPhase(
            name=PHASE, models=lambda: (RefinerNet(cfg.refiner), PatchDiscriminator(cfg.discriminator)),
            loss=lambda r, net_r, net_d: RefinementGanLoss(net_r, net_d, cfg.l1_weight, cfg.face_weight,
                                                           cfg.mask_weight, cfg.adv_weight, cfg.gan_loss),
            dataset=triples, batches=order, epochs=cfg.epochs, adam=AdamConfig(cfg.lr, cfg.beta1, cfg.beta2),
            export=export,
            validate=lambda r: validation(r, test, val_items, cfg, run),
            describe=f"{len(rows)} train sequences, adversarial weight {cfg.adv_weight}, "), run)
        return
    torch.manual_seed(stable_seed(run.seed, PHASE, "init"))
    r = RefinerNet(cfg.refiner).to(device)
    opt = torch.optim.Adam(r.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    ckpt = run.checkpointer(PHASE)
    if ckpt.finished(cfg.epochs):
        if not export.exists(run):
            ckpt.load_models({"R": r})
            export.write(r, run)
        return
    start = ckpt.restore({"R": r}, {"R": opt})
    net = run.wrap(r)
    loader = run.loader(triples, order)
    steps = len(order)
    run.set_step(PHASE, start * steps)
    log.info("phase %s: %d train sequences, %d triples/epoch, %d steps/epoch, R %.2fM params", PHASE, len(rows),
             len(items(0)), steps, sum(p.numel() for p in r.parameters()) / 1e6)
    r.train()
    for epoch in run.epochs(PHASE, start, cfg.epochs):
        order.set_epoch(epoch)
        sums: dict[str, torch.Tensor] = {}
        for batch in loader:
            x, y, z = to_device(batch, device)
            with autocast(device, run.precision):
                loss, m = refinement_loss(net, x, y, z, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            m = {"loss": loss.detach(), **m}
            accumulate(sums, m)
            run.log(PHASE, m, epoch=epoch)
        summary = epoch_summary(sums, steps)
        summary.update(validation(r, test, val_items, cfg, run))
        log_epoch(run, PHASE, summary, (epoch + 1) * steps, epoch, cfg.epochs)
        ckpt.save(epoch + 1, {"R": r}, {"R": opt}, complete=epoch + 1 == cfg.epochs)
    export.write(r, run)
    r.to(device)
    log.info("phase %s done: %s", PHASE, run.dir / PART)

