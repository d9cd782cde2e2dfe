"""Inference: the whole of CMM-Net from one neutral photo and a label to K + 1 smile videos.

- :mod:`.pipeline`: :class:`CMMNet` (weights -> landmark sequences -> frames), :class:`GenerationResult`, the one
  batched landmark path (:meth:`CMMNet.landmark_batch`);
- :mod:`.config`: :class:`GenerateConfig` (how to run the weights);
- :mod:`.front_end`: :class:`FaceFrontEnd`, the face detection started in a forked process;
- :mod:`.timing`: :class:`TimingConfig`, the timing step (intensity, length, frame rate, ending of the clips);
- :mod:`.outputs`: :class:`OutputConfig` and :func:`write_generation` (videos, landmarks, sheet, meta.json).

The names below are imported lazily: :mod:`.config`, :mod:`.front_end` and :mod:`.outputs` import no torch, so the
command line can start the face front end before torch loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..faces import AlignConfig
    from ..limits import MAX_MODES
    from .config import GenerateConfig
    from .front_end import FaceFrontEnd
    from .outputs import OutputConfig, write_generation
    from .pipeline import (
        LANDMARK_DIR,
        TRANSLATOR_DIR,
        CMMNet,
        GenerationResult,
        LandmarkBatch,
        default_weights_dir,
        fold_batch_norm,
    )
    from .timing import TimingConfig

__all__ = ["AlignConfig", "CMMNet", "FaceFrontEnd", "GenerateConfig", "GenerationResult", "LANDMARK_DIR",
           "LandmarkBatch", "MAX_MODES", "OutputConfig", "TRANSLATOR_DIR", "TimingConfig", "default_weights_dir",
           "fold_batch_norm", "write_generation"]


def __getattr__(name: str) -> Any:
    if name == "AlignConfig":
        from ..faces import AlignConfig

        return AlignConfig
    if name == "MAX_MODES":
        from ..limits import MAX_MODES

        return MAX_MODES
    if name == "GenerateConfig":
        from .config import GenerateConfig

        return GenerateConfig
    if name == "FaceFrontEnd":
        from .front_end import FaceFrontEnd

        return FaceFrontEnd
    if name == "TimingConfig":
        from .timing import TimingConfig

        return TimingConfig
    if name in ("OutputConfig", "write_generation"):
        from . import outputs

        return getattr(outputs, name)
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
