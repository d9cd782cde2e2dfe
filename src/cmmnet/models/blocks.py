"""Layer stacks shared by several networks (the DCGAN-style convolutional encoders and decoders of §4.1).

- :func:`down_stack`: Conv(4,2,1) per channel count, batch norm on all but the first, LeakyReLU — the landmark VAE's
  encoder (§4.1), CRA-Net's frame encoder and Video-GAN's image encoder.
- :func:`up_stack`: ConvT(4,1,0) from a 1x1 code to 4x4, then ConvT(4,2,1) per channel count, each with batch norm
  + LeakyReLU — the landmark VAE's and CRA-Net's decoders (the caller appends its own output layer).
"""

from __future__ import annotations

from torch import nn


def scaled(channels: tuple[int, ...], width: float) -> list[int]:
    """Channel counts times ``width``, rounded, at least 1."""
    return [max(1, int(round(c * width))) for c in channels]


def down_stack(in_channels: int, channels: list[int] | tuple[int, ...], slope: float) -> list[nn.Module]:
    """Each ``channels[i]``: Conv(4,2,1) (bias only on the first, which has no batch norm), batch norm, LeakyReLU."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for i, c in enumerate(channels):
        layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0))
        if i > 0:
            layers.append(nn.BatchNorm2d(c))
        layers.append(nn.LeakyReLU(slope, inplace=True))
        c_in = c
    return layers


def up_stack(code_dim: int, channels: list[int] | tuple[int, ...], slope: float) -> list[nn.Module]:
    """A (B, code_dim, 1, 1) code to (B, channels[-1], 4 * 2^(n-1), ...): ConvT(4,1,0) to ``channels[0]`` at 4x4, then
    ConvT(4,2,1) to each next count; batch norm + LeakyReLU after each."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(code_dim, channels[0], 4, 1, 0, bias=False),
                               nn.BatchNorm2d(channels[0]), nn.LeakyReLU(slope, inplace=True)]
    for c_prev, c in zip(channels[:-1], channels[1:]):
        layers += [nn.ConvTranspose2d(c_prev, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c),
                   nn.LeakyReLU(slope, inplace=True)]
    return layers
