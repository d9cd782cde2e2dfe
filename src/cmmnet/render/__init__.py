"""Rendering generated landmark motion as video of the input photo (not in the paper; see docs/translation.md).

:class:`WarpRenderer` moves the photo's own pixels at its own resolution along the motion: a fold-free dense warp
field (:mod:`.field`) inside a soft face mask (:mod:`.mask`), plus a painted mouth interior where lips part.
"""

from .field import FieldConfig, corner_jacobians
from .mask import MaskConfig
from .renderer import WarpRenderConfig, WarpRenderer

__all__ = ["FieldConfig", "MaskConfig", "WarpRenderConfig", "WarpRenderer", "corner_jacobians"]
