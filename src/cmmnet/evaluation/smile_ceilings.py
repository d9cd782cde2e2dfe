"""How close can any generator get to a person's real smile from their neutral face alone?

The generation measures (:mod:`cmmnet.evaluation.smile_measures`) compare a generated apex with the person's real
smiling photo. A generator sees only the neutral face and a label, so its conditional row is at best the smile
that the neutral face predicts, and its K + 1 rows at best K + 1 fixed ways of smiling. These are the same bounds
for plain predictors fitted on the train people's photos (canonical shapes, inter-ocular distances as everywhere):

- ``typical_smile``: neutral + the train people's mean displacement (the generation report's baseline);
- ``ridge_smile``: neutral + the mean + a ridge regression of the displacement on the neutral shape, its penalty
  chosen by leave-one-out error over the train people; when it is no closer than the typical smile,
  the neutral shape carries nothing a conditional row could use to beat the typical smile;
- ``best_of_centroids``: the closest of K + 1 fixed displacements (the mean and K k-means centroids of the train
  displacements): what a best-of-(K + 1) measure reaches with K + 1 smiles that ignore the person.

Medians over the test people, as :func:`cmmnet.evaluation.smile_measures.summarize`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import register_metric
from .smile_measures import canonical, rms

RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression of y (N, P) on x (N, F) with an unpenalised intercept: (x mean, y mean, weights (F, P)),
    solved in the dual (N is below F here)."""
    xm, ym = x.mean(0), y.mean(0)
    xc = x - xm  # (N, F)
    return xm, ym, xc.T @ np.linalg.solve(xc @ xc.T + lam * np.eye(len(x)), y - ym)


def _loo_ridge(x: np.ndarray, y: np.ndarray, ridges: tuple[float, ...]) -> float:
    """The penalty of ``ridges`` with the smallest leave-one-out squared error of y (N, P) on x (N, F)."""
    errors = []
    for lam in ridges:
        err = 0.0
        for i in range(len(x)):
            keep = np.arange(len(x)) != i
            xm, ym, w = _ridge(x[keep], y[keep], lam)
            err += float((((x[i] - xm) @ w + ym - y[i]) ** 2).sum())
        errors.append(err)
    return ridges[int(np.argmin(errors))]


def _kmeans(x: np.ndarray, k: int, seed: int, restarts: int = 20, iterations: int = 50) -> np.ndarray:
    """K centroids (k, P) of x (N, P): Lloyd's iterations from k-means++ starts, the lowest inertia of
    ``restarts``; a pure function of ``seed``."""
    rng = np.random.default_rng(seed)
    best, best_inertia = x[:k], np.inf
    for _ in range(restarts):
        centres = x[[rng.integers(len(x))]]  # (1, P)
        while len(centres) < k:
            d2 = ((x[:, None] - centres[None]) ** 2).sum(-1).min(1)  # (N,)
            p = d2 / d2.sum() if d2.sum() > 0 else np.full(len(x), 1 / len(x))
            centres = np.concatenate([centres, x[[rng.choice(len(x), p=p)]]])
        for _ in range(iterations):
            assign = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)  # (N,)
            centres = np.stack([x[assign == j].mean(0) if (assign == j).any() else centres[j] for j in range(k)])
        inertia = float(((x - centres[assign]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    return best


@register_metric("smile_predictability")
def smile_predictability(train_neutral: np.ndarray, train_smile: np.ndarray, test_neutral: np.ndarray,
                         test_smile: np.ndarray, modes: int = 3, seed: int = 0,
                         ridges: tuple[float, ...] = RIDGES) -> dict[str, Any]:
    """Distances (median over test people, IOD) from the real smiles (N, 68, 2) of ``test_*`` to the predictions
    of predictors fitted on ``train_*`` (module docstring), with the chosen ridge penalty."""
    n0, n1 = canonical(np.asarray(train_neutral, np.float64)), canonical(np.asarray(train_smile, np.float64))
    t0, t1 = canonical(np.asarray(test_neutral, np.float64)), canonical(np.asarray(test_smile, np.float64))
    disp = (n1 - n0).reshape(len(n0), -1)  # (N, 136)
    mean = disp.mean(0)  # (136,)
    x = n0.reshape(len(n0), -1)  # (N, 136) neutral shapes
    lam = _loo_ridge(x, disp, ridges)
    xm, _, weights = _ridge(x, disp, lam)  # weights (136, 136)
    ridge_pred = t0 + (mean + (t0.reshape(len(t0), -1) - xm) @ weights).reshape(-1, 68, 2)  # (M, 68, 2)
    centres = np.concatenate([mean[None], _kmeans(disp, modes, seed)]).reshape(-1, 68, 2)  # (K+1, 68, 2)
    fixed = np.stack([rms(t0 + c, t1) for c in centres])  # (K+1, M)
    return {"typical_smile": float(np.median(rms(t0 + mean.reshape(68, 2), t1))),
            "ridge_smile": float(np.median(rms(ridge_pred, t1))), "ridge_penalty": lam,
            "best_of_centroids": float(np.median(fixed.min(0))), "centroids": len(centres)}
