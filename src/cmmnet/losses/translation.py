"""Losses of the landmark-to-video translation block (paper §3.4, eq. 4-6). Pure functions, one idea each.

D outputs logits, one per patch of its coarsest map (§3.4), so each log-likelihood of eq. 5-6 is a
``binary_cross_entropy_with_logits`` averaged over patches and the batch. Weights live in
:class:`cmmnet.training.translation.TranslationPhaseConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F

GanLoss = Literal["non_saturating", "minimax"]


def reconstruction_l1(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Eq. 4, ||z_t - w_t||_1, as the mean absolute error per pixel (the sum divided by the number of pixels)."""
    return (real - generated).abs().mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 5 to be *minimised* by D: -[log D([z_0, z_t]) + log(1 - D([z_0, w_t]))], mean over patches."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_adversarial_loss(fake_logits: torch.Tensor, kind: GanLoss = "non_saturating") -> torch.Tensor:
    """The adversarial term of eq. 6 for G, mean over patches.

    ``minimax``: log(1 - D([z_0, w_t])) exactly as eq. 6 writes it (saturates when D wins early).
    ``non_saturating``: -log D([z_0, w_t]), the same fixed point with strong early gradients (Goodfellow et al. 2014;
    what pix2pix trains with).
    """
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    raise ValueError(f"unknown GAN loss {kind!r}")


class TranslationLoss:
    """The translation block's GAN losses (§3.4) as the adversarial loop's loss object: D on real ``[z_0, z_t]``
    vs generated ``[z_0, w_t]`` pairs (eq. 5, one label per pixel of D's coarsest map); G on
    ``l1_weight * eq. 4 + adv_weight * adversarial term of eq. 6``. A batch is ``((z_0, y_t, z_t), (p_0, p_t))``."""

    def __init__(self, net_g: torch.nn.Module, net_d: torch.nn.Module, face_input: Callable[..., torch.Tensor],
                 l1_weight: float, adv_weight: float, gan_loss: GanLoss):
        self.net_g, self.net_d, self.face_input = net_g, net_d, face_input
        self.l1_weight, self.adv_weight, self.gan_loss = l1_weight, adv_weight, gan_loss

    def fake(self, batch: Any) -> torch.Tensor:
        (z0, y, _), (p0, pt) = batch
        return self.net_g(y, self.face_input(z0, p0, pt))  # (B, 3, S, S) generated frame w_t

    def discriminator(self, batch: Any, w: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (z0, _, z), _ = batch
        real_logits = self.net_d(z0, z).float()  # (B, 1, h, w): one label per pixel of the coarsest map
        fake_logits = self.net_d(z0, w.detach()).float()
        metrics = {"d_real": torch.sigmoid(real_logits.detach()).mean(),
                   "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
        return discriminator_loss(real_logits, fake_logits), metrics

    def generator(self, batch: Any, w: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (z0, _, z), _ = batch
        adv = generator_adversarial_loss(self.net_d(z0, w).float(), self.gan_loss)
        l1 = reconstruction_l1(w.float(), z)
        return self.l1_weight * l1 + self.adv_weight * adv, {"l1": l1.detach(), "adv": adv.detach()}
