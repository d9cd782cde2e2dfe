"""CRA-Net, the conditional recurrent adversarial baseline of paper §4.1 ("Baselines").

"A variant of the proposed approach that learns an embedding from the face images directly, instead from landmark
images [...] The CRA-Net has the same structure as the bottom layer conditional recurrent landmark generator. The
difference is that a discriminator is added on the top of the generated images to improve the image quality."

So: the VAE of §4.1 on RGB faces instead of binary landmark images (encoder Conv(4,2,1) x4 with 64, 128, 256, 512
channels, LeakyReLU, batch norm on all but the first; mean / log-variance heads Conv(4,1,0) with 100 channels; a
mirrored ConvTranspose decoder with a tanh RGB output), and the conditional LSTM of §3.2 on its embeddings: the
neutral face's embedding ``h_0`` sets the LSTM's initial state, the label is embedded and input at every time
step together with ``h_0``, and the LSTM emits ``h_1 .. h_{T-1}``. The image discriminator on top is
:class:`cmmnet.models.patch_discriminator.PatchDiscriminator` (pairs [neutral face, frame]), built by the training
phase, not here.

Where the paper is silent (docs/evaluation.md): LSTM hidden size 256, a 16-d label embedding, and
``output="residual"``: ``h_t = h_0 + LSTM_t`` so that the sequence starts at the neutral embedding.
Frames are ``(B, T, 3, S, S)`` in [-1, 1]; frame 0 is the decoded neutral embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..errors import CmmnetError
from .blocks import down_stack, scaled, up_stack


@dataclass(frozen=True)
class CRANetConfig:
    image_size: int = 64  # §4.1
    T: int = 32  # frames per sequence, frame 0 = the neutral face (§4.1)
    label_names: tuple[str, ...] = ("posed", "spontaneous")
    latent_dim: int = 100  # §4.1: VAE heads with 100 channels
    channels: tuple[int, ...] = (64, 128, 256, 512)  # §4.1 encoder widths at width 1.0 (decoder mirrors them)
    width: float = 1.0  # multiplier on the conv channel counts (1.0 = the paper)
    lstm_hidden: int = 256  # paper silent
    label_dim: int = 16  # paper silent: size of the label embedding input at every step
    leaky_slope: float = 0.2  # paper silent; DCGAN's value
    output: Literal["residual", "absolute"] = "residual"  # h_t = h_0 + LSTM_t, or h_t = LSTM_t


class CRANet(nn.Module):
    """Face VAE (encode / decode) + conditional LSTM over its embeddings (§4.1 CRA-Net)."""

    def __init__(self, cfg: CRANetConfig):
        super().__init__()
        n = len(cfg.channels)
        if cfg.image_size != 4 * 2**n:
            raise CmmnetError(f"CRANet: image_size {cfg.image_size} needs {n} stride-2 layers down to 4x4; "
                              f"use image_size {4 * 2**n} or change cranet.model.channels")
        if cfg.T < 2 or not cfg.label_names:
            raise CmmnetError("CRANet: needs T >= 2 and at least one label")
        self.cfg = cfg
        ch = scaled(cfg.channels, cfg.width)
        self.encoder = nn.Sequential(*down_stack(3, ch, cfg.leaky_slope))
        self.mu_head = nn.Conv2d(ch[-1], cfg.latent_dim, 4, 1, 0)
        self.logvar_head = nn.Conv2d(ch[-1], cfg.latent_dim, 4, 1, 0)
        dec = up_stack(cfg.latent_dim, ch[::-1], cfg.leaky_slope)
        dec += [nn.ConvTranspose2d(ch[0], 3, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)
        self.label_embed = nn.Embedding(len(cfg.label_names), cfg.label_dim)
        self.init_h = nn.Linear(cfg.latent_dim, cfg.lstm_hidden)
        self.init_c = nn.Linear(cfg.latent_dim, cfg.lstm_hidden)
        self.lstm = nn.LSTM(cfg.latent_dim + cfg.label_dim, cfg.lstm_hidden, batch_first=True)
        self.out = nn.Linear(cfg.lstm_hidden, cfg.latent_dim)

    # -- VAE
    def encode(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``faces`` (B, 3, S, S) in [-1, 1] -> (mu, logvar), each (B, latent_dim)."""
        f = self.encoder(faces)  # (B, 512w, 4, 4)
        return self.mu_head(f).flatten(1), self.logvar_head(f).flatten(1)  # (B, 100), (B, 100)

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, 100)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` (..., latent_dim) -> faces (..., 3, S, S) in [-1, 1]."""
        lead = h.shape[:-1]
        x = self.decoder(h.reshape(-1, h.shape[-1], 1, 1))  # (B', 3, S, S)
        return x.reshape(*lead, *x.shape[1:])

    # -- conditional LSTM
    def sequence(self, h0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``h0`` (B, latent_dim), ``labels`` (B,) int -> embeddings (B, T, latent_dim), row 0 = ``h0``."""
        steps = self.cfg.T - 1
        lab = self.label_embed(labels)  # (B, label_dim)
        inp = torch.cat([h0, lab], -1)[:, None].expand(-1, steps, -1)  # (B, T-1, latent + label)
        state = (torch.tanh(self.init_h(h0))[None], torch.tanh(self.init_c(h0))[None])  # 2 x (1, B, hidden)
        y, _ = self.lstm(inp.contiguous(), state)  # (B, T-1, hidden)
        d = self.out(y)  # (B, T-1, latent)
        hs = h0[:, None] + d if self.cfg.output == "residual" else d
        return torch.cat([h0[:, None], hs], 1)  # (B, T, latent)

    def forward(self, faces: torch.Tensor, labels: torch.Tensor,
                frames: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Training pass on real frames ``faces`` (B, F, 3, S, S) in [-1, 1] and ``labels`` (B,).

        ``frames`` (F,) are the time indices of the F given frames (default: all T, in order); ``frames[0]`` must
        be 0, the neutral frame the LSTM starts from. Returns, for those F frames, ``reconstruction``
        (B, F, 3, S, S) (the VAE, sampled), ``mu`` / ``logvar`` (B, F, latent), ``embeddings`` (B, F, latent)
        (the LSTM from frame 0's mean, at the given times) and ``generated`` (B, F, 3, S, S) (their decoding).
        """
        b, f = faces.shape[:2]
        if frames is None:
            frames = torch.arange(f, device=faces.device)
        mu, logvar = self.encode(faces.flatten(0, 1))  # (B*F, 100) each
        rec = self.decode(self.sample(mu, logvar))  # (B*F, 3, S, S)
        mu, logvar = mu.view(b, f, -1), logvar.view(b, f, -1)  # (B, F, 100)
        hs = self.sequence(mu[:, 0], labels)[:, frames]  # (B, F, 100)
        return {"reconstruction": rec.view(faces.shape), "mu": mu, "logvar": logvar, "embeddings": hs,
                "generated": self.decode(hs)}

    @torch.no_grad()
    def generate(self, neutral: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Neutral faces (B, 3, S, S) in [-1, 1] + labels (B,) -> videos (B, T, 3, S, S) in [-1, 1]."""
        mu, _ = self.encode(neutral)  # (B, 100)
        return self.decode(self.sequence(mu, labels))  # (B, T, 3, S, S)
