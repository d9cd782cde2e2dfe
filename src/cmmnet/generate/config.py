"""How to run the weights (:class:`GenerateConfig`); imports no torch, so the command line derives its defaults
from it before torch loads. What the weights were trained on (alignment, drawing, T, K, labels) comes from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..faces.detect import DetectorConfig
from ..faces.paste import PasteConfig

Precision = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True)
class GenerateConfig:
    """How to run the weights; what they were trained on (alignment, drawing, T, K, labels) comes from them."""

    landmark_input: Literal["retargeted", "redrawn", "decoded"] = "retargeted"
    precision: Precision = "auto"  # bf16 autocast; auto = bf16 on a GPU or an AMX CPU
    device: str = "auto"  # auto (CUDA when available), cpu, cuda, cuda:N
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    paste: PasteConfig = field(default_factory=PasteConfig)
    point_fit_iterations: int = 6  # ICP iterations of the point fit (from the neutral shape); 0 = the model's
