"""U-Net generator G of the landmark-sequence-to-video translation block (paper §3.4, §4.1).

``w_t = G(y_t, z_0)``: the neutral face ``z_0`` (3 channels, [-1, 1]) and one landmark image ``y_t`` (1 channel,
[0, 1]) in, the face of frame t (3 channels, tanh, [-1, 1]) out.

Layer for layer as §4.1 (at ``width = 1.0``): an encoder of 6 Conv(4,2,1) with 64, 128, 256, 512, 512, 512
channels, batch norm on all but the first, LeakyReLU on the first five and plain ReLU on the last; a mirrored
decoder of 6 ConvTranspose(4,2,1) with 512, 512, 256, 128, 64, 3 channels, ReLU + batch norm on all but the last,
tanh on the last; skip connections (U-Net) concatenate encoder layer ``6 - i`` to the input of decoder layer
``i + 1``. ``width`` scales every hidden channel count (the shipped default weights use a reduced width to stay
small; see docs/translation.md). The input side must be a multiple of 64 (6 halvings); at 64x64 the bottleneck is
1x1.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import nn

from ..errors import CmmnetError
from ..faces.align import AlignConfig
from ..faces.draw import LandmarkDrawConfig
from .blocks import scaled
from .warp import WarpConfig, tps_warp


@dataclass(frozen=True)
class UNetConfig:
    image_size: int = 64
    face_channels: int = 3  # z_0: the neutral face (RGB)
    landmark_channels: int = 1  # y_t: the landmark image
    out_channels: int = 3
    channels: tuple[int, ...] = (64, 128, 256, 512, 512, 512)  # §4.1, encoder, at width 1.0
    width: float = 1.0  # multiplier on every hidden channel count; the paper is 1.0
    leaky_slope: float = 0.2  # paper silent; pix2pix's value
    dropout: float = 0.0  # on the first three decoder layers (pix2pix); paper silent, off = deterministic
    # What the face channels carry: the neutral face z_0 as the paper has it, or z_0 TPS-warped from its own
    # landmarks onto the frame's (models/warp.py; not in the paper). Callers build it with `face_input_for`.
    face_input: Literal["neutral", "warped"] = "neutral"
    warp: WarpConfig = field(default_factory=WarpConfig)
    # The preprocessing of the training data, which inference repeats: the face alignment (its size follows
    # image_size) and how the landmark images y_t were drawn.
    align: AlignConfig = field(default_factory=AlignConfig)
    draw: LandmarkDrawConfig = field(default_factory=LandmarkDrawConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "align", replace(self.align, size=self.image_size))  # one size, image_size


class UNetGenerator(nn.Module):
    """G(y_t, z_0) -> w_t, §3.4/§4.1."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        n = len(cfg.channels)
        if cfg.image_size % (2**n) != 0:
            raise CmmnetError(f"UNet image_size {cfg.image_size} must be a multiple of {2**n}")
        if cfg.width <= 0:
            raise CmmnetError(f"UNet width must be > 0, got {cfg.width}")
        self.cfg = cfg
        ch = scaled(cfg.channels, cfg.width)
        c_in = cfg.face_channels + cfg.landmark_channels
        self.down = nn.ModuleList()
        for i, c in enumerate(ch):
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.ReLU() if i == n - 1 else nn.LeakyReLU(cfg.leaky_slope))
            self.down.append(nn.Sequential(*layers))
            c_in = c
        self.up = nn.ModuleList()
        for i in range(n):
            # decoder i > 0 sees decoder i-1's output concatenated with encoder layer n-1-i (both ch[n-1-i])
            c_in = ch[-1] if i == 0 else 2 * ch[n - 1 - i]
            if i == n - 1:
                self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, cfg.out_channels, 4, 2, 1), nn.Tanh()))
                continue
            c = ch[n - 2 - i]
            layers = [nn.ConvTranspose2d(c_in, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if cfg.dropout > 0 and i < 3:
                layers.append(nn.Dropout(cfg.dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, landmark_image: torch.Tensor, neutral_face: torch.Tensor) -> torch.Tensor:
        """``landmark_image`` (B, 1, S, S) in [0, 1], ``neutral_face`` (B, 3, S, S) in [-1, 1] -> (B, 3, S, S)."""
        x = torch.cat([neutral_face, landmark_image], dim=1)  # (B, 4, S, S)
        skips = []
        for layer in self.down:
            x = layer(x)  # (B, c_i, S / 2^(i+1), S / 2^(i+1)); last (B, 512w, 1, 1) at S = 64
            skips.append(x)
        x = self.up[0](skips[-1])  # (B, 512w, 2, 2)
        for i in range(1, len(self.up)):
            x = self.up[i](torch.cat([x, skips[-1 - i]], dim=1))  # (B, c, 2^(i+1), 2^(i+1)); last (B, 3, S, S)
        return x

    def face_input_for(self, neutral_face: torch.Tensor, neutral_points: torch.Tensor | None,
                       frame_points: torch.Tensor | None) -> torch.Tensor:
        """What to feed as ``neutral_face`` for frames with landmarks ``frame_points`` (B, 68, 2): the neutral face
        (B, 3, S, S) itself, or, with ``face_input = "warped"``, that face TPS-warped from ``neutral_points``
        (B, 68, 2) onto them."""
        if self.cfg.face_input == "neutral":
            return neutral_face
        if neutral_points is None or frame_points is None:
            raise CmmnetError("this translator warps the neutral face: it needs the neutral and the frame landmarks")
        return tps_warp(neutral_face, neutral_points, frame_points, self.cfg.warp)  # (B, 3, S, S)
