"""How to run the weights (:class:`GenerateConfig`); imports no torch, so the command line derives its defaults
from it before torch loads. What the weights were trained on (alignment, drawing, T, K, labels) comes from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..faces.detect import DetectorConfig
from ..faces.paste import PasteConfig
from ..render.config import WarpRenderConfig

Precision = Literal["auto", "fp32", "bf16"]
Renderer = Literal["warp", "paper"]


@dataclass(frozen=True)
class GenerateConfig:
    """How to run the weights; what they were trained on (alignment, drawing, T, K, labels) comes from them."""

    landmark_input: Literal["retargeted", "redrawn", "decoded"] = "retargeted"
    precision: Precision = "auto"  # bf16 autocast; auto = bf16 on a GPU or an AMX CPU
    device: str = "auto"  # auto (CUDA when available), cpu, cuda, cuda:N
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    paste: PasteConfig = field(default_factory=PasteConfig)
    # warp: the photo's own pixels moved along the landmarks at the photo's resolution (cmmnet.render, not in the
    # paper); paper: the 64 px U-Net G of §3.4 paints aligned faces (docs/translation.md compares them)
    renderer: Renderer = "warp"
    render: WarpRenderConfig = field(default_factory=WarpRenderConfig)
    max_side: int = 1024  # the warp renderer's videos: the photo, downscaled to this longer side when larger (0: the
    # photo's own size; either way at most cmmnet.limits.MAX_VIDEO_SIDE)
    point_fit_iterations: int = 6  # ICP iterations of the point fit (from the neutral shape); 0 = the model's
