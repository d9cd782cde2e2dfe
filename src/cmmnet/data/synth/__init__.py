"""FRL-Smile: neutral-to-smile sequences with posed/spontaneous dynamics and hidden styles, from real photos.

``synthesize(faces_dir, out, per_face=6, seed=0, size=64, people=None)`` writes a dataset;
``render_photo_sequence(faces_dir, person, label, style, seed, T=32)`` renders one sequence in photo pixels.
See docs/frl-smile.md.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .build import LABEL_NAMES, SynthConfig, find_people, render_photo_sequence, synthesize
    from .curves import CurveConfig, sample_curves
    from .render import RenderConfig
    from .trajectories import STYLE_NAMES, TrajectoryConfig

_HOME = {"LABEL_NAMES": "build", "SynthConfig": "build", "find_people": "build", "render_photo_sequence": "build",
         "synthesize": "build", "CurveConfig": "curves", "sample_curves": "curves", "RenderConfig": "render",
         "STYLE_NAMES": "trajectories", "TrajectoryConfig": "trajectories"}

__all__ = [
    "LABEL_NAMES",
    "STYLE_NAMES",
    "CurveConfig",
    "RenderConfig",
    "SynthConfig",
    "TrajectoryConfig",
    "find_people",
    "render_photo_sequence",
    "sample_curves",
    "synthesize",
]


def __getattr__(name: str) -> Any:
    """The names above, imported on first use: the warp renderer uses :mod:`.render`'s mouth painting without
    loading the whole synthesis (scipy, the dataset writer)."""
    if name in _HOME:
        from importlib import import_module

        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(name)
