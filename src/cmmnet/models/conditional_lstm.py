"""The conditional LSTM of paper §3.2: from the neutral face's embedding ``h0`` and the expression label (encoded
and fed at every step) it generates the embedding sequence ``h = (h1, ..., hT)``.

The paper does not say how ``h0`` enters the LSTM, how big it is, or how the output is read; the choices below
are config fields and are explained in docs/landmark-generator.md:

- ``init="projected"``: the LSTM state starts from ``h0`` (``hidden = tanh(W_h h0)``, ``cell = W_c h0``), so the
  person's shape conditions every step; ``"zeros"`` starts from zeros and relies on the input feed.
- ``feed="previous"``: the input at step t is ``[h_{t-1}, e(label)]`` (its own previous output, ``h0`` at t = 1),
  autoregressive as in sequence generation; ``"h0"`` feeds ``[h0, e(label)]`` at every step; ``"motion"`` feeds
  ``[h_{t-1} - h0, e(label)]`` (zeros at t = 1): with ``init="zeros"`` the motion ``h_t - h0`` is then the same for
  every person of a label (the typical smile of the data), the person's shape entering only through ``h0``.
- ``output="delta_h0"``: ``h_t = h0 + W_o s_t``: the smile is a displacement of the person's neutral embedding and
  cannot drift by accumulation; ``"delta_prev"``: ``h_t = h_{t-1} + W_o s_t``; ``"absolute"``: ``h_t = W_o s_t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class ConditionalLSTMConfig:
    hidden_size: int = 256  # paper silent; 2.5x the 100-d embedding, small enough for CPU training
    label_embed_dim: int = 16  # paper: "the conditional label is encoded"; a learned embedding
    init: Literal["projected", "zeros"] = "projected"
    feed: Literal["previous", "h0", "motion"] = "previous"
    output: Literal["delta_h0", "delta_prev", "absolute"] = "delta_h0"


class ConditionalLSTM(nn.Module):
    """h0 (B, D) + label (B,) -> h (B, T, D)  (paper §3.2, magenta block of Fig. 3)."""

    def __init__(self, cfg: ConditionalLSTMConfig, latent_dim: int, num_labels: int):
        super().__init__()
        self.cfg = cfg
        self.label_embed = nn.Embedding(num_labels, cfg.label_embed_dim)
        self.cell = nn.LSTMCell(latent_dim + cfg.label_embed_dim, cfg.hidden_size)
        self.init_h = nn.Linear(latent_dim, cfg.hidden_size) if cfg.init == "projected" else None
        self.init_c = nn.Linear(latent_dim, cfg.hidden_size) if cfg.init == "projected" else None
        self.out = nn.Linear(cfg.hidden_size, latent_dim)
        if cfg.output != "absolute":  # start as the identity: h_t = h0 (or h_{t-1}); training learns the motion
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, h0: torch.Tensor, label: torch.Tensor, steps: int) -> torch.Tensor:
        b = h0.shape[0]
        e = self.label_embed(label)  # (B, E)
        if self.init_h is not None and self.init_c is not None:
            state = (torch.tanh(self.init_h(h0)), self.init_c(h0))  # (B, H) each
        else:
            z = h0.new_zeros(b, self.cfg.hidden_size)
            state = (z, z)
        prev = h0
        outs = []
        for _ in range(steps):
            x = torch.cat([self._feed(prev, h0), e], dim=1)  # (B, D + E)
            state = self.cell(x, state)
            delta = self.out(state[0])  # (B, D)
            if self.cfg.output == "delta_h0":
                h = h0 + delta
            elif self.cfg.output == "delta_prev":
                h = prev + delta
            else:
                h = delta
            outs.append(h)
            prev = h
        return torch.stack(outs, dim=1)  # (B, T, D)

    def _feed(self, prev: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        if self.cfg.feed == "previous":
            return prev
        if self.cfg.feed == "h0":
            return h0
        return prev - h0  # (B, D) the motion so far
