"""The multi-mode recurrent landmark generator of paper §3.3 (turquoise block of Fig. 3): K LSTMs that each map
the conditional sequence ``h1..hT`` to their own sequence ``h^k = (h_1k, ..., h_Tk)``, and the classifier
:class:`Phi` (the mode discriminator phi: a fully connected layer + soft-max over K) applied to each mode's
time-averaged embedding ``h*k``.

Silent parts (config fields, see docs/landmark-generator.md): the LSTMs' hidden size, and how their output is read
(``output="delta_input"``: ``h_tk = h_t + W_k s_tk``, a mode is a deviation from the conditional sequence, which the
pull loss keeps centred; ``"absolute"``: ``h_tk = W_k s_tk``) and what they read (``input="sequence"``: ``h_t``;
``"motion"``: ``h_t - h_1``, the conditional motion without the person's embedding, so a mode's deviation is the
same for every person whose conditional motion is the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class MultiModeConfig:
    hidden_size: int = 256  # paper silent; as the conditional LSTM
    output: Literal["delta_input", "absolute"] = "delta_input"
    input: Literal["sequence", "motion"] = "sequence"


class MultiModeLSTMs(nn.Module):
    """h (B, T, D) -> K sequences (B, K, T, D)."""

    def __init__(self, cfg: MultiModeConfig, latent_dim: int, modes: int):
        super().__init__()
        self.cfg = cfg
        self.lstms = nn.ModuleList(nn.LSTM(latent_dim, cfg.hidden_size, batch_first=True) for _ in range(modes))
        self.outs = nn.ModuleList(nn.Linear(cfg.hidden_size, latent_dim) for _ in range(modes))

    @property
    def modes(self) -> int:
        return len(self.lstms)

    def forward(self, h: torch.Tensor, modes: int | None = None) -> torch.Tensor:
        k = self.modes if modes is None else modes
        x = h if self.cfg.input == "sequence" else h - h[:, :1]  # (B, T, D)
        seqs = []
        for lstm, out in list(zip(self.lstms, self.outs))[:k]:
            s, _ = lstm(x)  # (B, T, H)
            d = out(s)  # (B, T, D)
            seqs.append(h + d if self.cfg.output == "delta_input" else d)
        return torch.stack(seqs, dim=1)  # (B, K, T, D)


class Phi(nn.Module):
    """The classifier phi of §3.3 (the mode discriminator): time-averaged mode embedding h*k (..., D) -> logits over
    the K generators (..., K); the soft-max is in the push loss (eq. 3)."""

    def __init__(self, latent_dim: int, modes: int):
        super().__init__()
        self.fc = nn.Linear(latent_dim, modes)

    def forward(self, h_star: torch.Tensor) -> torch.Tensor:
        return self.fc(h_star)  # (..., K)


