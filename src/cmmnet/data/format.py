"""The self-describing dataset directory that every training and evaluation stage reads.

Layout of ``DATASET/``::

    dataset.json            format, version, source, creating command, T, image size, names, counts, array specs
    faces.npy               (N, T, 3, S, S) uint8   aligned RGB faces; frame 0 is the neutral face
    landmark_images.npy     (N, T, S, S)    uint8   binary landmark images, values {0, 1}
    landmarks.npy           (N, T, 68, 2)   float32 aligned landmarks (x, y) in pixels of the S x S image
    labels.npy              (N,)            int64   index into label_names
    subjects.npy            (N,)            int64   index into subject_names
    styles.npy              (N,)            int64   index into style_names, -1 where unknown
    splits.npy              (N,)            int8    index into split_names (train, test)

Extra per-sequence arrays may be added (listed in ``dataset.json["arrays"]``). Arrays are read memory-mapped.
The directory is written under a temporary name and renamed when complete, and ``dataset.json`` is written last,
so an interrupted write leaves nothing that :func:`load_dataset` accepts.
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ..io import atomic_dir

FORMAT_NAME = "cmmnet-dataset"
FORMAT_VERSION = 1
SPLIT_NAMES = ("train", "test")
N_LANDMARKS = 68

# name -> (dtype, shape suffix builder given T and S)
REQUIRED_ARRAYS: dict[str, tuple[str, Any]] = {
    "faces": ("uint8", lambda t, s: (t, 3, s, s)),
    "landmark_images": ("uint8", lambda t, s: (t, s, s)),
    "landmarks": ("float32", lambda t, s: (t, N_LANDMARKS, 2)),
    "labels": ("int64", lambda t, s: ()),
    "subjects": ("int64", lambda t, s: ()),
    "styles": ("int64", lambda t, s: ()),
    "splits": ("int8", lambda t, s: ()),
}


def _counts(labels, styles, splits, label_names, style_names) -> dict[str, Any]:
    def named(values, names):
        c = Counter(int(v) for v in values)
        return {(names[k] if 0 <= k < len(names) else "unknown"): n for k, n in sorted(c.items())}

    out: dict[str, Any] = {"total": int(len(labels))}
    out["label"] = named(labels, label_names)
    out["style"] = named(styles, style_names)
    out["split"] = named(splits, SPLIT_NAMES)
    out["split_label"] = {
        SPLIT_NAMES[s]: named(labels[splits == s], label_names) for s in range(len(SPLIT_NAMES))
    }
    return out


def write_dataset(
    path: str | Path,
    arrays: dict[str, np.ndarray],
    *,
    source: str,
    label_names: list[str],
    subject_names: list[str],
    style_names: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    command: str | None = None,
    writer: str = "dataset",
) -> Path:
    """Validate and atomically write a dataset directory; returns its path. ``path`` follows the output rule of
    :func:`cmmnet.io.check_output`; ``writer`` (the command) is named in its marker file."""
    path = Path(path)
    for name in REQUIRED_ARRAYS:
        if name not in arrays:
            raise DatasetError(f"write_dataset: missing array {name!r}")
    n, t = arrays["faces"].shape[:2]
    s = arrays["faces"].shape[-1]
    specs = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if name in REQUIRED_ARRAYS:
            dtype, shape_fn = REQUIRED_ARRAYS[name]
            want = (n, *shape_fn(t, s))
            if arr.shape != want:
                raise DatasetError(f"write_dataset: {name} has shape {arr.shape}, expected {want}")
            if str(arr.dtype) != dtype:
                raise DatasetError(f"write_dataset: {name} has dtype {arr.dtype}, expected {dtype}")
        elif arr.shape[:1] != (n,):
            raise DatasetError(f"write_dataset: extra array {name} must have N={n} rows, has shape {arr.shape}")
        specs[name] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    labels, styles, splits = arrays["labels"], arrays["styles"], arrays["splits"]
    style_names = list(style_names or [])
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "source": source,
        "command": command if command is not None else shlex.join(sys.argv),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "T": int(t),
        "image_size": int(s),
        "n_landmarks": N_LANDMARKS,
        "label_names": list(label_names),
        "style_names": style_names,
        "split_names": list(SPLIT_NAMES),
        "subject_names": list(subject_names),
        "counts": _counts(labels, styles, splits, label_names, style_names),
        "arrays": specs,
        "extra": extra or {},
    }
    with atomic_dir(path, writer) as tmp:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr))
        (tmp / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


@dataclass
class SmileDataset:
    """A loaded dataset: memory-mapped arrays plus the metadata of ``dataset.json``.

    ``subset(split)`` returns a view restricted to one split ("train" / "test") or an index array.
    """

    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(repr=False)
    index: np.ndarray = field(repr=False)

    def _get(self, name: str) -> np.ndarray:
        arr = self.arrays[name]
        if len(self.index) == arr.shape[0] and np.array_equal(self.index, np.arange(arr.shape[0])):
            return arr
        return arr[self.index]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"{self.path}: no array {name!r}; have {sorted(self.arrays)}")
        return self._get(name)

    faces = property(lambda self: self._get("faces"))  # (N, T, 3, S, S) uint8
    landmark_images = property(lambda self: self._get("landmark_images"))  # (N, T, S, S) uint8
    landmarks = property(lambda self: self._get("landmarks"))  # (N, T, 68, 2) float32
    labels = property(lambda self: self._get("labels"))  # (N,) int64
    subjects = property(lambda self: self._get("subjects"))  # (N,) int64
    styles = property(lambda self: self._get("styles"))  # (N,) int64
    splits = property(lambda self: self._get("splits"))  # (N,) int8
    label_names = property(lambda self: list(self.meta["label_names"]))
    style_names = property(lambda self: list(self.meta["style_names"]))
    subject_names = property(lambda self: list(self.meta["subject_names"]))
    T = property(lambda self: int(self.meta["T"]))
    image_size = property(lambda self: int(self.meta["image_size"]))

    def subset(self, which: str | np.ndarray) -> SmileDataset:
        if isinstance(which, str):
            if which not in SPLIT_NAMES:
                raise DatasetError(f"unknown split {which!r}; use one of {list(SPLIT_NAMES)}")
            sel = self.index[self.arrays["splits"][self.index] == SPLIT_NAMES.index(which)]
        else:
            sel = self.index[np.asarray(which)]
        return SmileDataset(self.path, self.meta, self.arrays, sel)

    def label_index(self, label: str) -> int:
        try:
            return self.label_names.index(label)
        except ValueError as e:
            raise DatasetError(f"unknown label {label!r}; this dataset has {self.label_names}") from e


def _inside(path: Path, root: Path) -> Path:
    """``path``, refused when it is a link or otherwise leads outside the dataset folder ``root``."""
    if path.is_symlink() or root.resolve() not in path.resolve().parents:
        raise DatasetError(f"{path}: a link out of the dataset folder; a dataset holds its own files (copy them in)")
    return path


def _check_indices(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Every label, subject, style and split index names an entry of dataset.json (-1 = unknown style)."""
    for name, names_key, low in (("labels", "label_names", 0), ("subjects", "subject_names", 0),
                                 ("styles", "style_names", -1), ("splits", "split_names", 0)):
        names = meta.get(names_key, SPLIT_NAMES if name == "splits" else None)
        if not isinstance(names, list | tuple) or not all(isinstance(x, str) for x in names):
            raise DatasetError(f"{path}/dataset.json: {names_key} is not a list of names; rebuild the dataset")
        arr = arrays[name]
        bad = [int(v) for v in (arr.min(), arr.max()) if not low <= v < len(names)] if len(arr) else []
        if bad:
            raise DatasetError(f"{path}/{name}.npy: index {bad[0]} is not one of the {len(names)} {names_key} "
                               "of dataset.json; the dataset is damaged, rebuild it")
    for key in ("T", "image_size"):
        if not isinstance(meta.get(key), int) or meta[key] < 1:
            raise DatasetError(f"{path}/dataset.json: {key} is {meta.get(key)!r}, not a positive number; rebuild it")


