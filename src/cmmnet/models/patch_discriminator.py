"""Pixel-level (PatchGAN) discriminator D of the translation block (paper §3.4, §4.1).

D sees a 6-channel pair ``[z_0, z_t]`` (neutral face, real frame) or ``[z_0, w_t]`` (neutral face, generated frame)
and gives one real/fake logit per pixel of its coarsest feature map (§3.4: "one label per pixel of the coarsest
feature map, instead of one label per image").

Layer for layer as §4.1 (at ``width = 1.0``): three Conv(4,2,1) and two Conv(4,1,1) with 64, 128, 256, 512, 1
channels; LeakyReLU after all but the last; batch norm on the three middle ones. At 64x64 input the output map is
6x6. The output is a logit: the sigmoid of eq. 5 lives in the loss (``binary_cross_entropy_with_logits``, stable).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CmmnetError
from .blocks import scaled


@dataclass(frozen=True)
class PatchDiscriminatorConfig:
    image_channels: int = 3  # each image of the pair is RGB; D's input has 2 x 3 = 6 channels
    channels: tuple[int, ...] = (64, 128, 256, 512)  # §4.1 hidden layers at width 1.0; the last layer has 1
    width: float = 1.0
    leaky_slope: float = 0.2  # paper silent; pix2pix's value


class PatchDiscriminator(nn.Module):
    """D([z_0, z]) -> (B, 1, h, w) logits, one per patch, §3.4/§4.1."""

    def __init__(self, cfg: PatchDiscriminatorConfig):
        super().__init__()
        if len(cfg.channels) != 4:
            raise CmmnetError(f"PatchDiscriminator needs 4 hidden channel counts (§4.1), got {cfg.channels}")
        if cfg.width <= 0:
            raise CmmnetError(f"PatchDiscriminator width must be > 0, got {cfg.width}")
        self.cfg = cfg
        ch = scaled(cfg.channels, cfg.width)
        strides = (2, 2, 2, 1)
        layers: list[nn.Module] = []
        c_in = 2 * cfg.image_channels
        for i, (c, s) in enumerate(zip(ch, strides)):
            layers.append(nn.Conv2d(c_in, c, 4, s, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(cfg.leaky_slope))
            c_in = c
        layers.append(nn.Conv2d(c_in, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, neutral_face: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """``neutral_face``, ``frame`` (B, 3, S, S) in [-1, 1] -> logits (B, 1, S/8 - 2, S/8 - 2)."""
        return self.net(torch.cat([neutral_face, frame], dim=1))  # (B, 1, 6, 6) at S = 64
