"""`cmmnet prepare` end to end on tiny fixtures written in each dataset's exact on-disk layout with real codecs
(tests/_datasets.py; the folder layout: mp4 + a JPEG folder), their content rendered from FRL-London photos."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _datasets import smile_clip, write_disfa, write_disfa_plus, write_uva_nemo
from cmmnet.cli import main as cli_main
from cmmnet.data import load_dataset
from cmmnet.data.prepare import (
    PrepareConfig,
    SegmentConfig,
    TrackConfig,
    Tracker,
    find_phases,
    prepare_dataset,
    sample_phase,
)
from cmmnet.data.prepare.segments import Phase
from cmmnet.data.prepare.splits import subject_folds, two_thirds_split
from cmmnet.data.proxies import au12_proxy
from cmmnet.faces import FaceDetector
from cmmnet.video import iter_frames, write_video


@pytest.fixture(scope="module")
def uva_root(tmp_path_factory, frl_dir) -> Path:
    return write_uva_nemo(tmp_path_factory.mktemp("uva"), frl_dir)


@pytest.fixture(scope="module")
def disfa_root(tmp_path_factory, frl_dir) -> Path:
    return write_disfa(tmp_path_factory.mktemp("disfa"), frl_dir)


@pytest.fixture(scope="module")
def disfa_plus_root(tmp_path_factory, frl_dir) -> Path:
    return write_disfa_plus(tmp_path_factory.mktemp("disfa_plus"), frl_dir)


# ------------------------------------------------------------------------------------------- unit tests


def test_find_phases_and_sampling():
    cfg = SegmentConfig()
    s = np.r_[np.zeros(10), np.linspace(0, 4, 20), np.full(10, 4.0), np.linspace(4, 0, 10), np.zeros(5),
              np.linspace(0, 3, 50), np.zeros(5)]
    phases = find_phases(s, cfg)
    assert len(phases) == 2
    first = phases[0]
    assert first.start == 10 and s[first.apex] >= 0.9 * 4 and first.apex <= 29
    idx = sample_phase(first, len(s), cfg)  # short phase: padded with the following frames
    np.testing.assert_array_equal(idx, np.arange(10, 42))
    long = phases[1]
    assert long.length > 32
    idx = sample_phase(long, len(s), cfg)  # long phase: uniform from neutral to apex
    assert idx[0] == long.start and idx[-1] == long.apex and len(idx) == 32 and (np.diff(idx) >= 1).all()
    # a video that starts mid-smile has no neutral onset for its first smile; a smile below min_peak is none
    assert find_phases(np.r_[np.full(5, 3.0), np.zeros(5)], cfg) == []
    assert find_phases(np.r_[np.zeros(5), np.full(5, 1.0), np.zeros(5)], cfg) == []
    # near the end of the video the window is shifted back to stay T frames long
    assert sample_phase(Phase(40, 45, 3.0), 50, cfg)[-1] == 49


def test_splits_subject_disjoint():
    subjects = [f"s{i // 3}" for i in range(30)]  # 10 subjects x 3 videos
    folds = subject_folds(subjects, 10, seed=0)
    assert sorted(set(folds.tolist())) == list(range(1, 11))
    for s in set(subjects):
        assert len({f for f, t in zip(folds, subjects) if t == s}) == 1
    sp, disjoint = two_thirds_split(subjects, seed=3)
    assert disjoint and (sp == 1).sum() == 9  # 3 subjects: the closest to a third of 30 videos
    assert not {t for t, x in zip(subjects, sp) if x == 0} & {t for t, x in zip(subjects, sp) if x == 1}
    sp2, _ = two_thirds_split(subjects, seed=3)
    np.testing.assert_array_equal(sp, sp2)


def test_layout_parsers(tmp_path):
    from cmmnet.data.prepare.disfa import read_au_file
    from cmmnet.data.prepare.disfa_plus import read_label_file
    from cmmnet.data.prepare.uva_nemo import read_metadata

    meta = tmp_path / "details.txt"
    meta.write_text("UvA-NEMO Smile Database\n\nFilename Subject Gender Age Label\n"
                    "001_deliberate_smile_2.mp4\t7\tF\t23\tdeliberate\n"
                    "002_spontaneous_smile_5, 8, M, 31, spontaneous\n")
    assert read_metadata(meta) == {"001_deliberate_smile_2": ("7", "deliberate"),
                                   "002_spontaneous_smile_5": ("8", "spontaneous")}
    au = tmp_path / "SN001_au12.txt"
    au.write_text("1,0\n2,3\n3,5\n")
    np.testing.assert_array_equal(read_au_file(au), [0, 3, 5])
    au.write_text("1,0\n3,5\n")
    with pytest.raises(ValueError, match="line 2"):
        read_au_file(au)
    lab = tmp_path / "AU12.txt"
    lab.write_text("AU12\nframe intensity\n000.jpg 0\n001.jpg     2\n")
    assert read_label_file(lab) == {"000.jpg": 0.0, "001.jpg": 2.0}
    # the tolerated DISFA variant: Videos_... folder, lower-case comp
    from cmmnet.data.prepare import disfa

    root = tmp_path / "disfa"
    (root / "Videos_LeftCamera").mkdir(parents=True)
    (root / "Videos_LeftCamera" / "LeftVideoSN007_comp.avi").write_bytes(b"")
    (root / "ActionUnit_Labels" / "SN007").mkdir(parents=True)
    (root / "ActionUnit_Labels" / "SN007" / "SN007_au12.txt").write_text("1,0\n2,1\n")
    items = disfa.discover(root, camera="left")
    assert [(it.key, it.subject, it.problem) for it in items] == [("disfa__LeftVideoSN007_comp", "SN007", None)]
    np.testing.assert_array_equal(items[0].au12, [0, 1])


def test_tracking_follows_the_face(frl_dir, tmp_path):
    """Detect-then-track through an H.264 clip stays within a few hundredths of an inter-ocular distance of the
    rendered landmarks, and detects only on the first frame and at the periodic checks."""
    frames, _, truth = smile_clip(frl_dir, "008", "spontaneous", (640, 360), landmarks=True)
    write_video(tmp_path / "c.mp4", frames, fps=50)
    tracker = Tracker(FaceDetector())
    lms = np.stack([tracker.step(f) for f in iter_frames(tmp_path / "c.mp4")])
    iod = np.linalg.norm(truth[:, 36:42].mean(1) - truth[:, 42:48].mean(1), axis=-1)
    err = np.linalg.norm(lms - truth, axis=-1).mean(1) / iod
    assert err.mean() < 0.03 and err.max() < 0.06, err
    assert tracker.stats.detections == 1 + (len(frames) - 1) // TrackConfig().verify_every


# ------------------------------------------------------------------------------------------- end to end


def _check_sequences(ds, size: int = 64) -> None:
    assert ds.T == 32 and ds.image_size == size
    assert ds.faces.shape[1:] == (32, 3, size, size)
    assert set(np.unique(ds.landmark_images)) <= {0, 1}
    a12 = au12_proxy(np.asarray(ds.landmarks))  # (N, T)
    assert (a12[:, -8:].mean(1) - a12[:, :3].mean(1) > 0.03).all(), a12[:, [0, -1]]  # starts neutral, rises
    fi = ds["frame_index"]
    assert (np.diff(fi, axis=1) >= 1).all()
    assert json.dumps(ds.meta["extra"]["draw"])


def _disjoint(ds) -> bool:
    tr = set(ds.subjects[ds.splits == 0].tolist())
    te = set(ds.subjects[ds.splits == 1].tolist())
    return not tr & te


@pytest.fixture(scope="module")
def uva_ref(uva_root, tmp_path_factory):
    """The UvA-NEMO fixture prepared once, uninterrupted, one process, test fold 3."""
    out = tmp_path_factory.mktemp("uva_ref") / "ds"
    summary = prepare_dataset("uva-nemo", uva_root, out, fold=3)
    return out, summary


def test_uva_nemo_end_to_end(uva_ref):
    out, summary = uva_ref
    text = "\n".join(summary.lines())
    ds = load_dataset(out)
    assert len(ds) == 6
    assert ds.label_names == ["posed", "spontaneous"]
    assert np.bincount(ds.labels).tolist() == [3, 3]
    assert ds.subject_names == ["S001", "S008", "S010"]
    _check_sequences(ds)
    assert _disjoint(ds) and set(ds.splits.tolist()) <= {0, 1}
    np.testing.assert_array_equal(ds.splits == 1, ds["fold"] == 3)
    assert ds.meta["extra"]["fps"] == 50.0  # T = 32 frames span 0.64 s of UvA-NEMO
    skipped = ds.meta["extra"]["skipped"]
    assert set(skipped) == {"013_deliberate_smile_1", "099_spontaneous_smile_1"}
    assert "truncated" in skipped["013_deliberate_smile_1"] or "damaged" in skipped["013_deliberate_smile_1"]
    assert "no face" in skipped["099_spontaneous_smile_1"]
    reason_lines = [ln for ln in text.splitlines() if ln.startswith("  ")]
    assert len(reason_lines) == 2, text


def test_uva_nemo_given_folds(uva_root, uva_ref, tmp_path):
    folds = tmp_path / "folds"
    names = sorted(p.name for p in (uva_root / "videos").iterdir())
    for k in range(1, 11):
        (folds / str(k)).mkdir(parents=True)
        test = {n: "x" for n in names if n.startswith("008_")} if k == 2 else {}
        (folds / str(k) / "test.json").write_text(json.dumps(test))
        (folds / str(k) / "train.json").write_text(json.dumps({n: "x" for n in names if n not in test}))
    out = tmp_path / "uva2"
    prepare_dataset("uva-nemo", uva_root, out, folds=folds, fold=2, workers=2)  # two worker processes
    ds = load_dataset(out)
    assert len(ds) == 6 and (ds.splits == 1).sum() == 2
    assert {ds.subject_names[s] for s in ds.subjects[ds.splits == 1]} == {"S008"}
    ref = load_dataset(uva_ref[0])  # two worker processes give the same arrays as one
    np.testing.assert_array_equal(np.asarray(ds.faces), np.asarray(ref.faces))
    np.testing.assert_array_equal(np.asarray(ds.landmarks), np.asarray(ref.landmarks))


def test_disfa_end_to_end(disfa_root, tmp_path):
    out = tmp_path / "disfa"
    summary = prepare_dataset("disfa", disfa_root, out, PrepareConfig(seed=1))
    ds = load_dataset(out)
    assert len(ds) == 4  # two smiles in each of two videos
    assert (ds.labels == 1).all() and ds.subject_names == ["SN001", "SN002"]
    assert ds.meta["extra"]["fps"] == 20.0
    _check_sequences(ds)
    assert _disjoint(ds) and (ds.splits == 0).sum() >= 1 and (ds.splits == 1).sum() >= 1
    assert [k for k, _ in summary.skipped] == ["disfa__RightVideoSN003_comp", "disfa__RightVideoSN004_Comp"]
    assert "wrong length" in summary.skipped[0][1] and "truncated" in summary.skipped[1][1]
    # intensities come from the label files: the phase starts at a 0 label and rises
    au = ds["au12"]
    assert (au[:, 0] <= 0.5).all() and (au.max(1) >= 3).all()
    # another seed reuses every cached video (only the split changes)
    cache = tmp_path / "disfa.cache"
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    again = prepare_dataset("disfa", disfa_root, out, PrepareConfig(seed=5))
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps and again.sequences == 4
    # the first smile of each video only
    prepare_dataset("disfa", disfa_root, tmp_path / "first", PrepareConfig(seed=1, disfa_segments="first"))
    first = load_dataset(tmp_path / "first")
    assert len(first) == 2 and (first["frame_index"][:, 0] < 20).all()


def test_disfa_plus_with_disfa(disfa_plus_root, disfa_root, tmp_path):
    out = tmp_path / "dplus"
    summary = prepare_dataset("disfa+", disfa_plus_root, out, disfa_root=disfa_root)
    ds = load_dataset(out)
    names = ds.meta["extra"]["sequence_names"]
    posed = [n for n in names if n.startswith("disfa+__")]
    assert sorted(posed) == ["disfa+__SN001__A22_AU6_12_TrailNo_1", "disfa+__SN002__A22_AU6_12_TrailNo_1"]
    assert np.bincount(ds.labels).tolist() == [2, 4]  # 2 posed (DISFA+) + 4 spontaneous (DISFA, same subjects)
    assert ds.subject_names == ["SN001", "SN002"]
    _check_sequences(ds)
    assert _disjoint(ds)
    assert not summary.skipped


def test_folder_and_wrong_roots(frl_dir, tmp_path, uva_root, capsys):
    root = tmp_path / "clips"
    root.mkdir()
    a, _ = smile_clip(frl_dir, "010", "posed", (320, 240))
    write_video(root / "a.mp4", a, fps=25)
    (root / "frames").mkdir()
    for i, f in enumerate(smile_clip(frl_dir, "008", "spontaneous", (320, 240))[0]):
        Image.fromarray(f).save(root / "frames" / f"{i}.jpg")
    (root / "labels.csv").write_text("file,label,subject\na.mp4,happy,p1\nframes,polite,p2\nmissing.mp4,happy,p3\n")
    out = tmp_path / "folder"
    summary = prepare_dataset("folder", root, out, PrepareConfig(align=PrepareConfig().align.__class__(size=128)))
    ds = load_dataset(out)
    assert ds.label_names == ["happy", "polite"] and len(ds) == 2, summary.lines()
    _check_sequences(ds, size=128)
    assert summary.skipped == [("folder__missing", "file not found")]
    # a root that is not the named layout: exit 2, one line saying what was expected
    for dataset, expect in (("disfa", "ActionUnit_Labels"), ("disfa+", "Labels/SN001"), ("uva-nemo", "videos/"),
                            ("folder", "labels.csv")):
        rc = cli_main(["prepare", "--dataset", dataset, "--root", str(uva_root if dataset != "uva-nemo" else root),
                       "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert rc == 2 and expect in err and "Traceback" not in err, err
    assert not (tmp_path / "x").exists()


_KILL_SCRIPT = """
import sys
from cmmnet.cli import main
sys.exit(main(["prepare", "--dataset", "uva-nemo", "--root", sys.argv[1], "--out", sys.argv[2], "--fold", "3"]))
"""


def test_sigkill_resume_equals_uninterrupted(uva_root, uva_ref, tmp_path):
    ref = uva_ref[0]
    out = tmp_path / "killed"
    cache = tmp_path / "killed.cache"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(uva_root), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cache.glob("*.npz"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "prepare finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_cached = len(list(cache.glob("*.npz")))
    assert 3 <= n_cached < 8 and not out.exists()
    r = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(uva_root), str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len([ln for ln in r.stdout.splitlines() if ln.startswith("  ")]) == 2, r.stdout  # one line per skip
    a, b = load_dataset(ref), load_dataset(out)
    assert sorted(a.arrays) == sorted(b.arrays)
    for name in a.arrays:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]), err_msg=name)
    assert a.meta["extra"]["sequence_names"] == b.meta["extra"]["sequence_names"]


@pytest.mark.slow
def test_uva_nemo_1080p_workers(frl_dir, tmp_path):
    """Full-size UvA-NEMO videos (1920x1080, 50 fps) through the CLI with two workers."""
    root = tmp_path / "uva1080"
    (root / "videos").mkdir(parents=True)
    lines = ["header", "Filename\tSubject\tGender\tAge\tLabel"]
    for person, word, label in (("001", "deliberate", "posed"), ("008", "spontaneous", "spontaneous"),
                                ("010", "deliberate", "posed")):
        frames, _ = smile_clip(frl_dir, person, label, (1920, 1080), before=30, hold=30, after=30)
        write_video(root / "videos" / f"{person}_{word}_smile_1.mp4", frames, fps=50)
        lines.append(f"{person}_{word}_smile_1.mp4\t{person}\tf\t30\t{word}")
    (root / "UvA-NEMO_Smile_Database_File_Details.txt").write_text("\n".join(lines) + "\n")
    r = subprocess.run([sys.executable, "-m", "cmmnet.cli", "prepare", "--dataset", "uva-nemo", "--root", str(root),
                        "--out", str(tmp_path / "ds"), "--workers", "2", "--fold", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == 3 and np.bincount(ds.labels).tolist() == [2, 1]
    _check_sequences(ds)
