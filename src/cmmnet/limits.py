"""Limits checked by both the library and the command line (kept here so the CLI can check them without importing
torch)."""

from .errors import CmmnetError

MAX_MODES = 16  # the largest K that `cmmnet generate --modes K` accepts (and at most the weights' trained K)


def check_modes_range(k: int) -> None:
    """Raise CmmnetError unless 1 <= k <= MAX_MODES (the weights' own K is checked by CMMNet.check_request)."""
    if not 1 <= k <= MAX_MODES:
        raise CmmnetError(f"--modes {k}: must be between 1 and {MAX_MODES}")
