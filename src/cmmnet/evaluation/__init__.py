"""Evaluation (paper §4.3): metrics registered by name, the `cmmnet evaluate` report, the user-study kit."""

from . import metrics, smile_ceilings, smile_measures  # noqa: F401  (register their metrics)
from .registry import compute_metric, get_metric, list_metrics, register_metric

__all__ = ["compute_metric", "get_metric", "list_metrics", "register_metric"]
