"""The warp renderer (cmmnet.render): fold-free field, frame 0 = the photo, background unchanged, colour kept."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cmmnet.data.proxies import inter_ocular_distance
from cmmnet.errors import CmmnetError
from cmmnet.faces import FaceDetector, read_image
from cmmnet.render import WarpRenderer, corner_jacobians
from cmmnet.render.config import FieldConfig, WarpRenderConfig
from cmmnet.render.eyes import _G, _H, INNER, _annulus, _area2, _polygon_area, eye_meshes
from cmmnet.render.field import guide_points, prepare_shapes, upsample
from cmmnet.render.mask import distance_outside, hull_polygon


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    """The bundled public-domain portrait and its dlib landmarks."""
    photo = read_image(resources.files("cmmnet") / "assets" / "example.jpg")
    return photo, FaceDetector().detect(photo).landmarks.astype(np.float64)


def _gray(photo: np.ndarray) -> np.ndarray:
    y = (photo.astype(np.float64) @ (0.299, 0.587, 0.114)).round().astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=2)


def smile(lm: np.ndarray, frames: int = 6, gain: float = 0.15, part: float = 0.0, close_eyes: float = 0.0,
          close_lips: bool = False) -> np.ndarray:
    """(T, 68, 2) landmark motion from ``lm`` (68, 2), growing linearly to its apex at the last frame: lip corners
    out by ``gain`` IOD in all (and up), the lower lip and jaw down by ``part`` IOD, upper lids towards the lower
    ones by the fraction ``close_eyes`` (1 = they meet), the inner lips pressed onto each other (``close_lips``)."""
    iod = float(inter_ocular_distance(lm))
    out = []
    for s in np.linspace(0.0, 1.0, frames):
        p = lm.copy()
        p[[48, 60], 0] -= s * gain * iod / 2
        p[[54, 64], 0] += s * gain * iod / 2
        p[[48, 54, 60, 64], 1] -= s * 0.05 * iod
        p[[55, 56, 57, 58, 59, 65, 66, 67], 1] += s * part * iod
        p[5:12, 1] += s * 0.5 * part * iod
        for up, down in ((37, 41), (38, 40), (43, 47), (44, 46)):
            p[up] += s * close_eyes * (p[down] - p[up])
        if close_lips and s > 0:
            for up, down in ((61, 67), (62, 66), (63, 65)):
                p[up] = p[down] = 0.5 * (p[up] + p[down])
        out.append(p)
    return np.stack(out)


def assert_fold_free(renderer: WarpRenderer, targets: np.ndarray) -> int:
    """Every mapped cell of the spline keeps its orientation and so does the per-pixel map (finite-difference
    Jacobian > 0) wherever the eyes' meshes leave the spline's map; a mesh is used in a frame only when its map keeps
    its orientation in every triangle (there the map is affine per triangle, and the lid's edge a deliberate
    discontinuity: what the lid covers is not shown). Returns how many eye-frames used a mesh."""
    region = renderer.region(targets)
    coarse = renderer.field(targets, region)  # (T, ny, nx, 2)
    assert float(corner_jacobians(coarse, region.grid.step).min()) > 0
    full = renderer.pixel_map(targets, region, coarse)  # (T, H, W, 2) with the eyes' meshes
    spline = upsample(coarse, region.grid)[:, :full.shape[1], :full.shape[2]]
    meshed = (full != spline).any(-1)  # (T, H, W)
    dx, dy = full[:, :-1, 1:] - full[:, :-1, :-1], full[:, 1:, :-1] - full[:, :-1, :-1]
    det = dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]
    plain = ~(meshed[:, :-1, :-1] | meshed[:, :-1, 1:] | meshed[:, 1:, :-1])
    assert float(det[plain].min()) > 0
    used = [(j > 0).all(1) for j in renderer.eye_jacobians(targets, region, coarse)]  # (T,) per eye
    assert not meshed[torch.from_numpy(~np.any(used, 0))].any()  # no mesh where a triangle would flip
    return int(np.sum(used))


MOTIONS = {
    "smile": dict(gain=0.2),
    "open mouth": dict(gain=0.15, part=0.25),
    "eyes that close": dict(gain=0.15, close_eyes=1.0),
    "lips that meet": dict(gain=0.1, close_lips=True),
    "everything at once": dict(gain=0.25, part=0.2, close_eyes=1.0),
}


@pytest.mark.parametrize("motion", MOTIONS)
def test_the_field_never_folds(portrait, motion):
    photo, lm = portrait
    meshed = assert_fold_free(WarpRenderer(photo, lm), smile(lm, **MOTIONS[motion]))
    # the eyes' meshes draw the frames where the lids close (both eyes); eyes that barely move are the spline's
    assert (meshed >= 2 * 4) if MOTIONS[motion].get("close_eyes") else (meshed == 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_field_never_folds_under_landmark_noise(portrait, seed):
    """Every landmark of every frame jittered by 0.1 IOD (std), the apex frame with eyes and lips shut."""
    photo, lm = portrait
    iod = float(inter_ocular_distance(lm))
    targets = smile(lm, frames=8, gain=0.2, close_eyes=1.0)
    targets = targets + np.random.default_rng(seed).normal(0.0, 0.1 * iod, targets.shape)
    assert_fold_free(WarpRenderer(photo, lm), targets)


@pytest.mark.parametrize("person, label", [("014", "posed"), ("025", "spontaneous"), ("069", "spontaneous")])
def test_generated_smiles_never_fold(frl_dir, person, label):
    """Every frame of every clip the shipped weights make for FRL-Smile test people (014's eye mode closes the eyes,
    025's lips are parted at rest): the spline's field, the pixels it keeps and the eyes' meshes keep orientation."""
    from cmmnet.generate import CMMNet

    video = CMMNet.from_pretrained().generate(frl_dir / f"{person}_03.jpg", label, seed=0).video
    meshed = assert_fold_free(video.renderer, video.shapes)  # (U, 68, 2) every distinct shape of the 4 clips
    if person == "014":
        assert meshed > 0  # its eye mode's lids close: the meshes draw them


def test_a_photo_with_closed_eyes_and_lips_opening_them(portrait):
    """Points that meet in the source (the photo's own lids and lips shut) part in the targets."""
    photo, lm = portrait
    shut = smile(lm, frames=2, close_eyes=1.0, close_lips=True)[-1]  # (68, 2) eyes and lips closed
    renderer = WarpRenderer(photo, shut)
    assert_fold_free(renderer, smile(shut, frames=5, part=0.2) - 0.0)


@pytest.mark.parametrize("guided", [True, False])
def test_closing_lids_leave_the_brows_and_cheeks(portrait, guided):
    """Upper lids lowered 60 % of the way onto the lower ones, brows still: the photo shown at the brows' lower edge
    (a fifth of the way from brow to lid) and under the eyes comes from within 0.03 IOD of there. Without the lid
    guides the spline keeps the lids' slope beyond them and drags the brow down over the eye."""
    photo, lm = portrait
    iod = float(inter_ocular_distance(lm))
    cfg = WarpRenderConfig(field=FieldConfig() if guided else FieldConfig(lid_guide=0.0, under_eye_guide=0.0))
    renderer = WarpRenderer(photo, lm, cfg)
    targets = smile(lm, frames=2, gain=0.0, close_eyes=0.6)  # (2, 68, 2)
    region = renderer.region(targets)
    full = renderer.pixel_map(targets, region, renderer.field(targets, region))[-1]  # (H, W, 2) source px
    apex = targets[-1]
    probes = [apex[brow] + 0.2 * (apex[lid] - apex[brow]) for brow, lid in ((19, 37), (20, 38), (23, 43), (24, 44))]
    probes += [apex[lid] + np.array([0.0, 0.25 * iod]) for lid in (40, 41, 46, 47)]
    moved = []
    for p in probes:
        x, y = np.round(p).astype(int) - (region.grid.x0, region.grid.y0)
        moved.append(float(np.hypot(*(full[y, x].numpy() - (x + region.grid.x0, y + region.grid.y0)))) / iod)
    if guided:
        assert max(moved) < 0.03, moved
    else:
        assert max(moved) > 0.05, moved


@pytest.mark.parametrize("eyelids", ["cover", "spline"])
def test_a_closing_lid_reaches_its_target_and_covers_the_eye(portrait, eyelids):
    """Upper lids lowered 80 % of the way onto the lower ones: with the eyes' meshes the pixel just above each upper
    lid's target shows the photo's lid edge, and the middle of the opening left below it shows the lower part of
    the photo's opening (the eye covered from above: 0.89 of the way down). The spline alone squeezes the eye: the
    middle of what is left shows the middle of the photo's opening (0.48-0.58)."""
    photo, lm = portrait
    iod = float(inter_ocular_distance(lm))
    renderer = WarpRenderer(photo, lm, WarpRenderConfig(eyelids=eyelids))
    targets = smile(lm, frames=2, gain=0.0, close_eyes=0.8)  # (2, 68, 2)
    region = renderer.region(targets)
    full = renderer.pixel_map(targets, region, renderer.field(targets, region))[-1]  # (H, W, 2)
    apex, edge, covered = targets[-1], [], []
    for up, down in ((37, 41), (38, 40), (43, 47), (44, 46)):
        x, y = np.round(apex[up]).astype(int) - (0, 1) - (region.grid.x0, region.grid.y0)  # just above the edge
        edge.append(float(np.hypot(*(full[y, x].numpy() - lm[up]))) / iod)
        mid = np.round(0.5 * (apex[up] + apex[down])).astype(int) - (region.grid.x0, region.grid.y0)
        shown = full[mid[1], mid[0]].numpy()
        covered.append(float((shown[1] - lm[up][1]) / (lm[down][1] - lm[up][1])))  # 0 = the lid, 1 = the lower lid
    if eyelids == "cover":
        assert max(edge) < 0.04, edge
        assert min(covered) > 0.75, covered
    else:
        assert max(covered) < 0.75, covered


def test_a_closed_lid_shows_no_lash_streaks(frl_dir):
    """107's long lashes reach above the band that moves with the lid's edge, so a lid that shuts stretches their
    tips down over the eye. Averaged along the eye line where the lid has closed (`lid_smear`), the lid's skin keeps
    its tone (within 2 grey levels) with less than half the stroke contrast (the luma's mean change from pixel to
    pixel along a row: 9.8 -> 3.9 grey levels); a smile whose eyes stay open or narrow by a tenth (a smile's cheeks
    raised; below `lid_smear_onset`) gives the same bytes either way."""
    photo = read_image(frl_dir / "107_03.jpg")
    lm = FaceDetector().detect(photo).landmarks.astype(np.float64)
    shut = smile(lm, frames=2, gain=0.1, close_eyes=1.0)  # (2, 68, 2)
    smeared, plain = WarpRenderer(photo, lm), WarpRenderer(photo, lm, WarpRenderConfig(lid_smear=0.0))
    region = smeared.region(shut)
    smear = torch.zeros(len(shut), *smeared.block_shape(region.grid))  # (2, bh, bw) px
    smeared.pixel_map(shut, region, smeared.field(shut, region), smear=smear)
    assert float(smear[0].max()) == 0.0 and float(smear[-1].max()) > 0.05 * smeared.iod
    lid = np.zeros(photo.shape[:2], bool)  # the shut lid's skin, where it is averaged over more than half the most
    lid[smeared.block_span(region.grid)] = (smear[-1] > 0.5 * smear[-1].max()).numpy()
    along_row = lid[:, 1:] & lid[:, :-1]
    luma = [r.render(shut)[-1].astype(np.float64) @ (0.299, 0.587, 0.114) for r in (smeared, plain)]  # (H, W) each
    streaks = [float(np.abs(np.diff(y, axis=1))[along_row].mean()) for y in luma]
    assert streaks[0] < 0.5 * streaks[1], streaks
    assert abs(luma[0][lid].mean() - luma[1][lid].mean()) < 2.0
    for narrowed in (0.0, 0.1):
        targets = smile(lm, frames=3, gain=0.1, close_eyes=narrowed)  # (3, 68, 2)
        assert np.array_equal(smeared.render(targets), plain.render(targets))


@settings(max_examples=25, deadline=None)
@given(angle=st.floats(-0.6, 0.6), scale=st.floats(0.3, 3.0),
       shift=st.tuples(st.floats(-500, 500), st.floats(-500, 500)), close=st.floats(0.0, 1.0),
       brow=st.floats(-0.1, 0.1))
def test_lid_guides_follow_the_face(portrait, angle, scale, shift, close, brow):
    """The guides are where the face puts them: moving the photo's landmarks, the targets and the anchors by a
    similarity moves the guides alike; targets equal to the source leave every guide where it is."""
    _, lm = portrait
    iod = float(inter_ocular_distance(lm))
    targets = smile(lm, frames=3, gain=0.2, close_eyes=close)  # (3, 68, 2)
    targets[:, 17:27, 1] += brow * iod
    anchors = lm.mean(0) + 1.5 * iod * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
    cfg = FieldConfig()
    c, s = np.cos(angle), np.sin(angle)
    rot = scale * np.array([[c, -s], [s, c]])

    def move(p: np.ndarray) -> np.ndarray:
        return p @ rot.T + np.array(shift)

    g_src, g_tgt, hangs = guide_points(lm, targets, anchors, iod, cfg)
    m_src, m_tgt, _ = guide_points(move(lm), move(targets), move(anchors), scale * iod, cfg)
    assert g_src.shape == (8, 2) and g_tgt.shape == (3, 8, 2)
    assert hangs.tolist() == [37, 38, 41, 40, 43, 44, 47, 46]
    np.testing.assert_allclose(m_src, move(g_src), atol=1e-6 * scale * iod)
    np.testing.assert_allclose(m_tgt, move(g_tgt), atol=1e-4 * scale * iod)  # fp32 spline
    still_src, still_tgt, _ = guide_points(lm, np.repeat(lm[None], 2, 0), anchors, iod, cfg)
    np.testing.assert_allclose(still_tgt, np.repeat(still_src[None], 2, 0), atol=1e-4 * iod)


def test_frame_zero_is_the_photo(portrait):
    photo, lm = portrait
    frames = WarpRenderer(photo, lm).render(smile(lm, part=0.2))
    assert frames.shape == (6, *photo.shape)
    mse = float(((frames[0].astype(np.float64) - photo) ** 2).mean())
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40
    assert not np.array_equal(frames[-1], photo)  # and the apex is not


def test_outside_the_face_mask_nothing_changes(portrait):
    photo, lm = portrait
    renderer = WarpRenderer(photo, lm)
    targets = smile(lm, gain=0.25, part=0.2, close_eyes=1.0)
    frames = renderer.render(targets)
    region = renderer.region(targets)
    h, w = photo.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    outside = distance_outside(region.polygon, np.stack([xs, ys], -1)) > renderer.cfg.mask.outer * renderer.iod
    assert outside.mean() > 0.2  # the test means something: a good part of the photo is background
    assert (frames[:, outside] == photo[outside]).all()
    changed = np.abs(frames[-1].astype(int) - photo).max(-1) > 0
    assert changed[~outside].mean() > 0.05  # the face does move


@pytest.mark.parametrize("which", ["portrait", "astronaut"])
def test_a_grayscale_photo_stays_grayscale(portrait, which):
    """Also where the parted lips get a painted mouth interior."""
    if which == "portrait":
        photo, lm = portrait
    else:
        from skimage import data

        photo = data.astronaut()
        lm = FaceDetector().detect(photo).landmarks.astype(np.float64)
    gray = _gray(photo)
    frames = WarpRenderer(gray, lm).render(smile(lm, frames=3, gain=0.2, part=0.3))
    spread = frames.max(-1).astype(int) - frames.min(-1)
    assert spread.max() == 0
    colour = WarpRenderer(photo, lm).render(smile(lm, frames=3, gain=0.2, part=0.3))
    assert not np.array_equal(colour[-1], WarpRenderer(photo, lm).render(smile(lm, frames=3, gain=0.2))[-1])


def test_the_painted_mouth_takes_the_photos_colour_cast(portrait):
    from dataclasses import replace

    from cmmnet.render.config import WarpRenderConfig
    from cmmnet.render.refine import LUMA

    photo, lm = portrait
    cfg = WarpRenderConfig()
    neutral = WarpRenderer(photo, lm, replace(cfg, mouth_cast=0.0))
    warm = WarpRenderer(photo, lm)  # the portrait's skin is redder and less blue than FRL-London's median
    assert np.allclose(neutral._teeth @ LUMA, warm._teeth @ LUMA, rtol=1e-6)  # the same light
    ratio = lambda c: c[0] / c[2]  # noqa: E731
    assert ratio(warm._teeth) > 1.15 * ratio(neutral._teeth)
    # a skin of the reference colour casts nothing; a cooler one makes the teeth cooler
    skin_box = (slice(int(lm[:, 1].min()), int(lm[:, 1].max())), slice(int(lm[:, 0].min()), int(lm[:, 0].max())))
    plain = photo.copy()
    plain[skin_box] = (np.array(cfg.skin_reference) * 150).round().astype(np.uint8)
    assert np.allclose(WarpRenderer(plain, lm)._teeth, WarpRenderer(plain, lm, replace(cfg, mouth_cast=0.0))._teeth,
                       rtol=0.01)
    plain[skin_box] = (150, 150, 170)
    assert ratio(WarpRenderer(plain, lm)._teeth) < ratio(neutral._teeth)


def test_dlib_sees_the_mouth_widen(portrait):
    """What dlib finds in the rendered frames follows the target landmarks' mouth-width gain: the median over four
    frames of a growing smile (lip corners out by 0.075-0.3 IOD). One frame alone is not a measure: dlib's corners
    on this portrait move by 3 px when the field under the eyes changes by 0.4 px. On this portrait, for this
    corners-only motion, dlib sees 0.55 of the gain (FRL-Smile's people with generated smiles: 0.9-1.3)."""
    photo, lm = portrait
    targets = smile(lm, frames=5, gain=0.3)
    frames = WarpRenderer(photo, lm).render(targets)

    def width(p: np.ndarray) -> float:
        return float(np.linalg.norm(p[54] - p[48]))

    detector = FaceDetector()
    seen = [width(detector.detect(f).landmarks.astype(np.float64)) / width(lm) - 1 for f in frames[1:]]
    wanted = [width(t) / width(targets[0]) - 1 for t in targets[1:]]
    assert np.median(np.divide(seen, wanted)) >= 0.45


BAD = {
    "a grey photo without channels": (np.zeros((64, 64), np.uint8), np.zeros((68, 2)), "(H, W, 3) uint8"),
    "a float photo": (np.zeros((64, 64, 3), np.float32), np.zeros((68, 2)), "(H, W, 3) uint8"),
    "too few landmarks": (np.zeros((64, 64, 3), np.uint8), np.zeros((5, 2)), "68 finite"),
    "NaN landmarks": (np.zeros((64, 64, 3), np.uint8), np.full((68, 2), np.nan), "68 finite"),
    "a face without eye distance": (np.zeros((64, 64, 3), np.uint8), np.zeros((68, 2)), "too small"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_clear_error(case):
    photo, lm, message = BAD[case]
    with pytest.raises(CmmnetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        WarpRenderer(photo, lm)


@pytest.mark.parametrize("targets", [np.zeros((3, 5, 2)), np.zeros((68, 2)), np.full((2, 68, 2), np.inf)])
def test_bad_targets_are_one_clear_error(portrait, targets):
    photo, lm = portrait
    with pytest.raises(CmmnetError, match="target landmarks"):
        WarpRenderer(photo, lm).render(targets)


def test_same_input_same_frames(portrait):
    photo, lm = portrait
    targets = smile(lm, frames=3, gain=0.2, part=0.2)
    assert np.array_equal(WarpRenderer(photo, lm).render(targets), WarpRenderer(photo, lm).render(targets))
    assert torch.get_num_threads() >= 1


def test_frames_in_any_chunks_are_the_same(portrait):
    """Frames are sampled a few at a time and the spline evaluated a block of nodes at a time (bounded memory): how
    many frames at once changes no byte, how many nodes at once no more than float rounding; a WarpVideo read clip
    by clip, frame by frame or whole is the one rendering of all clips."""
    from dataclasses import replace

    from cmmnet.render import WarpRenderConfig, WarpVideo

    photo, lm = portrait
    clips = np.stack([smile(lm, frames=7, gain=0.2, part=0.3), smile(lm, frames=7, gain=0.1, close_eyes=0.5)])
    flat = clips.reshape(-1, 68, 2)
    one, cfg = WarpRenderer(photo, lm), WarpRenderConfig()
    blocks = WarpRenderer(photo, lm, replace(cfg, field=replace(cfg.field, kernel_block=5000)))
    region = one.region(flat)
    assert torch.allclose(blocks.field(flat, region), one.field(flat, region), atol=1e-2)
    whole = one.render(flat)  # (14, H, W, 3): one region for both clips
    few = WarpRenderer(photo, lm, replace(cfg, chunk=3))
    assert np.array_equal(few.render(flat), whole)
    video = WarpVideo(few, clips)
    assert video.shape == (2, 7, *photo.shape) and len(video) == 2
    # a region per clip: each clip is rendered as if it were alone, whatever the other clips are
    each = np.stack([one.render(c) for c in clips])  # (2, 7, H, W, 3)
    assert not np.array_equal(each.reshape(whole.shape), whole)  # the regions differ, and so do the frames
    assert np.array_equal(np.asarray(video), each)
    assert np.array_equal(video[1], each[1])
    assert np.array_equal(np.stack(list(video.frames(1, [6, 2]))), each[1, [6, 2]])


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    """The convex hull's vertices by qhull (scipy), sorted: the oracle for hull_polygon."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.unique(points.reshape(-1, 2), axis=0)
    try:
        return np.unique(pts[ConvexHull(pts).vertices], axis=0)
    except QhullError:  # fewer than three points off one line
        assume(False)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(3, 400), grid=st.sampled_from([0, 1, 4]))
def test_the_hull_is_qhulls(seed, n, grid):
    """The points filtered out before the chain (inside their extremes' polygon) never change the hull: its
    vertices are qhull's, on random clouds, clouds on a coarse integer grid (ties, collinear points) and faces over
    many frames; the polygon goes round them in order (it contains every point)."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, 2)) * (10, 3)
    if grid:
        pts = np.round(pts * grid) / grid
    _assert_hull(pts)


def test_the_hull_of_a_faces_frames(portrait):
    _assert_hull(np.concatenate([smile(portrait[1], 20, part=0.2, close_eyes=1.0), smile(portrait[1], 20, gain=0.3)]))


def _assert_hull(points: np.ndarray) -> None:
    polygon = hull_polygon(points)
    np.testing.assert_array_equal(np.unique(polygon, axis=0), _hull_vertices(points))
    assert distance_outside(polygon, points.reshape(-1, 2)).max() < 1e-9


def _assert_meshes_cover_their_rings(landmarks: np.ndarray) -> int:
    """Each eye mesh of a photo with ``landmarks``: its triangles between the outline of the lids' strips (corners
    and lid guides' curves) and the ring cover what lies between them once (their areas, none degenerate, add up to
    the ring's less the outline's). Returns the number of meshes."""
    iod = float(inter_ocular_distance(landmarks))
    cfg = FieldConfig()
    src, _ = prepare_shapes(landmarks, landmarks[None], iod, cfg)
    g_src, _, hangs = guide_points(src, src[None], np.zeros((0, 2)), iod, cfg)
    meshes = eye_meshes(src, g_src, hangs, iod)
    for mesh in meshes:
        twice = _area2(mesh.rest[mesh.triangles[(mesh.triangles >= INNER).any(1)]])  # (M',) those with a ring vertex
        assert np.abs(twice).min() > 1e-6 * iod**2
        outline = mesh.rest[[0, *_G.tolist(), 1, *_H[::-1].tolist()]]
        assert np.abs(twice).sum() / 2 == pytest.approx(_polygon_area(mesh.ring) - _polygon_area(outline), rel=1e-9)
    return len(meshes)


@settings(max_examples=60, deadline=None)
@given(angle=st.floats(-1.5, 1.5), scale=st.floats(0.1, 5.0), noise=st.floats(0.0, 0.1), seed=st.integers(0, 999))
def test_the_eye_meshes_cover_their_rings_once(portrait, angle, scale, noise, seed):
    """On the portrait turned, scaled and with its points moved at random (up to 0.1 IOD, where some eyes' outlines
    are no longer star-shaped and get no mesh): every eye that gets a mesh has one whose ring is covered once."""
    lm = portrait[1]
    c, s = np.cos(angle), np.sin(angle)
    moved = (lm - lm.mean(0)) @ np.array([[c, s], [-s, c]]) * scale + 500.0
    moved += np.random.default_rng(seed).normal(size=moved.shape) * noise * inter_ocular_distance(moved)
    _assert_meshes_cover_their_rings(moved)


@pytest.mark.parametrize(("dent", "covered"), [(0.0, True), (0.5, True), (1.6, False)])
def test_the_ring_between_two_loops_is_covered_once_or_refused(dent, covered):
    """`_annulus` on an ellipse of 32 points around a 12-point inner loop: an inner loop dented towards its centre
    stays star-shaped about it (covered once), one dented through it is not (refused, None: that eye gets no mesh)."""
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    radius = np.where(np.arange(12) == 3, 1.0 - dent, 1.0)  # one vertex pushed in (through the centre at dent > 1)
    inner = np.stack([np.cos(angles) * radius, 0.6 * np.sin(angles) * radius], 1)
    ring = np.stack([3 * np.cos(np.linspace(0, 2 * np.pi, 32, endpoint=False)),
                     2 * np.sin(np.linspace(0, 2 * np.pi, 32, endpoint=False))], 1)
    at = np.concatenate([inner, ring])
    tris = _annulus(list(range(12)), list(range(12, 44)), at, np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert (tris is not None) == covered
    if covered:
        twice = _area2(at[np.array(tris)])  # (M,)
        assert np.abs(twice).sum() / 2 == pytest.approx(_polygon_area(ring) - _polygon_area(inner), rel=1e-9)


def test_the_eye_meshes_of_real_faces_cover_their_rings_once(portrait, frl_faces):
    assert sum(_assert_meshes_cover_their_rings(lm) for _, lm in [portrait, *frl_faces.values()]) == 10


def test_the_warp_renderer_imports_no_scipy():
    """`cmmnet generate` does not pay for importing scipy (0.3 s): rendering eyes that close (their meshes) and a
    smile goes without it."""
    code = ("import sys\nfrom importlib import resources\nfrom cmmnet.faces import FaceDetector, read_image\n"
            "from cmmnet.render import WarpRenderer\n"
            "photo = read_image(resources.files('cmmnet') / 'assets' / 'example.jpg')\n"
            "lm = FaceDetector().detect(photo).landmarks.astype(float)\n"
            "targets = lm[None].repeat(2, 0)\ntargets[1, [37, 38, 43, 44]] = targets[1, [41, 40, 47, 46]]\n"
            "targets[1, [48, 54], 0] += (-9, 9)\nWarpRenderer(photo, lm).render(targets)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]"], out.stderr


# --- closed lips that the points part (cmmnet.render.lips) -------------------------------------------------------


@pytest.fixture(scope="module")
def frl_faces(frl_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """FRL-London photos and their dlib landmarks: 025 and 126 neutral (closed lips that dlib parts by 0.06 and
    0.10 IOD), 001 neutral (closed, points closed), 107 smiling (teeth between parted points)."""
    det = FaceDetector()
    out = {}
    for name in ("025_03", "126_03", "001_03", "107_08"):
        photo = read_image(frl_dir / f"{name}.jpg")
        out[name] = photo, det.detect(photo).landmarks.astype(np.float64)
    return out


@pytest.mark.parametrize(("name", "closed"), [("025_03", True), ("126_03", True), ("001_03", False),
                                              ("107_08", False)])
def test_closed_lips_that_the_points_part_are_closed(frl_faces, name, closed):
    from cmmnet.data.proxies import mouth_opening
    from cmmnet.render.lips import closed_lip_shift, lip_coloured_share

    photo, lm = frl_faces[name]
    shift = closed_lip_shift(photo, lm, 0.03, 0.9)
    assert (np.abs(shift).max() > 0) == closed
    assert not shift[[i for i in range(68) if i not in (61, 62, 63, 65, 66, 67)]].any()  # the inner lips alone
    moved = lm + shift
    if closed:
        assert mouth_opening(lm) > 0.05 and lip_coloured_share(photo, lm) > 0.95
        assert mouth_opening(moved) < 1e-9  # each pair on the line where the lips meet, between its two points
        for u, d in ((61, 67), (62, 66), (63, 65)):
            t = (moved[u] - lm[u]) @ (lm[d] - lm[u]) / ((lm[d] - lm[u]) @ (lm[d] - lm[u]))
            assert -1e-9 <= t <= 1 + 1e-9
        # a grey copy cannot tell lips from teeth by colour, and points out of order (dlib lost the mouth) are
        # left as they are
        assert not closed_lip_shift(_gray(photo), lm, 0.03, 0.9).any()
        crossed = lm.copy()
        crossed[[61, 62, 63, 65, 66, 67]] = lm[[67, 66, 65, 63, 62, 61]]
        assert not closed_lip_shift(photo, crossed, 0.03, 0.9).any()
    elif name == "107_08":
        assert mouth_opening(lm) > 0.1 and lip_coloured_share(photo, lm) < 0.5


def test_the_renderer_closes_them_in_every_frame(frl_faces):
    """025's closed lips: the renderer moves them as closed lips (its shapes have the shift; frame 0 is the photo)
    and paints the mouth's inside when the motion parts them, which it did not when the points decided."""
    from dataclasses import replace

    photo, lm = frl_faces["025_03"]
    renderer = WarpRenderer(photo, lm)
    trusting = WarpRenderer(photo, lm, replace(renderer.cfg, lip_gap="landmarks"))
    assert renderer.paints_mouth and not trusting.paints_mouth and not trusting.lip_shift.any()
    np.testing.assert_allclose(renderer.landmarks, lm + renderer.lip_shift)
    targets = smile(lm, frames=3, gain=0.2, part=0.15)
    frames = renderer.render(targets)
    mse = float(((frames[0].astype(np.float64) - photo) ** 2).mean())
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40
    mouth = (slice(int(lm[51, 1]), int(lm[57, 1]) + 1), slice(int(lm[48, 0]), int(lm[54, 0]) + 1))

    def teeth(f: np.ndarray) -> int:  # pixels of the painted teeth's colour more than in the photo
        near = lambda g: int((np.linalg.norm(g[mouth].astype(float) - renderer._teeth, axis=-1) < 25).sum())  # noqa: E731
        return near(f) - near(photo)

    assert teeth(frames[-1]) > 100 and teeth(frames[-1]) > 4 * teeth(trusting.render(targets)[-1])


def test_the_painted_teeth_take_the_light_from_the_eyes_not_the_skin(portrait, frl_faces):
    """A dark skin is not a dim light: the eyes' whites can brighten the painted mouth (025: ~50 % brighter, as its
    real teeth are), never darken it (the portrait, whose eyes are behind glasses, keeps the skin's light)."""
    from cmmnet.render.config import WarpRenderConfig
    from cmmnet.render.refine import LUMA
    from cmmnet.render.renderer import eye_light

    def teeth(photo, lm, light):
        return float(WarpRenderer(photo, lm, WarpRenderConfig(mouth_light=light))._teeth @ LUMA)

    dark_photo, dark_lm = frl_faces["025_03"]
    assert teeth(dark_photo, dark_lm, "eyes") > 1.4 * teeth(dark_photo, dark_lm, "skin")
    for photo, lm in (portrait, frl_faces["001_03"], frl_faces["126_03"]):
        assert teeth(photo, lm, "eyes") >= teeth(photo, lm, "skin") - 1e-6
    photo, lm = portrait
    assert teeth(photo, lm, "eyes") == pytest.approx(teeth(photo, lm, "skin"))
    flat = np.full((64, 64, 3), 164, np.uint8)  # eyes of the reference luma: light 1; of a quarter of it: 0.55
    eye_pts = np.concatenate([np.tile([[20.0, 20.0]], (36, 1)), [[10, 30], [15, 25], [20, 25], [25, 30], [20, 35],
                              [15, 35], [40, 30], [45, 25], [50, 25], [55, 30], [50, 35], [45, 35]],
                              np.tile([[40.0, 50.0]], (20, 1))])  # (68, 2)
    assert eye_light(flat, eye_pts, 164.0, (0.55, 1.2)) == pytest.approx(1.0, abs=0.01)
    assert eye_light(flat // 4, eye_pts, 164.0, (0.55, 1.2)) == pytest.approx(0.55)
    assert eye_light(flat, np.full((68, 2), -50.0), 164.0, (0.55, 1.2)) is None  # no eye in the photo