def load_dataset(path: str | Path) -> SmileDataset:
    """Open a dataset directory (memory-mapped); raises :class:`DatasetError` with a clear message if invalid.

    Every file must be inside the folder (no links out of it), arrays are read without pickles, and the index
    arrays must name entries of ``dataset.json``.
    """
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: not a dataset directory; make one with `cmmnet synth` or `cmmnet prepare`")
    meta_path = path / "dataset.json"
    if not meta_path.is_file():
        raise DatasetError(f"{path}: no dataset.json (incomplete or interrupted write?); rebuild the dataset")
    try:
        meta = json.loads(_inside(meta_path, path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{meta_path}: damaged ({e}); rebuild the dataset") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise DatasetError(f"{path}: not a {FORMAT_NAME} directory")
    if meta.get("version") != FORMAT_VERSION:
        raise DatasetError(f"{path}: dataset format version {meta.get('version')}, this cmmnet reads {FORMAT_VERSION}")
    specs = meta.get("arrays", {})
    if not isinstance(specs, dict):
        raise DatasetError(f"{meta_path}: 'arrays' is not a mapping; rebuild the dataset")
    arrays: dict[str, np.ndarray] = {}
    for name, spec in specs.items():
        f = path / f"{name}.npy"
        if not isinstance(name, str) or "/" in name or name.startswith(".") or not isinstance(spec, dict):
            raise DatasetError(f"{meta_path}: bad array entry {name!r}; rebuild the dataset")
        try:
            arr = np.load(_inside(f, path), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DatasetError(f"{f}: missing or damaged ({e}); rebuild the dataset") from e
        if list(arr.shape) != spec.get("shape") or str(arr.dtype) != spec.get("dtype"):
            raise DatasetError(f"{f}: shape {arr.shape}/{arr.dtype} does not match dataset.json; rebuild the dataset")
        arrays[name] = arr
    missing = set(REQUIRED_ARRAYS) - set(arrays)
    if missing:
        raise DatasetError(f"{path}: arrays {sorted(missing)} missing; rebuild the dataset")
    for name, (dtype, _) in REQUIRED_ARRAYS.items():
        if str(arrays[name].dtype) != dtype:
            raise DatasetError(f"{path}/{name}.npy: dtype {arrays[name].dtype}, expected {dtype}; rebuild the dataset")
    n = arrays["labels"].shape[0]
    if any(arrays[name].shape[:1] != (n,) for name in arrays):
        raise DatasetError(f"{path}: arrays of different lengths; rebuild the dataset")
    _check_indices(path, meta, arrays)
    return SmileDataset(path, meta, arrays, np.arange(n))
