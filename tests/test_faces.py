"""Face front end: detection on the real FRL photos, alignment geometry, odd and bad inputs."""

from __future__ import annotations

import logging
import os
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cmmnet.errors import InputFileError, NoFaceError
from cmmnet.faces import (
    AlignConfig,
    DetectorConfig,
    FaceDetector,
    LandmarkDrawConfig,
    align_face,
    between_alignments,
    draw_landmarks,
    estimate_alignment,
    eye_centres,
    invert_transform,
    landmark_images,
    read_image,
    transform_points,
    warp_image,
)
from cmmnet.faces.draw import SEGMENTS
from cmmnet.faces.pipeline import process_image, rescale_transform


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def read_tem_pupils(path: Path) -> np.ndarray:
    lines = path.read_text().split("\n")
    return np.array([[float(v) for v in lines[i].split()] for i in (1, 2)])  # points 0 and 1


@pytest.fixture(scope="module")
def frl_detections(frl_dir, detector):
    out = {}
    for p in sorted(frl_dir.glob("*.jpg")):
        faces = detector.detect_all(read_image(p))
        out[p.name] = faces
    return out


def test_every_frl_photo_has_exactly_one_face(frl_detections):
    assert len(frl_detections) == 160
    counts = {name: len(faces) for name, faces in frl_detections.items()}
    assert all(n == 1 for n in counts.values()), {k: v for k, v in counts.items() if v != 1}


def test_pupils_match_the_manual_template(frl_dir, frl_detections):
    ok, total, errs = 0, 0, []
    for name, faces in frl_detections.items():
        if not name.endswith("_03.jpg"):
            continue
        pupils = read_tem_pupils(frl_dir / name.replace(".jpg", ".tem"))
        left, right = eye_centres(faces[0].landmarks)
        ipd = np.linalg.norm(pupils[1] - pupils[0])
        err = max(np.linalg.norm(left - pupils[0]), np.linalg.norm(right - pupils[1])) / ipd
        errs.append(err)
        ok += err <= 0.1
        total += 1
    assert total == 80
    assert ok / total >= 0.95, f"only {ok}/{total} within 0.1 IPD; worst {sorted(errs)[-5:]}"


def test_neutral_and_smile_put_the_eyes_on_the_same_pixel(frl_dir, frl_detections):
    """All 80 people: the aligned (64 px) eye centres of the neutral and the smiling photo round to the same
    pixel (+-1). Two people go through the full image path (align_face), all through the transform."""
    cfg = AlignConfig(size=64)
    worst = 0.0
    for neutral in sorted(n for n in frl_detections if n.endswith("_03.jpg")):
        centres = []
        for name in (neutral, neutral.replace("_03", "_08")):
            lm = frl_detections[name][0].landmarks
            aligned = transform_points(lm, estimate_alignment(lm, cfg))
            if name.startswith(("001_", "010_")):
                al = align_face(read_image(frl_dir / name), lm, cfg)
                assert al.image.shape == (64, 64, 3) and np.allclose(al.landmarks, aligned, atol=1e-3)
            centres.append(np.round(np.array(eye_centres(aligned))))
        worst = max(worst, float(np.abs(centres[0] - centres[1]).max()))
    assert worst <= 1.0


def test_second_face_is_reported_and_the_largest_is_kept(frl_dir, detector, caplog):
    canvas = Image.new("RGB", (1000, 512), (128, 128, 128))
    canvas.paste(Image.open(frl_dir / "001_03.jpg").resize((400, 400)), (0, 56))
    canvas.paste(Image.open(frl_dir / "003_03.jpg"), (488, 0))
    with caplog.at_level(logging.WARNING, logger="cmmnet.faces.detect"):
        face = detector.detect(np.asarray(canvas), name="pair.png")
    assert face.n_faces == 2
    assert face.box[0] >= 488  # the larger face, on the right
    assert any("pair.png" in r.getMessage() and "2 faces" in r.getMessage() for r in caplog.records)


def test_small_face_is_found_by_the_upsampling_retry(frl_dir):
    canvas = Image.new("RGB", (512, 512), (128, 128, 128))
    canvas.paste(Image.open(frl_dir / "001_03.jpg").resize((110, 110)), (300, 200))  # face ~50 px wide
    image = np.asarray(canvas)
    with pytest.raises(NoFaceError):
        FaceDetector(DetectorConfig(detect_max_side=512, upsample=(0,))).detect(image)
    face = FaceDetector(DetectorConfig(detect_max_side=512, upsample=(0, 1, 2))).detect(image)
    assert 300 <= face.box[0] and face.box[2] <= 410 and face.n_faces == 1


