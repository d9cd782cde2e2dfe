"""cmmnet: CMM-Net (Wang et al., "Every Smile is Unique: Landmark-Guided Diverse Smile Generation", CVPR 2018).

Heavy submodules are imported lazily so that ``import cmmnet`` and ``cmmnet --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "CmmnetError", "CMMNet", "LandmarkGenerator"]

from .errors import CmmnetError

if TYPE_CHECKING:  # pragma: no cover
    from .generate import CMMNet
    from .models.landmark_generator import LandmarkGenerator


def __getattr__(name: str) -> Any:
    if name == "CMMNet":
        from .generate import CMMNet

        return CMMNet
    if name == "LandmarkGenerator":
        from .models.landmark_generator import LandmarkGenerator

        return LandmarkGenerator
    raise AttributeError(name)
