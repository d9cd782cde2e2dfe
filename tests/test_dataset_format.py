"""The dataset directory format: exact round trip, validation, and atomicity under a hard kill."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import numpy as np
import pytest

from _procs import kill_at_marker
from cmmnet.data import load_dataset, write_dataset
from cmmnet.data.torch_dataset import SequenceDataset
from cmmnet.errors import DatasetError

N, T, S = 6, 4, 8


def tiny_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "faces": rng.integers(0, 256, (N, T, 3, S, S), dtype=np.uint8),
        "landmark_images": rng.integers(0, 2, (N, T, S, S), dtype=np.uint8),
        "landmarks": rng.normal(4, 2, (N, T, 68, 2)).astype(np.float32),
        "labels": np.array([0, 1, 0, 1, 0, 1], dtype=np.int64),
        "subjects": np.array([0, 0, 1, 1, 2, 2], dtype=np.int64),
        "styles": np.array([0, 1, 2, -1, 0, 1], dtype=np.int64),
        "splits": np.array([0, 0, 0, 0, 1, 1], dtype=np.int8),
        "intensity": rng.random((N, T, 3)).astype(np.float32),  # an extra per-sequence array
    }


def write_tiny(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    arrays = tiny_arrays(seed)
    write_dataset(
        path,
        arrays,
        source="test",
        label_names=["spontaneous", "posed"],
        subject_names=["a", "b", "c"],
        style_names=["mouth_open", "mouth_closed", "eyes_closed"],
        extra={"seed": seed},
        command="test",
    )
    return arrays


def test_round_trip_identical(tmp_path):
    arrays = write_tiny(tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == N and ds.T == T and ds.image_size == S
    for name, arr in arrays.items():
        got = ds[name]
        assert got.dtype == arr.dtype and got.shape == arr.shape, name
        np.testing.assert_array_equal(got, arr, err_msg=name)
    assert ds.label_names == ["spontaneous", "posed"]
    assert ds.style_names == ["mouth_open", "mouth_closed", "eyes_closed"]
    assert ds.subject_names == ["a", "b", "c"]
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert meta["counts"]["label"] == {"spontaneous": 3, "posed": 3}
    assert meta["counts"]["style"] == {"unknown": 1, "mouth_open": 2, "mouth_closed": 2, "eyes_closed": 1}
    assert meta["counts"]["split"] == {"train": 4, "test": 2}
    assert meta["extra"] == {"seed": 0}
    test = ds.subset("test")
    np.testing.assert_array_equal(test.landmarks, arrays["landmarks"][4:])
    assert set(test.subjects.tolist()) == {2}
    item = SequenceDataset(test, fields=("faces", "landmark_images", "landmarks"))[1]
    assert item["faces"].shape == (T, 3, S, S) and float(item["faces"].min()) >= -1.0
    assert item["landmark_images"].shape == (T, 1, S, S)
    assert int(item["label"]) == 1 and int(item["subject"]) == 2 and int(item["style"]) == 1


def test_write_validates(tmp_path):
    arrays = tiny_arrays()
    bad = dict(arrays, landmarks=arrays["landmarks"].astype(np.float64))
    with pytest.raises(DatasetError, match="dtype"):
        write_dataset(tmp_path / "x", bad, source="t", label_names=["a", "b"], subject_names=["s"] * 3)
    del bad["labels"]
    with pytest.raises(DatasetError, match="labels"):
        write_dataset(tmp_path / "x", bad, source="t", label_names=["a", "b"], subject_names=["s"] * 3)
    assert not (tmp_path / "x").exists()


def test_load_rejects_damage(tmp_path):
    with pytest.raises(DatasetError, match="not a dataset directory"):
        load_dataset(tmp_path / "missing")
    write_tiny(tmp_path / "ds")
    (tmp_path / "ds" / "landmarks.npy").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="landmarks.npy"):
        load_dataset(tmp_path / "ds")
    write_tiny(tmp_path / "ds2")
    (tmp_path / "ds2" / "dataset.json").write_text("{")
    with pytest.raises(DatasetError, match="damaged"):
        load_dataset(tmp_path / "ds2")


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, {tests!r})
    import test_dataset_format as t
    real_save = np.save
    def slow_save(file, arr, *a, **k):
        real_save(file, arr, *a, **k)
        if Path(file).name == "faces.npy":  # half-way: first array on disk, the rest not yet
            Path({marker!r}).write_text("x")
            time.sleep(60)
    np.save = slow_save
    t.write_tiny(Path({out!r}), seed=1)
    """
)


def _write_and_kill(tmp_path: Path, out: Path) -> None:
    marker = tmp_path / "halfway"
    code = _KILLED_WRITER.format(tests=str(Path(__file__).parent), marker=str(marker), out=str(out))
    assert kill_at_marker(code, marker, 60, env=dict(os.environ, PYTHONHASHSEED="0")) == -signal.SIGKILL


def test_killed_write_leaves_nothing_loadable(tmp_path):
    out = tmp_path / "ds"
    _write_and_kill(tmp_path, out)
    with pytest.raises(DatasetError):
        load_dataset(out)
    assert not out.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]
    assert leftovers, "the partial write should be a hidden temporary directory"
    for p in leftovers:
        with pytest.raises(DatasetError):
            load_dataset(p)


def test_killed_overwrite_keeps_old_dataset(tmp_path):
    out = tmp_path / "ds"
    old = write_tiny(out, seed=0)
    _write_and_kill(tmp_path, out)
    ds = load_dataset(out)
    np.testing.assert_array_equal(ds.faces, old["faces"])


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc (writable by os.access, not really)")
def test_atomic_writes_in_an_unwritable_place_fail_cleanly():
    from cmmnet.errors import CmmnetError
    from cmmnet.io import atomic_dir, atomic_path

    with pytest.raises(CmmnetError, match="cannot write there|not writable"):
        with atomic_dir(Path("/proc/cmmnet-out")):
            pass
    with pytest.raises(CmmnetError, match="cannot write there|not writable"):
        with atomic_path(Path("/proc/cmmnet-out.json")):
            pass
