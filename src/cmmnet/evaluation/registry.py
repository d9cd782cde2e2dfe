"""A registry of evaluation metrics: small functions returning ``dict[str, float]``, looked up by name.

As stylegan3's ``metrics/``: each metric is one function, registered with :func:`register_metric` under a short name;
the evaluator calls them by name, so the report lists exactly what was computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import CmmnetError

MetricFn = Callable[..., dict[str, Any]]
_METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register ``fn`` as metric ``name`` (names are unique)."""

    def deco(fn: MetricFn) -> MetricFn:
        if name in _METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        _METRICS[name] = fn
        return fn

    return deco


def list_metrics() -> list[str]:
    return sorted(_METRICS)


def get_metric(name: str) -> MetricFn:
    try:
        return _METRICS[name]
    except KeyError as e:
        raise CmmnetError(f"unknown metric {name!r}; known metrics: {', '.join(list_metrics())}") from e


def compute_metric(name: str, **inputs: Any) -> dict[str, Any]:
    """Run metric ``name`` on keyword inputs; returns its dict."""
    return get_metric(name)(**inputs)
