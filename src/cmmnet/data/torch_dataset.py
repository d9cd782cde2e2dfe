"""PyTorch datasets over a :class:`~cmmnet.data.format.SmileDataset`: one item per sequence
(:class:`SequenceDataset`), or one whole batch per key of a batch sampler (the training phases' loaders)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .format import SmileDataset, load_dataset

_CONVERT = {
    # name -> (dtype conversion): images to float in [0, 1] (landmark images) or [-1, 1] (faces)
    "faces": lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32) / 127.5 - 1.0),  # (T, 3, S, S)
    "landmark_images": lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32)).unsqueeze(1),  # (T, 1, S, S)
    "landmarks": lambda a: torch.from_numpy(np.array(a, dtype=np.float32)),  # (T, 68, 2), a writable copy
}


class SequenceDataset(Dataset):
    """Items are dicts of tensors: ``faces`` (T,3,S,S) in [-1,1], ``landmark_images`` (T,1,S,S) in {0,1},
    ``landmarks`` (T,68,2), and ``label``/``subject``/``style`` (scalars). ``fields`` limits what is read."""

    def __init__(self, data: SmileDataset, fields: Sequence[str] = ("landmark_images", "landmarks")):
        self.data = data
        self.fields = tuple(fields)
        self._index = data.index
        self._labels = np.asarray(data.labels)
        self._subjects = np.asarray(data.subjects)
        self._styles = np.asarray(data.styles)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = int(self._index[i])
        item = {name: _CONVERT[name](self.data.arrays[name][j]) for name in self.fields}
        item["label"] = torch.tensor(int(self._labels[i]))
        item["subject"] = torch.tensor(int(self._subjects[i]))
        item["style"] = torch.tensor(int(self._styles[i]))
        return item


def _in_file_order(array: Any, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` read in ascending row order (memory-mapped reads in file order), returned in ``rows``' order."""
    order = np.argsort(rows, kind="stable")
    return np.asarray(array[rows[order]])[np.argsort(order)]


def load_items(data: SmileDataset, rows: np.ndarray, items: np.ndarray, device: torch.device | None = None
               ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``(z_0, y_t, z_t)`` for ``items`` (B, 2) = (position in ``rows``, frame) — faces in [-1, 1], y in [0, 1] —
    and the landmarks ``(p_0, p_t)`` (B, 68, 2) of those two frames (on ``device``, default CPU)."""
    seq = rows[items[:, 0]]
    order = np.argsort(seq, kind="stable")  # memory-mapped reads in file order
    back = np.argsort(order)
    s, t = seq[order], items[order, 1]
    faces, points = data.arrays["faces"], data.arrays["landmarks"]
    z0 = np.asarray(faces[s, 0])[back]  # (B, 3, S, S) uint8
    zt = np.asarray(faces[s, t])[back]  # (B, 3, S, S) uint8
    yt = np.asarray(data.arrays["landmark_images"][s, t])[back]  # (B, S, S) uint8
    p0 = np.asarray(points[s, 0])[back]  # (B, 68, 2) float32
    pt = np.asarray(points[s, t])[back]  # (B, 68, 2)

    def face(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0).to(device)

    def pts(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.float32)).to(device)

    triple = face(z0), torch.from_numpy(yt.astype(np.float32)).unsqueeze(1).to(device), face(zt)
    return triple, (pts(p0), pts(pt))


class _BatchDataset(Dataset):
    """Holds a :class:`SmileDataset` as ``self.data``; pickles as the dataset's path and index, so DataLoader worker
    processes reopen the memory maps instead of receiving copies of the arrays."""

    data: SmileDataset

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "data": (str(self.data.path), self.data.index)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        path, index = state["data"]
        full = load_dataset(path)
        self.__dict__.update(state, data=SmileDataset(full.path, full.meta, full.arrays, index))


class FrameTriples(_BatchDataset):
    """Batches of the translation block's training triples (§3.4): ``dataset[key]`` with ``key.items`` (B, 2) =
    (position in ``rows``, frame) is :func:`load_items` of those pairs, on the CPU."""

    def __init__(self, data: SmileDataset, rows: np.ndarray):
        self.data, self.rows = data, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: Any) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        return load_items(self.data, self.rows, key.items)


class FaceSequences(_BatchDataset):
    """Batches of whole face sequences: ``dataset[key]`` with ``key.items`` (B,) = positions in ``rows`` is
    ``(x, labels, frames)``: ``x`` (B, F, 3, S, S) in [-1, 1] at the frames ``frames(key)`` (F,) (all T when
    ``frames`` is None), ``labels`` (B,) int64."""

    def __init__(self, data: SmileDataset, rows: np.ndarray, frames: Callable[[Any], np.ndarray] | None = None):
        self.data, self.rows, self.frames = data, rows, frames
        self._labels = np.asarray(data.arrays["labels"])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = self.rows[key.items]
        frames = np.arange(self.data.T) if self.frames is None else self.frames(key)  # (F,)
        a = _in_file_order(self.data.arrays["faces"], rows)[:, frames]  # (B, F, 3, S, S) uint8
        x = torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0)
        return x, torch.from_numpy(self._labels[rows]), torch.from_numpy(np.asarray(frames, dtype=np.int64))
