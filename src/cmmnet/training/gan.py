"""The one adversarial training loop, shared by the translation block (§3.4) and the baselines of §4.1.

Modelled on stylegan3's ``training_loop`` + ``Loss`` objects: the loop owns everything every GAN phase does alike
(seeded construction, Adam for G and D, checkpoint/resume, DDP wrapping, the DataLoader, autocast, metrics that
stay on the device until a log step, epoch summaries, the export of G to ``RUN/<part>/`` and its entry in
``RUN/model_index.json``); what differs per method is a small :class:`AdversarialLoss` (``TranslationLoss`` in
:mod:`cmmnet.losses.translation`; ``CRANetLoss``, ``VideoGANLoss`` in :mod:`cmmnet.losses.baselines`). Each step
runs, in pix2pix order, ``fake = loss.fake(batch)``, then the D update on ``loss.discriminator(batch, fake)``,
then the G update on ``loss.generator(batch, fake)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.data import Dataset

from ..models.io import save_pretrained, update_model_index
from ..runtime import autocast, stable_seed
from .batches import EpochBatches, to_device
from .run import Run, accumulate, epoch_summary, log_epoch

log = logging.getLogger(__name__)

Metrics = dict[str, torch.Tensor]


class AdversarialLoss(Protocol):
    """One GAN method's losses; built on the (possibly DDP-wrapped) G and D. Metrics are detached tensors."""

    def fake(self, batch: Any) -> Any:
        """G's output for ``batch`` (kept for both updates)."""

    def discriminator(self, batch: Any, fake: Any) -> tuple[torch.Tensor, Metrics]:
        """D's loss (to minimise) on real data vs the detached ``fake``."""

    def generator(self, batch: Any, fake: Any) -> tuple[torch.Tensor, Metrics]:
        """G's loss (to minimise), D fixed."""


@dataclass(frozen=True)
class Export:
    """Where and as what G is written at the end: ``save_pretrained(G, config, RUN/part, name=class_name)``."""

    part: str  # sub-directory of the run, e.g. "translator" or "video_gan/posed"
    config: Any
    class_name: str

    def write(self, g: torch.nn.Module, run: Run) -> None:
        if run.dist.is_main:
            save_pretrained(g.eval().cpu(), self.config, run.dir / self.part, name=self.class_name)
            update_model_index(run.dir, self.part)

    def exists(self, run: Run) -> bool:
        return (run.dir / self.part / "model.safetensors").is_file()


@dataclass(frozen=True)
class AdamConfig:
    lr: float
    beta1: float
    beta2: float


@dataclass
class GanPhase:
    """Everything :func:`train_gan` needs for one adversarial phase."""

    name: str
    models: Callable[[], tuple[torch.nn.Module, torch.nn.Module]]  # builds (G, D); seeded by the loop
    loss: Callable[[Any, torch.nn.Module, torch.nn.Module], AdversarialLoss]  # (G, net_G, net_D) -> loss object
    dataset: Dataset  # dataset[BatchKey] is one batch
    batches: EpochBatches
    epochs: int
    adam: AdamConfig
    export: Export
    validate: Callable[[torch.nn.Module], dict[str, float]] | None = None  # G -> extra epoch metrics
    describe: str = ""  # extra words for the start-of-phase log line


def _params(m: torch.nn.Module) -> float:
    return sum(p.numel() for p in m.parameters()) / 1e6


def train_gan(phase: GanPhase, run: Run) -> None:
    """Train ``phase`` (checkpoint after every epoch, resumable, skipped when complete); export G at the end."""
    name, device = phase.name, run.dist.device
    torch.manual_seed(stable_seed(run.seed, name, "init"))
    g, d = (m.to(device) for m in phase.models())
    betas = (phase.adam.beta1, phase.adam.beta2)
    opt_g = torch.optim.Adam(g.parameters(), lr=phase.adam.lr, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=phase.adam.lr, betas=betas)
    ckpt = run.checkpointer(name)
    if ckpt.finished(phase.epochs):
        if not phase.export.exists(run) and run.dist.is_main:
            ckpt.load_models({"G": g})
            phase.export.write(g, run)
        return
    start = ckpt.restore({"G": g, "D": d}, {"G": opt_g, "D": opt_d})
    loss = phase.loss(g, run.wrap(g), run.wrap(d))
    loader = run.loader(phase.dataset, phase.batches)
    steps = len(phase.batches)
    run.set_step(name, start * steps)
    log.info("phase %s: %s%d steps/epoch, G %.2fM params, D %.2fM params", name, phase.describe, steps,
             _params(g), _params(d))
    g.train()
    d.train()
    for epoch in run.epochs(name, start, phase.epochs):
        phase.batches.set_epoch(epoch)
        sums: Metrics = {}
        for batch in loader:
            batch = to_device(batch, device)
            with autocast(device, run.precision):
                fake = loss.fake(batch)
                loss_d, m_d = loss.discriminator(batch, fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast(device, run.precision):
                loss_g, m_g = loss.generator(batch, fake)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            m = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), **m_g, **m_d}
            accumulate(sums, m)
            run.log(name, m, epoch=epoch)
        summary = epoch_summary(sums, steps)
        if phase.validate is not None:
            summary.update(phase.validate(g))
        log_epoch(run, name, summary, (epoch + 1) * steps, epoch, phase.epochs)
        ckpt.save(epoch + 1, {"G": g, "D": d}, {"G": opt_g, "D": opt_d}, complete=epoch + 1 == phase.epochs)
    phase.export.write(g, run)
    g.to(device)
    log.info("phase %s done: %s", name, Path(run.dir) / phase.export.part)
