"""Losses of the warp renderer's refinement network R (not in the paper; docs/translation.md). Weights live in
:class:`cmmnet.training.refinement.RefinementPhaseConfig`.

A batch is ``(x, y, z)``: the warped neutral face, the frame's landmark image and the real frame. The
reconstruction loss is, per pixel ([-1, 1] scale), ``l1_weight |refined - z| + face_weight |r - z|_e +
mask_weight mean(m)``, where ``|.|_e`` is the L1 weighted by the warp's own error ``e = |x - z|`` (where R has to
paint): it keeps R's own face ``r`` learning there while its mask is still closed (without it the mask closes
everywhere within a few steps, as blending in an untrained ``r`` only costs, and ``r`` then gets no gradient); the
mask term makes R leave the warp alone where it is right. With an adversarial weight, a PatchGAN D judges
``[x, z]`` (real) against ``[x, refined]`` (painted), one label per patch, conditioned on the warp it was given:
the L1 alone predicts no change where each person's own cheeks, folds and teeth differ from what the warp shows.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models.refiner import blend
from .translation import GanLoss, discriminator_loss, generator_adversarial_loss

Metrics = dict[str, torch.Tensor]


def reconstruction(face: torch.Tensor, m: torch.Tensor, x: torch.Tensor, z: torch.Tensor, l1_weight: float,
                   face_weight: float, mask_weight: float) -> tuple[torch.Tensor, Metrics]:
    """The reconstruction loss of R's output ``face`` (B, 3, S, S) and mask ``m`` (B, 1, S, S) for the warp ``x``
    and the real frame ``z``, and its detached parts (``l1`` of the refined face, ``face_l1`` of R's own face where
    the warp is wrong, ``mask`` = mean of R's mask)."""
    refined = blend(x, face, m)  # (B, 3, S, S)
    l1 = (refined.float() - z).abs().mean()
    miss = (x - z).abs().mean(1, keepdim=True)  # (B, 1, S, S) where the warp is wrong, and by how much
    face_l1 = ((face.float() - z).abs() * miss).sum() / (3 * miss.sum()).clamp_min(1e-6)
    mask = m.float().mean()
    loss = l1_weight * l1 + face_weight * face_l1 + mask_weight * mask
    return loss, {"l1": l1.detach(), "face_l1": face_l1.detach(), "mask": mask.detach()}


class RefinementGanLoss:
    """R's losses as the adversarial loop's loss object: D on ``[x, z]`` vs ``[x, refined]`` (one label per patch);
    R on the reconstruction loss plus ``adv_weight`` times the adversarial term. ``fake`` is ``(face, m, refined)``."""

    def __init__(self, net_r: torch.nn.Module, net_d: torch.nn.Module, l1_weight: float, face_weight: float,
                 mask_weight: float, adv_weight: float, gan_loss: GanLoss):
        self.net_r, self.net_d = net_r, net_d
        self.weights = (l1_weight, face_weight, mask_weight)
        self.adv_weight, self.gan_loss = adv_weight, gan_loss

    def fake(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, _ = batch
        face, m = self.net_r(x, y)  # (B, 3, S, S), (B, 1, S, S)
        return face, m, blend(x, face, m)

    def discriminator(self, batch: Any, fake: Any) -> tuple[torch.Tensor, Metrics]:
        x, _, z = batch
        real_logits = self.net_d(x, z).float()  # (B, 1, h, w)
        fake_logits = self.net_d(x, fake[2].detach()).float()
        metrics = {"d_real": torch.sigmoid(real_logits.detach()).mean(),
                   "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
        return discriminator_loss(real_logits, fake_logits), metrics

    def generator(self, batch: Any, fake: Any) -> tuple[torch.Tensor, Metrics]:
        x, _, z = batch
        face, m, refined = fake
        rec, metrics = reconstruction(face, m, x, z, *self.weights)
        adv = generator_adversarial_loss(self.net_d(x, refined).float(), self.gan_loss)
        return rec + self.adv_weight * adv, {**metrics, "adv": adv.detach()}
