"""Landmark embeddings straight to 68 points: a linear read-out ``p = W h + b`` fitted in closed form.

The paper decodes embeddings to landmark images (§3.2) and never reads points back. :class:`PointModel` reads them
from decoded images by fitting a shape model; this read-out instead maps an embedding ``h`` (the VAE encoder's mean
space, §4.1) to the 68 points linearly, with ``W, b`` fitted by ridge regression from the encoder means of the train
split's frames to their landmarks (:meth:`PointReadout.fit`). Because it is linear, the motion of a generated
sequence read this way is ``W (h_t - h_1)``: the LSTM phases trained against it (``target="points"`` in
:mod:`cmmnet.training.landmark`) learn embeddings whose motion reads out as the data's motion. Measured choices:
docs/landmark-generator.md.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import CmmnetError

N_POINTS = 68


class PointReadout(nn.Module):
    """Buffers ``weight`` (D, 136) and ``bias`` (136,): embeddings (..., D) -> points (..., 68, 2) in pixels."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.register_buffer("weight", torch.zeros(latent_dim, N_POINTS * 2))
        self.register_buffer("bias", torch.zeros(N_POINTS * 2))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def fit(self, embeddings: torch.Tensor, points: torch.Tensor, ridge: float) -> None:
        """Least squares (float64) from embeddings (M, D) to points (M, 68, 2), with penalty ``ridge * M`` on W."""
        x = embeddings.double().reshape(len(embeddings), -1)  # (M, D)
        y = points.double().reshape(len(points), -1)  # (M, 136)
        if x.shape[0] < 2 or x.shape[1] != self.weight.shape[0]:
            raise CmmnetError(f"point read-out: need (M >= 2, {self.weight.shape[0]}) embeddings, got {tuple(x.shape)}")
        xm, ym = x.mean(0), y.mean(0)
        xc = x - xm
        eye = torch.eye(x.shape[1], dtype=torch.float64, device=x.device)
        w = torch.linalg.solve(xc.T @ xc + ridge * len(x) * eye, xc.T @ (y - ym))  # (D, 136)
        self.weight.copy_(w.float())
        self.bias.copy_((ym - xm @ w).float())
        self.fitted.fill_(1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if int(self.fitted) != 1:
            raise CmmnetError("point read-out: not fitted (train the lstm phase with target 'points' first)")
        return (h @ self.weight.to(h.dtype) + self.bias.to(h.dtype)).reshape(*h.shape[:-1], N_POINTS, 2)
