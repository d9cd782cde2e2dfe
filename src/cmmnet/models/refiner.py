"""The refinement network R of the warp renderer: what a warp cannot make (not in the paper; docs/translation.md).

The warp renderer (:mod:`cmmnet.render`) moves the photo's own pixels, so it cannot show what the neutral photo
does not contain: the mouth's inside and teeth when the lips part, eyelids that close, cheek and nasolabial
shading. R paints those on top of the warp, at an aligned face of ``image_size`` px. The design follows two models:
LivePortrait (a warp of the source, then a decoder that repairs it) and First Order Motion Model's occlusion-aware
generator (a mask saying where the warped source can be trusted and where new pixels must be painted).

Inputs: the aligned warped face ``x`` (B, 3, S, S) in [-1, 1] and the frame's landmark image ``y`` (B, 1, S, S) in
[0, 1] (drawn as G's input, :func:`cmmnet.faces.draw_landmarks`). Outputs: a painted face ``r`` (B, 3, S, S)
(tanh, [-1, 1]) and a mask ``m`` (B, 1, S, S) (sigmoid, [0, 1]). The refined face is the blend

    refined = x + m * (r - x)

(:func:`blend`, :meth:`RefinerNet.refine`): where ``m`` is 0 the warp's pixels pass through untouched, where it is
1 R's own pixels replace them (FOMM's inpainting blend: R paints a dark cavity or teeth as they are, not as an
offset from whatever the warp put there). The mask's bias starts negative, so an untrained R leaves the warp
almost alone.

Layers: a small U-Net (3x3 convolutions, LeakyReLU, no normalisation, so inference is the same in train and eval
mode). The input is first folded to half resolution without losing a pixel (space-to-depth, ``PixelUnshuffle(2)``:
4 channels at S become 16 at S/2) and the output unfolded back (sub-pixel convolution, ``PixelShuffle(2)``), so
every convolution runs at S/2 or below: a 128 px frame costs 128 M multiply-adds at the default width (0.61 M
parameters), under 10 ms on one core.
Between them: ``levels`` stride-2 downsamplings with ``width * 2^i`` channels, ``blocks`` residual blocks at the
lowest resolution, nearest upsampling + 3x3 convolutions back up with skip connections, one 3x3 head for the face
(3 x 4 sub-pixel channels) and the mask (1 x 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ..errors import CmmnetError
from ..faces.align import AlignConfig
from ..faces.draw import LandmarkDrawConfig


@dataclass(frozen=True)
class RefinerConfig:
    image_size: int = 128  # side of the aligned face R sees (the training dataset's)
    width: int = 12  # channels at half resolution (after the space-to-depth fold); doubled at each level
    levels: int = 3  # stride-2 downsamplings after the fold (128 px -> 64 -> 8 px at the bottom)
    blocks: int = 2  # residual blocks at the lowest resolution
    leaky_slope: float = 0.2
    mask_bias: float = -3.0  # initial bias of the mask's logit: sigmoid(-3) = 0.05, R starts near the plain warp
    # The preprocessing of the training data, which inference repeats (as UNetConfig): alignment and drawing.
    align: AlignConfig = field(default_factory=AlignConfig)
    draw: LandmarkDrawConfig = field(default_factory=LandmarkDrawConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "align", replace(self.align, size=self.image_size))  # one size, image_size


def _conv(c_in: int, c_out: int, slope: float, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.LeakyReLU(slope, inplace=True))


class _ResBlock(nn.Module):
    def __init__(self, c: int, slope: float):
        super().__init__()
        self.body = nn.Sequential(_conv(c, c, slope), nn.Conv2d(c, c, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def blend(x: torch.Tensor, r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The refined face ``x + m (r - x)``: the warp ``x`` where the mask ``m`` is 0, R's face ``r`` where it is 1."""
    return x + m * (r - x)


class RefinerNet(nn.Module):
    """R(x, y) -> (r, m): the warped face and the landmark image in, a painted face and its blend mask out."""

    def __init__(self, cfg: RefinerConfig):
        super().__init__()
        if cfg.image_size % (2 ** (cfg.levels + 1)) != 0:
            raise CmmnetError(f"refiner image_size {cfg.image_size} must be a multiple of {2 ** (cfg.levels + 1)}")
        self.cfg = cfg
        s, ch = cfg.leaky_slope, [cfg.width * 2**i for i in range(cfg.levels + 1)]
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), _conv(16, ch[0], s), _conv(ch[0], ch[0], s))
        self.down = nn.ModuleList(nn.Sequential(_conv(ch[i], ch[i + 1], s, stride=2), _conv(ch[i + 1], ch[i + 1], s))
                                  for i in range(cfg.levels))
        self.middle = nn.Sequential(*(_ResBlock(ch[-1], s) for _ in range(cfg.blocks)))
        self.up = nn.ModuleList(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv(ch[i + 1], ch[i], s))
                                for i in reversed(range(cfg.levels)))
        self.merge = nn.ModuleList(_conv(2 * ch[i], ch[i], s) for i in reversed(range(cfg.levels)))
        self.face_head = nn.Sequential(nn.Conv2d(ch[0], 3 * 4, 3, 1, 1), nn.PixelShuffle(2))
        self.mask_head = nn.Sequential(nn.Conv2d(ch[0], 1 * 4, 3, 1, 1), nn.PixelShuffle(2))
        nn.init.constant_(self.mask_head[0].bias, cfg.mask_bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.stem(torch.cat([x, y], 1))  # (B, w, S/2, S/2)
        skips = [h]
        for down in self.down:
            h = down(h)  # (B, w 2^i, S / 2^(i+1), S / 2^(i+1))
            skips.append(h)
        h = self.middle(h)  # (B, w 2^L, S / 2^(L+1), S / 2^(L+1))
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = merge(torch.cat([up(h), skip], 1))  # (B, w 2^i, S / 2^(i+1), S / 2^(i+1))
        return torch.tanh(self.face_head(h)), torch.sigmoid(self.mask_head(h))  # (B, 3, S, S), (B, 1, S, S)

    def refine(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(refined, m)``: the blend ``x + m (r - x)`` (B, 3, S, S) in [-1, 1] and the mask (B, 1, S, S)."""
        r, m = self(x, y)
        return blend(x, r, m), m
