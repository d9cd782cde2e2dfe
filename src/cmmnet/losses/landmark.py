"""Losses of the landmark generator (paper §3.2, §3.3), pure functions on tensors; weights live in the configs.

Reductions (the paper writes sums over n, t and pixels): every loss here is the sum over an item's own axes
(pixels, embedding dimensions) averaged over the batch and time, so its size does not depend on batch size or T.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1: pixel-wise binary cross-entropy of decoded landmark images (given as logits, ``(..., 1, S, S)``)
    against binary targets of the same shape; summed over pixels, averaged over the leading axes."""
    per = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")  # (..., 1, S, S)
    return per.flatten(-3).sum(-1).mean()


def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(h|y) || N(0, I)) of the VAE, summed over the embedding, averaged over the batch."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)).mean()


def pull(h_cond: torch.Tensor, h_modes: torch.Tensor, average: Literal["mean", "median"] = "mean") -> torch.Tensor:
    """Eq. 2: squared distance between the conditional sequence ``h_cond`` (B, T, D) and the mode-wise average
    ``h_t*`` of the K sequences ``h_modes`` (B, K, T, D); summed over D, averaged over B and T. ``average``: the
    paper's mean, or the per-dimension median over the modes (for a conditional sequence trained to the data's
    median, which the mean of modes that each fit one way of smiling need not be)."""
    h = h_modes.float()
    avg = h.mean(dim=1) if average == "mean" else h.median(dim=1).values  # (B, T, D)
    return (h_cond.float() - avg).pow(2).sum(-1).mean()


def push(logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3: cross-entropy of the mode discriminator phi. ``logits`` (B, K, K): row k holds phi's scores for the
    time-averaged embedding of mode k, whose target class is k. phi and the generators both minimise it."""
    b, k, _ = logits.shape
    target = torch.arange(k, device=logits.device).expand(b, k)  # (B, K)
    return F.cross_entropy(logits.float().reshape(b * k, k), target.reshape(-1))


def mode_accuracy(logits: torch.Tensor) -> torch.Tensor:
    """Fraction of mode embeddings that phi assigns to their own generator (a diagnostic, not a loss)."""
    k = logits.shape[-1]
    return (logits.argmax(-1) == torch.arange(k, device=logits.device)).float().mean()


def point_error(points: torch.Tensor, target: torch.Tensor, kind: str,
                weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-shape distance of read-out points (..., 68, 2) to target points (broadcastable), in pixels: ``"l1"`` the
    mean absolute coordinate difference (its minimiser is the per-coordinate median, so a mixture of styles gives
    the most common shape, not their average), ``"l2"`` the mean squared point distance; returns (...). ``weights``
    (68,): a weighted mean over the points instead."""
    d = points.float() - target.float()
    per_point = d.abs().mean(-1) if kind == "l1" else d.pow(2).sum(-1)  # (..., 68)
    if weights is None:
        return per_point.mean(-1)
    return (per_point * weights).sum(-1) / weights.sum()


def roughness(points: torch.Tensor) -> torch.Tensor:
    """Mean absolute second difference over time of point sequences (..., T, 68, 2), in their units: what the
    jitter measure of :mod:`cmmnet.evaluation.smile_measures` counts (there over the IOD)."""
    p = points.float()
    return (p[..., 2:, :, :] - 2 * p[..., 1:-1, :, :] + p[..., :-2, :, :]).abs().mean()


def velocity_error(points: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between the first differences over time of point sequences (..., T, 68, 2) and
    of the target sequences (broadcastable), in their units per frame: its minimiser is the per-coordinate median
    velocity, so where the data's motion has stopped, a fit that keeps moving pays for every frame it moves."""
    v, w = points.float().diff(dim=-3), target.float().diff(dim=-3)
    return (v - w).abs().mean()


def best_of_k(errors: torch.Tensor, eps: float) -> torch.Tensor:
    """Winner-takes-all reconstruction ("multiple choice learning"): ``errors`` (B, K) of each mode against the
    one real sequence; the best mode takes weight ``1 - eps``, every mode ``eps / K``, so each mode specialises on
    the sequences it reconstructs best and no mode is left without gradient. Averaged over the batch."""
    k = errors.shape[-1]
    win = F.one_hot(errors.detach().argmin(-1), k).to(errors.dtype)  # (B, K)
    return ((win * (1 - eps) + eps / k) * errors).sum(-1).mean()
