"""Losses of the landmark-to-video translation block (paper §3.4, eq. 4-6). Pure functions, one idea each.

D outputs logits, one per patch of its coarsest map (§3.4), so each log-likelihood of eq. 5-6 is a
``binary_cross_entropy_with_logits`` averaged over patches and the batch. Weights live in
:class:`cmmnet.training.translation.TranslationPhaseConfig`.
"""

from __future__ import annotations

from typing import Literal

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
