"""`cmmnet augment`: a folder tree of photos -> smile videos + manifest; a photo without a face is skipped, an
interrupted run resumes without redoing finished items, and two shards merged equal one run. Tiny weights
(tests/test_generate.py's make_weights); the pipeline, dlib and the H.264 files are the real ones."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cmmnet.augment import FIELDS, Shard, parse_shard, read_manifest, shard_from_env
from cmmnet.cli import main
from cmmnet.errors import CmmnetError
from test_generate import make_weights

PEOPLE = ("001", "003")


@pytest.fixture(scope="module")
def weights(tmp_path_factory, frl_dir) -> Path:
    from cmmnet.faces import FaceDetector
    from cmmnet.faces.pipeline import process_image

    det = FaceDetector()
    pts = [process_image(frl_dir / f"{p}_{k}.jpg", detector=det).aligned.landmarks
           for p in PEOPLE for k in ("03", "08")]
    return make_weights(tmp_path_factory.mktemp("w") / "run", np.stack(pts * 3).astype(np.float32), modes=1)


@pytest.fixture(scope="module")
def images(tmp_path_factory, frl_dir) -> Path:
    """x/001_03.jpg, y/003_03.jpg and y/wall.png (no face)."""
    root = tmp_path_factory.mktemp("photos")
    for sub, person in zip("xy", PEOPLE):
        (root / sub).mkdir()
        shutil.copy(frl_dir / f"{person}_03.jpg", root / sub)
    Image.new("RGB", (160, 120), (180, 170, 150)).save(root / "y" / "wall.png")
    return root


def augment(images: Path, out: Path, weights: Path, *extra: str) -> int:
    return main(["augment", "--images", str(images), "--out", str(out), "--weights", str(weights), "--modes", "1",
                 "--workers", "1", *extra])


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, images, weights) -> Path:
    out = tmp_path_factory.mktemp("full") / "out"
    assert augment(images, out, weights) == 0
    return out


def test_manifest_rows_files_and_skipped_photo(full_run):
    rows = read_manifest(full_run / "manifest.jsonl")
    videos = [r for r in rows if r["skipped"] is None]
    assert len(videos) == len(PEOPLE) * 2 * 2  # people x 2 labels x (K + 1) videos
    assert {(r["source"], r["label"], r["mode"]) for r in videos} == {
        (f"{sub}/{p}_03.jpg", label, mode) for sub, p in zip("xy", PEOPLE) for label in ("posed", "spontaneous")
        for mode in ("conditional", "mode_1")}
    skipped = [r for r in rows if r["skipped"] is not None]
    assert [r["source"] for r in skipped] == ["y/wall.png"] and "no face" in skipped[0]["skipped"]
    assert str(full_run) not in skipped[0]["skipped"]  # no machine-specific path in the manifest
    from cmmnet.augment.manifest import file_sha256
    from cmmnet.video import video_info

    for r in videos:
        assert file_sha256(full_run / r["video"]) == r["sha256"] and video_info(full_run / r["video"])["frames"] > 0
        pts = np.load(full_run / r["landmarks"])
        assert pts.shape[0] == 2 and pts.shape[2:] == (68, 2)
    import csv

    with open(full_run / "manifest.csv") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == FIELDS and len(table) == len(rows)
    assert [t["video"] for t in table] == [r["video"] or "" for r in rows]


def test_killed_run_resumes_without_redoing_and_equals_uninterrupted(tmp_path, images, weights, full_run):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cmmnet.cli", "augment", "--images", str(images), "--out", str(out), "--weights",
           str(weights), "--modes", "1", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("videos/*/*/*/seed_0/meta.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in out.glob("videos/*/*/*/seed_0/meta.json")}
    assert 1 <= len(finished) < len(PEOPLE) * 2, "the run was to be killed half-way"
    assert not (out / "manifest.jsonl").exists()
    assert augment(images, out, weights) == 0
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished items were not redone
    assert not list(out.glob("videos/**/.seed_*.tmp-*"))  # the killed run's half-written item was removed
    assert (out / "manifest.jsonl").read_text() == (full_run / "manifest.jsonl").read_text()
    assert (out / "manifest.csv").read_text() == (full_run / "manifest.csv").read_text()
    assert augment(images, out, weights) == 0  # a third run has nothing left to do
    assert {p: p.stat().st_mtime_ns for p in finished} == finished


def test_two_shards_merged_equal_one_run(tmp_path, images, weights, full_run, capsys):
    out = tmp_path / "out"
    assert augment(images, out, weights, "--shard", "1/2") == 0
    assert main(["augment", "--out", str(out), "--merge"]) == 2  # shard 0 has not run yet
    assert "shard(s) 0/2 have no manifest" in capsys.readouterr().err
    assert augment(images, out, weights, "--shard", "0/2", "--workers", "2") == 0  # two worker processes
    assert main(["augment", "--out", str(out), "--merge"]) == 0
    assert (out / "manifest.jsonl").read_text() == (full_run / "manifest.jsonl").read_text()
    assert (out / "manifest.csv").read_text() == (full_run / "manifest.csv").read_text()
    shard_rows = [read_manifest(out / f"manifest-shard-{i}-of-2.jsonl") for i in range(2)]
    assert {r["source"] for r in shard_rows[0]} == {"x/001_03.jpg", "y/wall.png"}  # sorted photos, every 2nd
    assert {r["source"] for r in shard_rows[1]} == {"y/003_03.jpg"}


def test_shards_from_launcher_environment():
    assert shard_from_env({}) == Shard(0, 1)
    assert shard_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == Shard(1, 2)
    assert parse_shard("3/4") == Shard(3, 4) and parse_shard(" 0 / 1 ") == Shard()
    assert Shard(1, 3).take(list(range(8))) == [1, 4, 7]
    for bad in ("2/2", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(CmmnetError, match="shard"):
            parse_shard(bad)


@pytest.mark.parametrize("case, args, message", [
    ("images missing", ["--images", "{tmp}/nope"], "not a directory"),
    ("no photos", ["--images", "{tmp}/empty"], "no photos found"),
    ("bad shard", ["--images", "{images}", "--shard", "2/2"], "need 0 <= i < n"),
    ("bad modes", ["--images", "{images}", "--modes", "0"], "must be between 1 and"),
    ("bad seeds", ["--images", "{images}", "--seeds", "0"], "--seeds 0"),
    ("unknown label", ["--images", "{images}", "--labels", "posed,grin"], "grin"),
    ("foreign out", ["--images", "{images}", "--out", "{tmp}/foreign"], "not an earlier `cmmnet augment`"),
    ("no images", [], "--images DIR is required"),
    ("nothing to merge", ["--merge"], "no shard manifests"),
])
def test_bad_inputs_give_one_line(tmp_path, images, weights, capsys, case, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    args = [a.format(tmp=tmp_path, images=images) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    assert main(["augment", *out, "--weights", str(weights), *args]) == 2, case
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("cmmnet augment: error:"), err


def test_rerun_with_other_settings_is_refused(tmp_path, images, weights, full_run, capsys):
    assert augment(images, full_run, weights, "--seeds", "2") == 2
    assert "other settings" in capsys.readouterr().err
    assert json.loads((full_run / "augment.json").read_text())["seeds"] == 1
