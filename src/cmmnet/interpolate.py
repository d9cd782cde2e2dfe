"""Monotone cubic interpolation (PCHIP, Fritsch & Carlson 1980) in numpy, equal to scipy's PchipInterpolator.

Used by the timing step (resampling generated sequences in time) and by the mouth painting of the renderers: both are
on the path of `cmmnet generate`, which should not pay for importing ``scipy.interpolate``.
"""

from __future__ import annotations

import numpy as np


def _edge_slope(h0: np.ndarray, h1: np.ndarray, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """The shape-preserving three-point slope at an end (scipy's rule)."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    d = np.where(np.sign(d) != np.sign(m0), 0.0, d)
    return np.where((np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0)), 3.0 * m0, d)


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Slopes (n, ...) at the knots ``x`` (strictly increasing along its first axis: (n,), or (n, ...) as ``y``, one
    set of knots per curve) of the values ``y`` (n, ...): the weighted harmonic mean of the neighbouring secants, 0
    where the secants change sign or one is flat."""
    h = np.diff(x, axis=0)
    h = h.reshape((-1,) + (1,) * (y.ndim - 1)) if x.ndim == 1 else h  # (n-1, 1 or ..., ...)
    m = np.diff(y, axis=0) / h  # (n-1, ...) secants
    d = np.empty_like(m, shape=y.shape)
    if len(m) == 1:
        d[:] = m[0]
        return d
    a, b = m[:-1], m[1:]
    flat_or_turn = (np.sign(a) != np.sign(b)) | (a == 0) | (b == 0)
    w1, w2 = 2.0 * h[1:] + h[:-1], h[1:] + 2.0 * h[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (w1 / a + w2 / b) / (w1 + w2)
        d[1:-1] = np.where(flat_or_turn, 0.0, 1.0 / mean)
    d[0] = _edge_slope(h[0], h[1], m[0], m[1])
    d[-1] = _edge_slope(h[-1], h[-2], m[-1], m[-2])
    return d


def pchip(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """The PCHIP curve through ``(x, y)`` (x (n,) strictly increasing, n >= 2; y (n, ...)) at ``xq`` (q,), clamped
    to ``[x[0], x[-1]]`` -> (q, ...) float64."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = pchip_slopes(x, y)
    xq = np.clip(np.asarray(xq, dtype=np.float64), x[0], x[-1])
    k = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, len(x) - 2)  # (q,) interval of each query
    h = (x[k + 1] - x[k]).reshape((-1,) + (1,) * (y.ndim - 1))
    s = (xq - x[k]).reshape(h.shape) / h  # (q, 1, ...) position inside the interval
    s2, s3 = s * s, s * s * s
    return ((2 * s3 - 3 * s2 + 1) * y[k] + (s3 - 2 * s2 + s) * h * d[k] + (-2 * s3 + 3 * s2) * y[k + 1]
            + (s3 - s2) * h * d[k + 1])


def pchip_curves(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Many PCHIP curves at once, each through its own knots: ``x``, ``y`` (n, T) (each column strictly increasing
    in ``x``) at ``xq`` (q,) inside every column's range -> (q, T) float64."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = pchip_slopes(x, y)  # (n, T)
    xq = np.asarray(xq, dtype=np.float64)
    k = np.clip((x[None] <= xq[:, None, None]).sum(1) - 1, 0, len(x) - 2)  # (q, T) interval of each query
    x0, x1, y0, y1 = (np.take_along_axis(a, k, 0) for a in (x[:-1], x[1:], y[:-1], y[1:]))
    d0, d1 = np.take_along_axis(d[:-1], k, 0), np.take_along_axis(d[1:], k, 0)
    h = x1 - x0
    s = np.clip((xq[:, None] - x0) / h, 0.0, 1.0)  # (q, T) position inside the interval
    s2, s3 = s * s, s * s * s
    return (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * h * d0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * h * d1
