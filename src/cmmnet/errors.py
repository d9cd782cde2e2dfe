"""User-facing errors.

Library code raises :class:`CmmnetError` (or a subclass) for anything the user can fix: a missing file, an
image without a face, an unknown label, a checkpoint of another architecture. The CLI turns it into one line
on stderr and exit code 2. Library code never calls ``exit()``.
"""

from __future__ import annotations


class CmmnetError(Exception):
    """A problem with the user's input; the message names the problem and what to do."""


class InputFileError(CmmnetError):
    """An input file is missing, unreadable or not what was expected."""


class NoFaceError(CmmnetError):
    """No face was found in an image."""


class CheckpointError(CmmnetError):
    """Weights are missing, damaged, or of another architecture."""


class DatasetError(CmmnetError):
    """A dataset directory is missing, incomplete or of an unknown format."""


class OutputError(CmmnetError):
    """An output path cannot be written: it holds data cmmnet did not write, or its folder is not writable."""


class ConfigError(CmmnetError):
    """A configuration or argument value is out of range or of the wrong type."""