landmark_sets = st.builds(
    lambda seed, angle, scale, tx, ty: (seed, angle, scale, tx, ty),
    st.integers(0, 10_000),
    st.floats(-0.6, 0.6),
    st.floats(0.2, 8.0),
    st.floats(-500, 500),
    st.floats(-500, 500),
)


def _random_face(seed, angle, scale, tx, ty) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 100, size=(68, 2))
    base[36:42] = rng.normal((30, 40), 2, size=(6, 2))
    base[42:48] = rng.normal((70, 40), 2, size=(6, 2))
    c, s = np.cos(angle), np.sin(angle)
    return base @ (scale * np.array([[c, -s], [s, c]])).T + (tx, ty)


@settings(max_examples=200, deadline=None)
@given(landmark_sets, st.sampled_from([64, 128, 256]))
def test_align_then_map_back_is_the_identity(params, size):
    lm = _random_face(*params)
    cfg = AlignConfig(size=size)
    m = estimate_alignment(lm, cfg)
    aligned = transform_points(lm, m)
    back = transform_points(aligned, invert_transform(m))
    assert np.abs(back - lm).max() <= 0.5
    left, right = eye_centres(aligned)
    assert abs(left[1] - right[1]) < 1e-6  # eyes horizontal
    assert np.isclose(right[0] - left[0], cfg.eye_distance * size)
    assert np.isclose((left[0] + right[0]) / 2, (size - 1) / 2)


@settings(max_examples=200, deadline=None)
@given(landmark_sets, st.sampled_from([64, 128, 256]), st.sampled_from([64, 128, 256]), st.floats(0.2, 0.4),
       st.floats(0.3, 0.5))
def test_points_map_between_two_alignments_of_one_photo(params, src_size, dst_size, eye_distance, eye_y):
    """Two alignments of one photo differ by a map that does not depend on the photo: M_dst o M_src^-1."""
    lm = _random_face(*params)
    src, dst = AlignConfig(size=src_size), AlignConfig(dst_size, eye_distance, eye_y)
    mapped = transform_points(transform_points(lm, estimate_alignment(lm, src)), between_alignments(src, dst))
    direct = transform_points(lm, estimate_alignment(lm, dst))
    assert np.abs(mapped - direct).max() < 1e-6 * max(1.0, np.abs(direct).max())
    back = transform_points(direct, between_alignments(dst, src))
    assert np.abs(back - transform_points(lm, estimate_alignment(lm, src))).max() < 1e-6 * max(1.0, np.abs(back).max())


@settings(max_examples=100, deadline=None)
@given(landmark_sets, st.floats(1.0, 8.0))
def test_transform_in_file_pixels_matches_the_downscaled_copy(params, scale):
    """process_image aligns on a downscaled copy; the transform it returns must act on FILE pixels."""
    lm_copy = _random_face(*params)
    m = estimate_alignment(lm_copy, AlignConfig())
    lm_file = (lm_copy + 0.5) * scale - 0.5  # pixel centres at integers in both
    m_file = rescale_transform(m, scale)
    assert np.abs(transform_points(lm_file, m_file) - transform_points(lm_copy, m)).max() < 1e-6
    back = transform_points(transform_points(lm_file, m_file), invert_transform(m_file))
    assert np.abs(back - lm_file).max() <= 0.5


@settings(max_examples=30, deadline=None)
@given(st.floats(-0.5, 0.5), st.floats(0.1, 3.0), st.integers(20, 80), st.integers(20, 80))
def test_warp_moves_pixels_where_the_transform_moves_points(angle, scale, x, y):
    img = np.zeros((100, 100, 3), np.uint8)
    img[y - 1 : y + 2, x - 1 : x + 2] = 255  # a 3x3 blob centred on (x, y)
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[scale * c, -scale * s, 0.0], [scale * s, scale * c, 0.0]])
    target = np.array([64.0, 64.0])
    m[:, 2] = target - m[:, :2] @ (x, y)
    out = warp_image(img, m, 128)[..., 0].astype(float)
    ys, xs = np.nonzero(out > 0)
    w = out[ys, xs]
    centre = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    assert np.abs(centre - target).max() <= 0.5


def test_landmark_image_is_binary_and_follows_the_points(frl_dir, frl_detections):
    img = read_image(frl_dir / "001_03.jpg")
    al = align_face(img, frl_detections["001_03.jpg"][0].landmarks)
    lm_img = draw_landmarks(al.landmarks, 64)
    assert lm_img.shape == (64, 64) and lm_img.dtype == np.uint8
    assert set(np.unique(lm_img)) <= {0, 1}
    for x, y in np.round(al.landmarks).astype(int):
        assert lm_img[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].any()
    dots = draw_landmarks(al.landmarks, 64, LandmarkDrawConfig("dots"))
    assert 40 <= dots.sum() <= 68
    np.testing.assert_array_equal(landmark_images(al.landmarks, 64)[0], lm_img.astype(np.float32))
    with pytest.raises(ValueError, match="landmark_images"):
        draw_landmarks(al.landmarks, 64, LandmarkDrawConfig(raster="antialiased"))


