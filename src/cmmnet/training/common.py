"""Old import path of two training helpers, kept for callers outside :mod:`cmmnet.training`: :class:`Run` and
:func:`progress` live in :mod:`cmmnet.training.run`."""

from .run import Run, progress

__all__ = ["Run", "progress"]
