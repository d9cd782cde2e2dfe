"""Rendering generated landmark motion as video of the input photo (not in the paper; see docs/translation.md).

:class:`WarpRenderer` moves the photo's own pixels at its own resolution along the motion: a fold-free dense warp
field (:mod:`.field`) inside a soft face mask (:mod:`.mask`), plus a painted mouth interior where lips part and
the skin's smile shading (:mod:`.shading`);
:class:`WarpVideo` holds its clips, rendered when read; :mod:`.config` holds its configs. The names below are
imported lazily: :mod:`.config` imports no torch, so the command line can read its defaults before torch loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .config import FieldConfig, MaskConfig, WarpRenderConfig
    from .field import corner_jacobians
    from .renderer import WarpRenderer, WarpVideo

__all__ = ["FieldConfig", "MaskConfig", "WarpRenderConfig", "WarpRenderer", "WarpVideo", "corner_jacobians"]


def __getattr__(name: str) -> Any:
    if name in ("FieldConfig", "MaskConfig", "WarpRenderConfig"):
        from . import config

        return getattr(config, name)
    if name == "corner_jacobians":
        from .field import corner_jacobians

        return corner_jacobians
    if name in ("WarpRenderer", "WarpVideo"):
        from . import renderer

        return getattr(renderer, name)
    raise AttributeError(name)
