"""Limits checked by both the library and the command line (kept here so the CLI can name them without importing
torch)."""

MAX_MODES = 16  # the largest K that `cmmnet generate --modes K` accepts (and at most the weights' trained K)
