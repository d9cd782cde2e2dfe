"""Losses of the two baselines of paper §4.1 (CRA-Net, Video-GAN), pure functions plus one loss object per method
for the adversarial loop (:mod:`cmmnet.training.gan`); weights come from the phase configs
(:mod:`cmmnet.training.baselines`). The adversarial terms are those of the translation block
(:mod:`cmmnet.losses.translation`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .translation import GanLoss, discriminator_loss, generator_adversarial_loss

Metrics = dict[str, torch.Tensor]


def l1(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per pixel."""
    return (generated.float() - real).abs().mean()


def kl_per_unit(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(h|x) || N(0, I)) of CRA-Net's face VAE, averaged over latent units (so its weight is per unit)."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())


def latent_match(embeddings: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """MSE pulling the LSTM's embeddings (B, T, D) to the encoder's means of the real frames (no gradient to mu)."""
    return F.mse_loss(embeddings.float(), mu.detach().float())


def mask_sparsity(mask: torch.Tensor) -> torch.Tensor:
    """Vondrick et al.'s L1 sparsity of Video-GAN's foreground mask (values in [0, 1])."""
    return mask.float().mean()


class CRANetLoss:
    """CRA-Net (§4.1): D (a patch discriminator on [neutral, frame] pairs) on real vs generated frames; CRA-Net on
    ``l1_weight * (L1(VAE reconstruction) + L1(generated sequence)) + kl_weight * KL + latent_weight * latent
    match + adv_weight * adversarial term``. A batch is ``(x (B, F, 3, S, S), labels (B,), frames (F,))``."""

    def __init__(self, net_g: torch.nn.Module, net_d: torch.nn.Module, *, l1_weight: float, kl_weight: float,
                 latent_weight: float, adv_weight: float, gan_loss: GanLoss):
        self.net_g, self.net_d, self.gan_loss = net_g, net_d, gan_loss
        self.w = {"l1": l1_weight, "kl": kl_weight, "latent": latent_weight, "adv": adv_weight}

    @staticmethod
    def _neutral(x: torch.Tensor) -> torch.Tensor:
        return x[:, :1].expand(-1, x.shape[1], -1, -1, -1).flatten(0, 1)  # (B*F, 3, S, S)

    def fake(self, batch: Any) -> dict[str, torch.Tensor]:
        x, labels, frames = batch
        return self.net_g(x, labels, frames)  # mu, logvar, embeddings (B, F, 100); reconstruction, generated

    def discriminator(self, batch: Any, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        x, neutral = batch[0], self._neutral(batch[0])
        real_logits = self.net_d(neutral, x.flatten(0, 1))
        fake_logits = self.net_d(neutral, out["generated"].flatten(0, 1).detach())
        return discriminator_loss(real_logits.float(), fake_logits.float()), {}

    def generator(self, batch: Any, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        x, neutral = batch[0], self._neutral(batch[0])
        adv = generator_adversarial_loss(self.net_d(neutral, out["generated"].flatten(0, 1)).float(), self.gan_loss)
        terms = {"l1_rec": l1(out["reconstruction"], x), "l1_seq": l1(out["generated"], x),
                 "kl": kl_per_unit(out["mu"], out["logvar"]), "latent": latent_match(out["embeddings"], out["mu"]),
                 "adv": adv}
        w = self.w
        loss = (w["l1"] * (terms["l1_rec"] + terms["l1_seq"]) + w["kl"] * terms["kl"]
                + w["latent"] * terms["latent"] + w["adv"] * adv)
        return loss, {k: v.detach() for k, v in terms.items()}


class VideoGANLoss:
    """Video-GAN (Vondrick et al.): D on real vs generated videos; G on ``adv_weight * adversarial term +
    first_weight * L1(generated frame 0, input frame) + mask_weight * mask sparsity``. A batch is
    ``(x (B, T, 3, S, S), labels, frames)``; G sees frame 0."""

    def __init__(self, net_g: torch.nn.Module, net_d: torch.nn.Module, *, adv_weight: float, first_weight: float,
                 mask_weight: float, gan_loss: GanLoss):
        self.net_g, self.net_d, self.gan_loss = net_g, net_d, gan_loss
        self.w = {"adv": adv_weight, "first": first_weight, "mask": mask_weight}

    def fake(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net_g(batch[0][:, 0], return_mask=True)  # (B, T, 3, S, S), mask (B, T, 1, S, S)

    def discriminator(self, batch: Any, fake: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        real_logits = self.net_d(batch[0])  # (B,)
        fake_logits = self.net_d(fake[0].detach())
        return discriminator_loss(real_logits.float(), fake_logits.float()), {}

    def generator(self, batch: Any, fake: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        video, mask = fake
        adv = generator_adversarial_loss(self.net_d(video).float(), self.gan_loss)
        first = l1(video[:, 0], batch[0][:, 0])
        sparsity = mask_sparsity(mask)
        loss = self.w["adv"] * adv + self.w["first"] * first + self.w["mask"] * sparsity
        return loss, {"adv": adv.detach(), "l1_first": first.detach(), "mask": sparsity.detach()}