@given(st.floats(0, 1), st.integers(0, 2**32 - 1), st.integers(1, 5))
@settings(max_examples=25, deadline=None)
def test_antialiased_lines_keep_sub_pixel_positions(y, seed, chunk):
    """The anti-aliased raster has no half-pixel bias (a horizontal line's ink centres on its height, one unit per
    unit of length; the binary raster puts it at the pixel's centre) and each pixel is clip(t/2 + 1/2 - d, 0, 1)
    of its centre's distance d to the nearest drawn segment, whatever the batching and with points off the image."""
    cfg = LandmarkDrawConfig(raster="antialiased", thickness=1 + seed % 2)
    line = np.stack([np.linspace(8, 56, 68), np.full(68, 20 + y)], 1)  # (68, 2) every contour on one line
    col = landmark_images(line, 64, LandmarkDrawConfig(raster="antialiased"))[0][:, 30]
    assert abs(((np.arange(64) + 0.5) * col).sum() / col.sum() - (20 + y)) < 1e-4 and abs(col.sum() - 1) < 1e-4
    rng = np.random.default_rng(seed)
    faces = rng.uniform(-8, 40, (3, 68, 2)).astype(np.float32)  # (3, 68, 2) some points off the 32 px image
    imgs = landmark_images(faces, 32, cfg, chunk=chunk)
    xc, yc = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5)  # (32, 32) pixel centres
    for img, pts in zip(imgs, faces.astype(np.float64)):
        want = np.zeros((32, 32))
        for i, j in SEGMENTS:  # one segment at a time over the whole image
            a, ab = pts[i], pts[j] - pts[i]
            u = np.clip(((xc - a[0]) * ab[0] + (yc - a[1]) * ab[1]) / max(ab @ ab, 1e-12), 0, 1)
            d = np.hypot(xc - a[0] - u * ab[0], yc - a[1] - u * ab[1])
            want = np.maximum(want, np.clip(cfg.thickness / 2 + 0.5 - d, 0, 1))
        np.testing.assert_allclose(img, want, atol=1e-4)


# --- odd but valid inputs ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo(frl_dir) -> Image.Image:
    return Image.open(frl_dir / "001_03.jpg").convert("RGB")


@pytest.fixture(scope="module")
def reference(frl_dir):
    return process_image(frl_dir / "001_03.jpg").face.landmarks


def _close(lm, ref, tol=4.0):
    return np.abs(np.asarray(lm) - ref).mean() < tol


def _write_png48(path: Path, rgb8: np.ndarray) -> None:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), written chunk by chunk."""
    a = rgb8.astype(">u2") * 257  # (H, W, 3) big-endian 16-bit
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))  # filter type 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)  # 16 bit, colour type 2 (RGB)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("kind", ["gray", "rgba", "png16", "png48", "webp", "bmp"])
def test_odd_formats_work(tmp_path, photo, reference, kind):
    if kind == "gray":
        p = tmp_path / "g.jpg"
        photo.convert("L").save(p)
    elif kind == "rgba":
        p = tmp_path / "a.png"
        rgba = photo.convert("RGBA")
        rgba.putalpha(255)
        rgba.save(p)
    elif kind == "png16":
        p = tmp_path / "g16.png"
        arr = (np.asarray(photo.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        Image.fromarray(arr).save(p)  # uint16 -> mode I;16 -> a 16-bit grayscale PNG
        assert Image.open(p).mode == "I;16"
    elif kind == "png48":
        p = tmp_path / "rgb16.png"
        _write_png48(p, np.asarray(photo))
    elif kind == "webp":
        p = tmp_path / "w.webp"
        photo.save(p, quality=90)
    else:
        p = tmp_path / "b.bmp"
        photo.save(p)
    assert _close(process_image(p).face.landmarks, reference)


T = Image.Transpose
# EXIF orientation -> how to store the photo so that it DISPLAYS upright (the inverse of the viewer's transform)
_STORE_FOR_ORIENTATION = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
                          6: T.ROTATE_90, 7: T.TRANSVERSE, 8: T.ROTATE_270}


@pytest.mark.parametrize("orientation", sorted(_STORE_FOR_ORIENTATION))
def test_exif_orientation_is_honoured(tmp_path, photo, reference, orientation):
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo.transpose(_STORE_FOR_ORIENTATION[orientation]).save(p, exif=exif, quality=95)
    assert read_image(p).shape == (512, 512, 3)
    assert _close(process_image(p).face.landmarks, reference)


_MEASURE = """
import json, resource, sys
from cmmnet.faces import FaceDetector
from cmmnet.faces.pipeline import process_image, rescale_transform
FaceDetector()  # models loaded before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
res = process_image(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "scale": res.scale, "shape": res.image.shape,
                  "landmarks": res.face.landmarks.tolist(), "transform": res.aligned.transform.tolist(),
                  "aligned": res.aligned.landmarks.tolist()}))
