"""Train/test splits of paper §4.1: UvA-NEMO's 10 subject-disjoint folds (9 train, the 10th test) and, for
DISFA / DISFA+ (and plain folders), two thirds of the videos for training, seeded, subject-disjoint where
possible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import CmmnetError
from ..format import SPLIT_NAMES

TRAIN, TEST = SPLIT_NAMES.index("train"), SPLIT_NAMES.index("test")


def subject_folds(subjects: list[str], n_folds: int, seed: int) -> np.ndarray:
    """Fold number 1..n_folds per video, subject-disjoint, balanced by video count (seeded greedy: subjects in a
    seeded order, largest first, each to the fold with the fewest videos so far)."""
    names, counts = np.unique(np.asarray(subjects, dtype=object), return_counts=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(n_folds, dtype=np.int64)
    fold_of: dict[str, int] = {}
    for i in order:
        f = int(np.argmin(load))
        fold_of[names[i]] = f + 1
        load[f] += counts[i]
    return np.array([fold_of[s] for s in subjects], dtype=np.int8)


def two_thirds_split(subjects: list[str], seed: int, train_fraction: float = 2 / 3) -> tuple[np.ndarray, bool]:
    """Split per video (train/test index), about ``train_fraction`` of the videos for training.

    Subject-disjoint when there are at least two subjects: subjects in a seeded order go to test until test holds
    about 1 - train_fraction of the videos. With one subject the videos themselves are split (seeded); the second
    return value says whether the split is subject-disjoint.
    """
    n = len(subjects)
    out = np.full(n, TRAIN, dtype=np.int8)
    if n < 2:
        return out, True
    rng = np.random.default_rng(seed)
    names = sorted(set(subjects))
    if len(names) < 2:
        test = rng.permutation(n)[: max(1, round(n * (1 - train_fraction)))]
        out[test] = TEST
        return out, False
    target = max(1, round(n * (1 - train_fraction)))
    subj = np.asarray(subjects, dtype=object)
    n_test = 0
    for i in rng.permutation(len(names)):
        k = int((subj == names[i]).sum())
        if n_test > 0 and abs(n_test + k - target) >= abs(n_test - target):
            continue
        out[subj == names[i]] = TEST
        n_test += k
        if n_test >= target:
            break
    if (out == TEST).all():  # one subject holds (nearly) everything: keep at least one subject for training
        out[subj == names[int(rng.integers(len(names)))]] = TRAIN
    return out, True


def read_folds(folds_dir: Path, fold: int) -> dict[str, str]:
    """``FOLDS/K/{train,test}.json`` (video name -> label) -> {video stem: "train" | "test"} for test fold K."""
    k_dir = folds_dir / str(fold)
    out: dict[str, str] = {}
    for split in ("train", "test"):
        f = k_dir / f"{split}.json"
        if not f.is_file():
            raise CmmnetError(f"--folds {folds_dir}: {f} missing; expected {{1..10}}/{{train,test}}.json mapping "
                              "video name -> label")
        try:
            d = json.loads(f.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CmmnetError(f"{f}: not a JSON object ({e}); expected {{video name: label}}") from e
        if not isinstance(d, dict):
            raise CmmnetError(f"{f}: not a JSON object; expected {{video name: label}}")
        for name in d:
            out[Path(str(name)).stem] = split
    return out
