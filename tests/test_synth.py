"""FRL-Smile synthesis: measured dynamics and styles on written data, round trip, atomicity, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from _procs import kill_at_marker
from cmmnet.data import load_dataset, write_dataset
from cmmnet.data.proxies import au_curves, curve_stats, mouth_opening
from cmmnet.data.synth import STYLE_NAMES, SynthConfig, render_photo_sequence, synthesize
from cmmnet.data.synth.build import _person_task, find_people
from cmmnet.errors import CmmnetError
from cmmnet.faces import AlignConfig, FaceDetector, read_image
from cmmnet.faces.align import align_face

PEOPLE = 3  # x 2 labels x PER_FACE sequences: every label has every style
PER_FACE = 3


@pytest.fixture(scope="module")
def dataset(frl_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "frl-smile"
    synthesize(frl_dir, out, per_face=PER_FACE, seed=0, people=PEOPLE, workers=1, command="test")
    return load_dataset(out)


@pytest.fixture(scope="module")
def curves(dataset):
    return au_curves(np.asarray(dataset.landmarks))


def test_layout_and_counts(dataset):
    n = PEOPLE * 2 * PER_FACE
    assert len(dataset) == n and dataset.T == 32 and dataset.image_size == 64
    assert dataset.label_names == ["posed", "spontaneous"]
    assert dataset.style_names == list(STYLE_NAMES)
    counts = dataset.meta["counts"]
    assert counts["label"] == {"posed": n // 2, "spontaneous": n // 2}
    assert counts["style"] == {s: n // 3 for s in STYLE_NAMES}
    for li in range(2):  # both labels carry all three styles
        assert set(dataset.styles[dataset.labels == li].tolist()) == {0, 1, 2}
    assert dataset.meta["extra"]["draw"] == {"style": "lines", "thickness": 1, "raster": "binary"}
    assert dataset["au_intensity"].shape == (n, 32, 3)
    assert dataset["neutral_landmarks"].shape == (n, 68, 2)
    assert set(np.unique(dataset.landmark_images).tolist()) <= {0, 1}
    # subject-disjoint split
    train = set(dataset.subjects[dataset.splits == 0].tolist())
    test = set(dataset.subjects[dataset.splits == 1].tolist())
    assert train and test and not train & test


def test_frame0_is_the_neutral_face(dataset, frl_dir):
    lm = np.asarray(dataset.landmarks)
    np.testing.assert_allclose(lm[:, 0], dataset["neutral_landmarks"], atol=0.5)
    # independently: dlib on the neutral photo, aligned at 64 px
    det = FaceDetector()
    for si, name in enumerate(dataset.subject_names):
        img = read_image(frl_dir / f"{name}_03.jpg")
        ref = align_face(img, det.detect(img).landmarks, AlignConfig(size=64))
        rows = np.flatnonzero(dataset.subjects == si)
        assert np.abs(lm[rows, 0] - ref.landmarks).max() <= 0.5
        face0 = dataset.faces[rows[0], 0].transpose(1, 2, 0).astype(float)
        assert np.abs(face0 - ref.image).mean() < 6.0  # the same photo, morphed at 2x then box-downsampled


def test_au12_posed_earlier_higher_faster(dataset, curves):
    st = curve_stats(curves["au12"])
    posed, spont = dataset.labels == 0, dataset.labels == 1
    assert st["apex"][posed].mean() + 3 < st["apex"][spont].mean()
    assert st["amplitude"][posed].mean() > 1.1 * st["amplitude"][spont].mean()
    assert st["peak_speed"][posed].mean() > 1.5 * st["peak_speed"][spont].mean()
    assert (st["amplitude"] > 0.02).all()  # every sequence smiles


def test_au6_peaks_with_au12_for_spontaneous(dataset, curves):
    a12 = curve_stats(curves["au12"])["apex"]
    a6 = curve_stats(curves["au6"])["apex"]
    lag = np.abs(a6 - a12)
    assert lag[dataset.labels == 1].mean() + 3 < lag[dataset.labels == 0].mean()
    assert (curve_stats(curves["au6"])["amplitude"] > 0).all()


def test_styles_measured(dataset, curves):
    styles = np.asarray(dataset.styles)
    apex12 = curve_stats(curves["au12"])["apex"]
    rows = np.arange(len(dataset))
    closed_eyes = styles == STYLE_NAMES.index("eyes_closed")
    assert (curves["eye_closure"][rows, apex12][closed_eyes] > 0.8).all()
    assert (curves["eye_closure"][rows, apex12][~closed_eyes] < 0.5).all()
    lm = np.asarray(dataset.landmarks)
    gap = mouth_opening(lm)  # (N, T) inner-lip gap, IOD
    closed = styles == STYLE_NAMES.index("mouth_closed")
    assert (gap[closed] <= gap[closed, :1] + 0.01).all()  # never more parted than at rest
    assert (gap[closed, -1] < 0.03).all()
    opened = styles == STYLE_NAMES.index("mouth_open")
    assert (curves["mouth_opening"][opened, -1] > 0.12).all()
    # the pixels: the parted mouth is dark cavity and bright teeth, not stretched lip skin
    faces = np.asarray(dataset.faces).astype(float)  # (N, T, 3, S, S)
    for i in np.flatnonzero(opened):
        p = lm[i, -1]
        inner = np.concatenate([p[61:64], p[65:68]])
        x0, y0 = np.floor(inner.min(0)).astype(int)
        x1, y1 = np.ceil(inner.max(0)).astype(int)
        patch = faces[i, -1][:, y0 : y1 + 1, x0 : x1 + 1].mean(0)
        assert patch.max() - patch.min() > 60


def test_frames_are_continuous(dataset):
    """No tears: consecutive frames differ little; no black holes inside the face."""
    f = np.asarray(dataset.faces).astype(np.int16)  # (N, T, 3, S, S)
    step = np.abs(np.diff(f, axis=1)).mean((2, 3, 4))  # (N, T-1)
    assert step.max() < 6.0
    lm = np.asarray(dataset.landmarks)
    for i in range(len(f)):
        x0, y0 = np.floor(lm[i, :, 17:27].min((0, 1))).astype(int)
        x1, y1 = np.ceil(lm[i, :, 0:17].max((0, 1))).astype(int)
        region = f[i, :, :, max(y0, 0) : y1, max(x0, 0) : x1].max(1)  # (T, h, w) brightest channel
        assert (region > 3).all()


def test_write_read_round_trip_and_determinism(dataset, frl_dir, tmp_path):
    names = list(dataset.meta["arrays"])
    arrays = {k: np.asarray(dataset[k]) for k in names}
    write_dataset(tmp_path / "copy", arrays, source="frl-smile", label_names=dataset.label_names,
                  subject_names=dataset.subject_names, style_names=dataset.style_names, command="test")
    back = load_dataset(tmp_path / "copy")
    for k in names:
        assert back[k].dtype == arrays[k].dtype
        np.testing.assert_array_equal(back[k], arrays[k], err_msg=k)
    # same seed, same person -> the same sequences, wherever they run
    person = find_people(frl_dir)[0][0]
    a = _person_task((0, person, SynthConfig(per_face=PER_FACE)))
    assert a["id"] == dataset.subject_names[0]
    rows = np.flatnonzero(dataset.subjects == 0)
    np.testing.assert_array_equal(a["faces"], dataset.faces[rows])
    np.testing.assert_array_equal(a["landmarks"], dataset.landmarks[rows])


_KILLED = textwrap.dedent(
    """
    import time
    from pathlib import Path
    import numpy as np
    from cmmnet.data.synth import synthesize
    real_save = np.save
    def slow_save(file, arr, *a, **k):
        real_save(file, arr, *a, **k)
        if Path(file).name == "faces.npy":
            Path({marker!r}).write_text("x")
            time.sleep(60)
    np.save = slow_save
    synthesize({faces!r}, {out!r}, per_face=1, people=1, workers=1)
    """
)


def test_killed_synth_leaves_nothing_loadable(frl_dir, tmp_path):
    out, marker = tmp_path / "ds", tmp_path / "halfway"
    code = _KILLED.format(marker=str(marker), faces=str(frl_dir), out=str(out))
    kill_at_marker(code, marker, 120)
    assert not out.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]
    assert leftovers
    for p in [out, *leftovers]:
        with pytest.raises(CmmnetError):
            load_dataset(p)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cmmnet.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONWARNINGS="ignore"))


def test_bad_input_skips_people_with_one_line_each(frl_dir, tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    for tag in ("03", "08"):  # a good person (links, not copies, of the shared photos)
        (faces / f"001_{tag}.jpg").symlink_to(frl_dir / f"001_{tag}.jpg")
    (faces / "002_03.jpg").symlink_to(frl_dir / "003_03.jpg")  # unpaired
    (faces / "004_03.jpg").write_bytes(b"not a jpeg")  # unreadable
    (faces / "004_08.jpg").symlink_to(frl_dir / "008_08.jpg")
    blank = Image.new("RGB", (200, 200), (128, 128, 128))  # no face
    blank.save(faces / "005_03.jpg")
    blank.save(faces / "005_08.jpg")
    r = _cli("synth", "--faces", faces, "--out", tmp_path / "out", "--per-face", 1, "--workers", 2)  # the pool
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "skipping person" in line]
    assert len(warnings) == 3, r.stderr
    assert any("002" in w and "unpaired" in w for w in warnings)
    assert any("004" in w and "004_03.jpg" in w for w in warnings)
    assert any("005" in w and "no face" in w for w in warnings)
    ds = load_dataset(tmp_path / "out")
    assert ds.subject_names == ["001"] and len(ds) == 2
    assert set(ds.meta["extra"]["skipped"]) == {"002", "004", "005"}

    r = _cli("show", tmp_path / "out", "--out", tmp_path / "sheet.png")
    assert r.returncode == 0, r.stderr
    assert "posed: 1" in r.stdout and (tmp_path / "sheet.png").is_file() and (tmp_path / "sheet-curves.png").is_file()


def test_empty_or_missing_dir_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    for d in (tmp_path / "empty", tmp_path / "missing"):
        r = _cli("synth", "--faces", d, "--out", tmp_path / "out")
        assert r.returncode == 2
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "out").exists()


def test_render_photo_sequence(frl_dir):
    frames, lm = render_photo_sequence(frl_dir, "003", "posed", "mouth_open", seed=1, T=8)
    photo = read_image(frl_dir / "003_03.jpg")
    assert frames.shape == (8, *photo.shape) and frames.dtype == np.uint8
    assert lm.shape == (8, 68, 2) and lm.dtype == np.float32
    assert np.abs(frames[0].astype(float) - photo).mean() < 1.0
    assert mouth_opening(lm[-1]) > mouth_opening(lm[0]) + 0.1
    with pytest.raises(CmmnetError, match="style"):
        render_photo_sequence(frl_dir, "003", "posed", "wink")