"""


def test_huge_image_is_read_in_bounded_memory_and_mapped_back(tmp_path, photo, reference):
    import json

    p = tmp_path / "big.jpg"
    photo.resize((8000, 8000), Image.Resampling.BILINEAR).save(p, quality=85)  # 192 MB when fully decoded
    r = subprocess.run([sys.executable, "-c", _MEASURE, str(p)], capture_output=True, text=True, check=True)
    out = json.loads(r.stdout)
    assert out["grew_mb"] < 100, out["grew_mb"]  # decoded at reduced size (JPEG DCT scaling), never 8000x8000
    assert out["scale"] > 1.0 and max(out["shape"]) <= 2048
    lm = np.array(out["landmarks"])
    assert _close((lm + 0.5) * 512 / 8000 - 0.5, reference, tol=4.0)
    assert np.abs(transform_points(lm, np.array(out["transform"])) - np.array(out["aligned"])).max() < 1e-3


# --- bad inputs ---------------------------------------------------------------------------------------------------


def _bad_files(tmp_path: Path, frl_dir: Path) -> dict[str, Path]:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("this is not an image\n")
    data = (frl_dir / "001_03.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    Image.new("RGB", (300, 300), (128, 128, 128)).save(tmp_path / "gray.png")
    (tmp_path / "adir").mkdir()
    return {
        "missing": tmp_path / "nope.jpg",
        "directory": tmp_path / "adir",
        "empty": tmp_path / "empty.jpg",
        "text": tmp_path / "text.jpg",
        "truncated": tmp_path / "truncated.jpg",
        "noface": tmp_path / "gray.png",
    }


def test_bad_inputs_raise_clear_errors(tmp_path, frl_dir):
    for kind, path in _bad_files(tmp_path, frl_dir).items():
        expected = NoFaceError if kind == "noface" else InputFileError
        with pytest.raises(expected) as e:
            process_image(path)
        assert str(path) in str(e.value)


@pytest.mark.parametrize("command", ["landmarks", "align"])
def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, frl_dir, command):
    for kind, path in _bad_files(tmp_path, frl_dir).items():
        out = tmp_path / f"out-{kind}"
        extra = ["--out", str(out)] if command == "align" else []
        r = subprocess.run([sys.executable, "-m", "cmmnet.cli", command, str(path), *extra],
                           capture_output=True, text=True)
        assert r.returncode == 2, (kind, r.stderr)
        assert "Traceback" not in r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and str(path) in lines[0], (kind, r.stderr)
        assert not out.exists()
        assert not list(tmp_path.glob(".out-*"))


def test_cli_landmarks_and_align(tmp_path, frl_dir):
    import json

    r = subprocess.run([sys.executable, "-m", "cmmnet.cli", "landmarks", str(frl_dir / "003_03.jpg"),
                        "--overlay", str(tmp_path / "o.png")], capture_output=True, text=True, check=True)
    data = json.loads(r.stdout)
    assert len(data["box"]) == 4 and len(data["landmarks"]) == 68
    assert (tmp_path / "o.png").is_file()
    subprocess.run([sys.executable, "-m", "cmmnet.cli", "align", str(frl_dir / "003_03.jpg"), "--out",
                    str(tmp_path / "al"), "--size", "128"], capture_output=True, text=True, check=True)
    assert Image.open(tmp_path / "al" / "face.png").size == (128, 128)
    meta = json.loads((tmp_path / "al" / "alignment.json").read_text())
    m = np.array(meta["transform"])
    aligned = transform_points(np.array(meta["landmarks"]), m)
    assert np.abs(aligned - np.array(meta["aligned_landmarks"])).max() < 0.05
    assert np.abs(np.array(meta["landmarks"]) - np.array(data["landmarks"])).max() < 0.05  # same photo, same pixels
    back = transform_points(np.array(meta["aligned_landmarks"]), np.array(meta["inverse_transform"]))
    assert np.abs(back - np.array(meta["landmarks"])).max() <= 0.5
    umask = os.umask(0)
    os.umask(umask)
    for made in (tmp_path / "al", tmp_path / "o.png"):  # atomic writes keep ordinary permissions (not 0600/0700)
        default = 0o777 if made.is_dir() else 0o666
        assert stat.S_IMODE(made.stat().st_mode) == default & ~umask
