"""A PyTorch ``Dataset`` over a :class:`~cmmnet.data.format.SmileDataset` split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .format import SmileDataset

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
