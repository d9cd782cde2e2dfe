"""The landmark-image VAE of paper §3.2 / §4.1: encodes a binary landmark image ``y`` into the embedding ``h``
(100-d) and decodes embeddings back to landmark images ``x``.

Layer for layer as §4.1: encoder Conv(4,2,1) with 64, 128, 256, 512 channels, LeakyReLU, batch norm on all but the
first; mean and (log-)variance heads Conv(4,1,0) with 100 channels; reparameterised sampling; a symmetric decoder
of five ConvTranspose layers with 512, 256, 128, 64 and 1 channels (the first ConvT(4,1,0) maps the 100x1x1 code
to 512x4x4, the rest are ConvT(4,2,1)), batch norm + LeakyReLU on the first four and a sigmoid output.

The decoder's last layer returns logits; :meth:`LandmarkVAE.decode` applies the sigmoid. Losses use the logits
(``binary_cross_entropy_with_logits`` is eq. 1 computed stably, and is safe under bf16 autocast).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CmmnetError
from .blocks import down_stack, up_stack


@dataclass(frozen=True)
class LandmarkVAEConfig:
    latent_dim: int = 100  # §4.1: heads with 100 output channels
    channels: tuple[int, ...] = (64, 128, 256, 512)  # §4.1 encoder widths (decoder mirrors them)
    leaky_slope: float = 0.2  # paper silent; DCGAN's LeakyReLU slope


def _check(cfg: LandmarkVAEConfig, image_size: int) -> None:
    n = len(cfg.channels)
    if image_size != 4 * 2**n:
        raise CmmnetError(f"LandmarkVAE: {n} stride-2 layers reach 4x4 only from {4 * 2**n}x{4 * 2**n} images, "
                          f"not {image_size}; use image_size {4 * 2**n} or change the vae channels")


class LandmarkVAE(nn.Module):
    """Encoder q(h | y) and decoder p(y | h) of the landmark-image VAE (§4.1)."""

    def __init__(self, cfg: LandmarkVAEConfig, image_size: int = 64):
        super().__init__()
        _check(cfg, image_size)
        self.cfg = cfg
        ch = list(cfg.channels)
        self.encoder = nn.Sequential(*down_stack(1, ch, cfg.leaky_slope))
        self.mu_head = nn.Conv2d(ch[-1], cfg.latent_dim, 4, 1, 0)
        self.logvar_head = nn.Conv2d(ch[-1], cfg.latent_dim, 4, 1, 0)
        dec = up_stack(cfg.latent_dim, ch[::-1], cfg.leaky_slope)
        dec.append(nn.ConvTranspose2d(ch[0], 1, 4, 2, 1))  # logits; sigmoid in decode()
        self.decoder = nn.Sequential(*dec)

    def encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``y`` (B, 1, S, S) in [0, 1] -> (mu, logvar), each (B, latent_dim)."""
        f = self.encoder(y)  # (B, 512, 4, 4)
        mu = self.mu_head(f).flatten(1)  # (B, 100)
        logvar = self.logvar_head(f).flatten(1)  # (B, 100)
        return mu, logvar

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised sample h = mu + sigma * eps."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)  # (B, 100)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode_logits(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` (..., latent_dim) -> logits (..., 1, S, S)."""
        lead = h.shape[:-1]
        x = self.decoder(h.reshape(-1, h.shape[-1], 1, 1))  # (B', 1, S, S)
        return x.reshape(*lead, *x.shape[1:])

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` (..., latent_dim) -> landmark image probabilities (..., 1, S, S) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(h))

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits (B, 1, S, S), mu and logvar (B, latent_dim) for landmark images ``y``."""
        mu, logvar = self.encode(y)
        return self.decode_logits(self.sample(mu, logvar)), mu, logvar
