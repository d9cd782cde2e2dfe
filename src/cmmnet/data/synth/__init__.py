"""FRL-Smile: neutral-to-smile sequences with posed/spontaneous dynamics and hidden styles, from real photos.

``synthesize(faces_dir, out, per_face=6, seed=0, size=64, people=None)`` writes a dataset;
``render_photo_sequence(faces_dir, person, label, style, seed, T=32)`` renders one sequence in photo pixels.
See docs/frl-smile.md.
"""

from .build import LABEL_NAMES, SynthConfig, find_people, render_photo_sequence, synthesize
from .curves import CurveConfig, sample_curves
from .render import RenderConfig
from .trajectories import STYLE_NAMES, TrajectoryConfig

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
