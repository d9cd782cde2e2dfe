"""Limits checked by both the library and the command line (kept here so the CLI can check them without importing
torch). docs/reliability.md lists them."""

from __future__ import annotations

import numbers

from .errors import ConfigError

MAX_MODES = 16  # the largest K that `cmmnet generate --modes K` accepts (and at most the weights' trained K)
MAX_PARAMETERS = 1_000_000_000  # a model config asking for more is refused before anything is allocated
# The longest side of photo-sized videos, which bounds memory (docs/reliability.md): the warp renderer's (`--max-side`,
# 0 = the photo's own) and the pasted ones (`--paste`, PasteConfig.max_side).
MAX_VIDEO_SIDE = 1024
MAX_PASTE_SIDE = 1920
SEED_LIMIT = 2**32  # seeds are in [0, 2**32): what numpy's and torch's generators take on every platform


def check_modes_range(k: object, name: str = "--modes") -> int:
    """``k`` as an int in 1..MAX_MODES, else ConfigError (a float such as 2.7 or a bool is refused, not rounded).
    The weights' own K is checked by CMMNet.check_request."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ConfigError(f"{name} {k!r}: must be a whole number between 1 and {MAX_MODES}")
    if not 1 <= int(k) <= MAX_MODES:
        raise ConfigError(f"{name} {k}: must be between 1 and {MAX_MODES}")
    return int(k)


def check_seed(seed: object, name: str = "--seed") -> int:
    """``seed`` as an int in [0, 2**32), else ConfigError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"{name} {seed!r}: must be a whole number between 0 and {SEED_LIMIT - 1}")
    if not 0 <= int(seed) < SEED_LIMIT:
        raise ConfigError(f"{name} {seed}: must be between 0 and {SEED_LIMIT - 1}")
    return int(seed)


def check_positive(value: object, name: str, most: int) -> int:
    """``value`` as an int in 1..most, else ConfigError (sizes and counts given on the command line or in a config)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= most:
        raise ConfigError(f"{name} {value!r}: must be a whole number between 1 and {most}")
    return int(value)


def _arg(check, text: str, name: str, **kw) -> int:
    import argparse

    try:
        return check(int(text, 10), name=name, **kw)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).split(": ", 1)[1]) from e
    except ValueError as e:  # not an integer
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from e


def seed_arg(text: str) -> int:
    """argparse type of every ``--seed``: an int in [0, 2**32)."""
    return _arg(check_seed, text, "--seed")


def modes_arg(text: str) -> int:
    """argparse type of ``--modes``: an int in 1..MAX_MODES."""
    return _arg(check_modes_range, text, "--modes")


def path_arg(text: str):
    """argparse type of every path argument: a non-empty path (``--out ""`` would mean the current folder)."""
    import argparse
    from pathlib import Path

    if not text.strip():
        raise argparse.ArgumentTypeError("empty path; give a file or folder name")
    if "\0" in text:
        raise argparse.ArgumentTypeError("path holds a NUL character")
    return Path(text)
