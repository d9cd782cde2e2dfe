"""The predictability bounds of a person's smile from their neutral face, on people whose smiles are built to be
predictable in a known way (each predictor reaches 0 on the people it can predict, and the others do not)."""

from __future__ import annotations

import numpy as np
import pytest

from cmmnet.evaluation.registry import get_metric
from cmmnet.evaluation.smile_ceilings import smile_predictability
from cmmnet.evaluation.smile_measures import canonical
from test_smile_measures import _face, _similarity

EYES = slice(36, 48)


def _people(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 68, 2) canonical neutral shapes: the schematic face moved along five random directions of its non-eye
    points (the eye points stay, so the shapes stay canonical)."""
    base = canonical(_face())
    directions = rng.normal(0, 0.05 / np.sqrt(68), (5, 68, 2))
    directions[:, EYES] = 0
    shapes = base + np.einsum("nc,cpd->npd", rng.normal(size=(n, 5)), directions)
    return shapes


def _moved(shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same shape at a random position, angle and scale (the measures are similarity-invariant)."""
    return _similarity(shape, rng.uniform(-0.3, 0.3), rng.uniform(10, 40), tuple(rng.uniform(0, 100, 2)))


def _smiles(neutral: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    n = len(neutral)
    if kind == "same":  # everyone smiles the same way
        disp = np.broadcast_to(rng.normal(0, 0.03, (68, 2)), (n, 68, 2)).copy()
    elif kind == "linear":  # the smile is a linear function of the neutral shape
        a = rng.normal(0, 1.0, (136, 136)) / np.sqrt(136)
        disp = ((neutral - neutral.mean(0)).reshape(n, -1) @ a).reshape(n, 68, 2)
    else:  # one of three ways of smiling, whatever the face
        styles = rng.normal(0, 0.05, (3, 68, 2))
        disp = styles[np.arange(n) % 3]
    disp[:, EYES] = 0
    return neutral + disp


@pytest.mark.parametrize("kind, zero", [("same", ("typical_smile", "ridge_smile", "best_of_centroids")),
                                        ("linear", ("ridge_smile",)), ("styles", ("best_of_centroids",))])
def test_each_predictor_reaches_the_smiles_it_can_predict(kind, zero):
    rng = np.random.default_rng(0)
    neutral = _people(100, rng)
    smile = _smiles(neutral, kind, rng)
    moved = np.stack([_moved(p, rng) for p in neutral]), np.stack([_moved(p, rng) for p in smile])
    out = smile_predictability(moved[0][:80], moved[1][:80], moved[0][80:], moved[1][80:], modes=3, seed=0)
    for key in ("typical_smile", "ridge_smile", "best_of_centroids"):
        if key in zero:
            assert out[key] < 1e-3, (key, out)
        else:
            assert out[key] > 0.01, (key, out)
    assert out["centroids"] == 4 and out["ridge_penalty"] > 0


def test_registered_and_a_pure_function_of_the_seed():
    rng = np.random.default_rng(1)
    neutral = _people(30, rng)
    smile = _smiles(neutral, "styles", rng)
    args = (neutral[:20], smile[:20], neutral[20:], smile[20:])
    assert get_metric("smile_predictability") is smile_predictability
    assert smile_predictability(*args, seed=3) == smile_predictability(*args, seed=3)
