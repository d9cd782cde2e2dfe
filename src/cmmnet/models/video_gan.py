"""Video-GAN baseline (Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics", NIPS 2016), as
the paper's §4.1 / §4.3 baseline [41], conditioned on the first frame.

Generator (two streams, Vondrick et al. Fig. 1): a code goes to
- a foreground stream of fractionally strided 3D convolutions (512, 256, 128, 64 channels at width 1.0; the first
  maps the 1x1x1 code to (T/16, S/16, S/16), the others double time and space) ending in two heads: the
  foreground video ``f`` (tanh, 3 channels) and the mask ``m`` (sigmoid, 1 channel);
- a background stream of fractionally strided 2D convolutions (same widths) ending in a static image ``b``
  (tanh);
and the video is ``m * f + (1 - m) * b``. As in Vondrick et al.'s "future generation" variant, the code is not
noise but the encoding of the first frame by a 2D conv encoder (Conv(4,2,1) x4 with 64, 128, 256, 512 channels,
batch norm but on the first, LeakyReLU, then a linear map to ``code_dim``); ``noise_dim`` > 0 appends noise.

Discriminator: 3D convolutions Conv3d(4,2,1) with 64, 128, 256, 512 channels (LeakyReLU, batch norm but on the
first), then a Conv3d covering the remaining (T/16, S/16, S/16) volume to one logit per video.

The paper trains one model per label (Video-GAN has no label input); so does :mod:`cmmnet.training.baselines`.
Videos are ``(B, T, 3, S, S)`` in [-1, 1] at the interfaces (Conv3d wants (B, C, T, H, W) inside).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CmmnetError
from .blocks import down_stack, scaled


@dataclass(frozen=True)
class VideoGANConfig:
    image_size: int = 64  # Vondrick et al. and §4.1: 64x64
    T: int = 32  # Vondrick et al.: 32 frames, as the paper's T
    label: str = "posed"  # the one label this model was trained on
    code_dim: int = 100  # Vondrick et al.'s z is 100-d; here the first frame's code
    noise_dim: int = 0  # extra noise appended to the code (0: the deterministic future generator)
    generator_channels: tuple[int, ...] = (512, 256, 128, 64)  # Vondrick et al., coarse to fine, at width 1.0
    encoder_channels: tuple[int, ...] = (64, 128, 256, 512)
    discriminator_channels: tuple[int, ...] = (64, 128, 256, 512)  # Vondrick et al.
    width: float = 1.0  # multiplier on every hidden channel count
    leaky_slope: float = 0.2


def _check(cfg: VideoGANConfig) -> tuple[int, int]:
    n = 4  # four stride-2 steps in time and space
    if cfg.T % 2**n or cfg.image_size % 2**n:
        raise CmmnetError(f"VideoGAN: T ({cfg.T}) and image_size ({cfg.image_size}) must be multiples of 16")
    if len(cfg.generator_channels) != n or len(cfg.encoder_channels) != n or len(cfg.discriminator_channels) != n:
        raise CmmnetError("VideoGAN: generator, encoder and discriminator need 4 channel counts each")
    return cfg.T // 2**n, cfg.image_size // 2**n


class VideoGANGenerator(nn.Module):
    """G(first frame) -> video (B, T, 3, S, S): two-stream foreground/background generator."""

    def __init__(self, cfg: VideoGANConfig):
        super().__init__()
        t0, s0 = _check(cfg)
        self.cfg = cfg
        slope = cfg.leaky_slope
        e = scaled(cfg.encoder_channels, cfg.width)
        self.encoder = nn.Sequential(*down_stack(3, e, slope), nn.Flatten(), nn.Linear(e[-1] * s0 * s0, cfg.code_dim))
        g = scaled(cfg.generator_channels, cfg.width)
        z = cfg.code_dim + cfg.noise_dim
        fg: list[nn.Module] = [nn.ConvTranspose3d(z, g[0], (t0, s0, s0), 1, 0, bias=False), nn.BatchNorm3d(g[0]),
                               nn.ReLU()]
        bg: list[nn.Module] = [nn.ConvTranspose2d(z, g[0], s0, 1, 0, bias=False), nn.BatchNorm2d(g[0]), nn.ReLU()]
        for a, b in zip(g[:-1], g[1:]):
            fg += [nn.ConvTranspose3d(a, b, 4, 2, 1, bias=False), nn.BatchNorm3d(b), nn.ReLU()]
            bg += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        self.foreground = nn.Sequential(*fg)
        self.background = nn.Sequential(*bg, nn.ConvTranspose2d(g[-1], 3, 4, 2, 1), nn.Tanh())
        self.video_head = nn.Sequential(nn.ConvTranspose3d(g[-1], 3, 4, 2, 1), nn.Tanh())
        self.mask_head = nn.Sequential(nn.ConvTranspose3d(g[-1], 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, first: torch.Tensor, noise: torch.Tensor | None = None,
                return_mask: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``first`` (B, 3, S, S) in [-1, 1] -> video (B, T, 3, S, S) in [-1, 1] (and the mask (B, T, 1, S, S))."""
        code = self.encoder(first)  # (B, code_dim)
        if self.cfg.noise_dim:
            if noise is None:
                noise = torch.randn(len(first), self.cfg.noise_dim, device=first.device, dtype=code.dtype)
            code = torch.cat([code, noise], 1)  # (B, code_dim + noise_dim)
        h = self.foreground(code[:, :, None, None, None])  # (B, 64w, T/2, S/2, S/2)
        f = self.video_head(h)  # (B, 3, T, S, S)
        m = self.mask_head(h)  # (B, 1, T, S, S)
        b = self.background(code[:, :, None, None])[:, :, None]  # (B, 3, 1, S, S)
        video = (m * f + (1 - m) * b).transpose(1, 2)  # (B, T, 3, S, S)
        return (video, m.transpose(1, 2)) if return_mask else video


class VideoGANDiscriminator(nn.Module):
    """D(video) -> (B,) real/fake logits; 3D convolutions (Vondrick et al.)."""

    def __init__(self, cfg: VideoGANConfig):
        super().__init__()
        t0, s0 = _check(cfg)
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(scaled(cfg.discriminator_channels, cfg.width)):
            layers += [nn.Conv3d(c_in, c, 4, 2, 1, bias=i == 0)] + ([nn.BatchNorm3d(c)] if i else [])
            layers.append(nn.LeakyReLU(cfg.leaky_slope))
            c_in = c
        layers.append(nn.Conv3d(c_in, 1, (t0, s0, s0), 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``video`` (B, T, 3, S, S) in [-1, 1] -> logits (B,)."""
        return self.net(video.transpose(1, 2)).flatten()  # (B,)
