"""Data order of every phase: which items, which frames and which batches, as pure functions of (seed, phase,
epoch[, step]) so that a resumed run sees exactly the batches it would have seen; and the sampler that hands them
to a ``torch.utils.data.DataLoader`` (:meth:`cmmnet.training.run.Run.loader`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Sampler

from ..errors import CmmnetError
from ..runtime import stable_seed
from .distributed import DistContext


def epoch_batches(n: int, batch_size: int, seed: int, phase: str, epoch: int,
                  dist: DistContext | None = None) -> list[np.ndarray]:
    """Shuffled index batches for one epoch, a pure function of (seed, phase, epoch): resume-safe.

    Under DDP each rank takes an equal, disjoint share (``batch_size`` is per rank); the permutation is padded by
    wrapping so every rank runs the same number of steps.
    """
    if n <= 0:
        raise CmmnetError(f"phase {phase}: no training items; check the dataset's train split")
    rng = np.random.default_rng(stable_seed(seed, phase, epoch))
    perm = rng.permutation(n)
    world = dist.world_size if dist else 1
    rank = dist.rank if dist else 0
    if world > 1:
        per = -(-n // world)
        perm = np.resize(perm, per * world)[rank::world]
    return [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]


def distinct_frames(n: int, T: int, k: int, *key: Any) -> np.ndarray:
    """(n, k) frame indices: ``k`` distinct random frames per sequence (all T, in order, when ``k`` is 0 or >= T);
    a pure function of ``key``."""
    if k <= 0 or k >= T:
        return np.broadcast_to(np.arange(T), (n, T)).copy()
    rng = np.random.default_rng(stable_seed(*key))
    return np.argsort(rng.random((n, T)), axis=1)[:, :k]


def first_and_frames(T: int, k: int, *key: Any) -> np.ndarray:
    """Frame 0 and ``k - 1`` other distinct frames in time order (all T when ``k`` is 0 or >= T); pure in ``key``."""
    if k <= 0 or k >= T:
        return np.arange(T)
    rng = np.random.default_rng(stable_seed(*key))
    return np.concatenate([[0], np.sort(rng.choice(np.arange(1, T), size=max(1, k - 1), replace=False))])


def frame_items(n_seq: int, T: int, frames_per_sequence: int, *key: Any) -> np.ndarray:
    """The (sequence, frame) pairs of one epoch, (M, 2) int64: all T frames of every sequence, or a fresh draw of
    ``frames_per_sequence`` distinct frames per sequence (:func:`distinct_frames` with ``key``)."""
    t = distinct_frames(n_seq, T, frames_per_sequence, *key)  # (n_seq, f)
    seq = np.repeat(np.arange(n_seq), t.shape[1])
    return np.stack([seq, t.ravel()], axis=1)


class BatchKey(NamedTuple):
    """What a dataset needs to build one batch: the epoch and step (for per-step draws) and the batch's items."""

    epoch: int
    step: int
    items: np.ndarray  # (B,) positions or (B, 2) (position, frame) pairs


class EpochBatches(Sampler[BatchKey]):
    """A DataLoader sampler yielding one :class:`BatchKey` per step: ``items(epoch)`` cut into the batches of
    :func:`epoch_batches` (this rank's share under DDP). Call :meth:`set_epoch` before each epoch."""

    def __init__(self, items: Callable[[int], np.ndarray], batch_size: int, seed: int, phase: str,
                 dist: DistContext | None = None):
        self.items, self.batch_size, self.seed, self.phase, self.dist = items, batch_size, seed, phase, dist
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[np.ndarray]:
        items = self.items(self.epoch)
        idx = epoch_batches(len(items), self.batch_size, self.seed, self.phase, self.epoch, self.dist)
        return [items[i] for i in idx]

    def __iter__(self) -> Iterator[BatchKey]:
        for step, items in enumerate(self.batches()):
            yield BatchKey(self.epoch, step, items)

    def __len__(self) -> int:
        return len(self.batches())


def to_device(batch: Any, device: torch.device) -> Any:
    """Tensors of a (nested tuple) batch moved to ``device`` (non-blocking from pinned memory)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    return type(batch)(to_device(b, device) for b in batch)
