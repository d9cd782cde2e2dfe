"""The warp renderer's smile shading (cmmnet.render.shading): the bundled map, its strength, what it changes."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import numpy as np
import pytest

from cmmnet.errors import CheckpointError
from cmmnet.faces import FaceDetector, read_image
from cmmnet.faces.align import estimate_alignment, transform_points
from cmmnet.render import WarpRenderer
from cmmnet.render.config import WarpRenderConfig
from cmmnet.render.shading import (
    BlockShading,
    ShadingConfig,
    SmileShading,
    fit_affine,
    load_shading,
    log_ratio,
    mean_log_ratio,
    save_shading,
    skin_mask,
)
from test_render import smile


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    photo = read_image(resources.files("cmmnet") / "assets" / "example.jpg")
    return photo, FaceDetector().detect(photo).landmarks.astype(np.float64)


def test_the_bundled_map_darkens_the_folds_beside_the_mouth(portrait):
    """The mean ratio image of FRL-London's train people: the nasolabial folds darken, the forehead stays."""
    shading = load_shading()
    cfg = shading.cfg
    assert shading.log_ratio.shape == (cfg.align.size, cfg.align.size) and cfg.people == 64
    assert 0.1 < cfg.gain < 0.2 and np.abs(shading.log_ratio).max() < 0.2
    _, lm = portrait
    p = transform_points(lm, fit_affine(lm, shading.neutral))  # the portrait's points in the map's frame
    iod = float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0)))

    def at(q: np.ndarray) -> float:
        x, y = np.round(q).astype(int)
        return float(shading.log_ratio[y - 1:y + 2, x - 1:x + 2].mean())

    for nose, corner in ((31, 48), (35, 54)):
        outwards = np.sign(p[corner, 0] - p[27, 0]) * np.array([0.08 * iod, 0.0])
        assert at(0.5 * (p[nose] + p[corner]) + outwards) < -0.02
    assert abs(at(np.array([p[27, 0], p[19, 1] - 0.15 * iod]))) < 0.01


def test_strength_follows_the_mouths_widening(portrait):
    photo, lm = portrait
    renderer = WarpRenderer(photo, lm)
    targets = smile(lm, frames=5, gain=0.6)
    region = renderer.region(targets)
    shade = renderer.block_shading(region)
    a = shade.strengths(np.concatenate([lm[None], targets]))
    assert a[0] == 0 and a[1] == 0  # the photo's own shape
    assert (np.diff(a[1:]) >= 0).all() and a[-1] == renderer.cfg.shading_cap  # grows, then capped
    assert shade.factors(lm[None]) is None
    narrower = lm.copy()
    narrower[48, 0] += 3
    narrower[54, 0] -= 3
    assert shade.strengths(narrower[None])[0] == 0


def test_shading_changes_the_face_only_where_a_smile_does(portrait):
    photo, lm = portrait
    targets = smile(lm, frames=4, gain=0.2)
    shaded = WarpRenderer(photo, lm).render(targets)
    plain = WarpRenderer(photo, lm, WarpRenderConfig(shading="none")).render(targets)
    assert np.array_equal(shaded[0], plain[0])  # frame 0: no motion, no shading
    diff = shaded[-1].astype(np.float64).mean(-1) - plain[-1].astype(np.float64).mean(-1)  # (H, W)
    assert np.abs(diff).max() > 3  # the apex is shaded
    ys, xs = np.nonzero(np.abs(diff) > 1)
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    lo, hi = lm.min(0) - 0.3 * iod, lm.max(0) + 0.3 * iod
    assert ((xs >= lo[0]) & (xs <= hi[0]) & (ys >= lo[1]) & (ys <= hi[1])).all()  # only on the face
    x, y = np.round(0.5 * (lm[31] + lm[48]) - [0.08 * iod, 0]).astype(int)
    assert diff[y - 2:y + 3, x - 2:x + 3].mean() < 0  # the fold beside the mouth darker


def test_log_ratio_of_the_same_face_or_a_change_of_exposure_is_nothing(portrait):
    _, lm = portrait
    cfg = ShadingConfig(align=replace(ShadingConfig().align, size=64))
    points = transform_points(lm, estimate_alignment(lm, cfg.align))  # (68, 2) the portrait's shape at 64 px
    face = np.random.default_rng(0).integers(60, 200, (64, 64, 3)).astype(np.uint8)
    ratio, skin = log_ratio(face, face, points, cfg)
    assert np.abs(ratio).max() < 1e-9 and skin.max() == 1.0
    grey = np.full((64, 64, 3), 100, np.uint8)
    ratio, _ = log_ratio(np.full((64, 64, 3), 130, np.uint8), grey, points, cfg)  # brighter overall
    assert np.abs(ratio).max() < 1e-9
    x, y = np.round(0.5 * (points[31] + points[48])).astype(int)  # right of the face's right fold
    darker = grey.copy()
    darker[y - 3:y + 4, x - 3:x + 4] = 80  # a fold
    ratio, skin = log_ratio(darker, grey, points, cfg)
    xo, yo = np.round(0.5 * (points[35] + points[54])).astype(int)  # the other side
    assert ratio[y, x] < -0.1 and abs(ratio[yo, xo]) < 1e-3
    mean = mean_log_ratio([ratio, np.zeros_like(ratio)], [skin, skin], cfg.min_cover)
    assert np.allclose(mean, ratio / 2, atol=1e-6)


def test_skin_leaves_out_the_eyes_and_lips(portrait):
    _, lm = portrait
    size = 128
    p = transform_points(lm, estimate_alignment(lm, replace(ShadingConfig().align, size=size)))
    skin = skin_mask(p, size, 1.35)
    for centre in (p[36:42].mean(0), p[42:48].mean(0), p[48:60].mean(0)):
        x, y = np.round(centre).astype(int)
        assert skin[y, x] == 0
    x, y = np.round(0.5 * (p[30] + p[2])).astype(int)  # the cheek
    assert skin[y, x] == 1


def test_a_map_saved_loads_the_same(tmp_path):
    cfg = ShadingConfig(gain=0.15, people=2, source="test")
    shape = np.random.default_rng(0).uniform(0, 128, (68, 2)).astype(np.float32)
    shading = SmileShading(np.linspace(-0.1, 0.1, 128 * 128, dtype=np.float32).reshape(128, 128), shape, shape + 1,
                           cfg)
    save_shading(shading, tmp_path / "map")
    back = load_shading(tmp_path / "map")
    assert back.cfg == cfg and np.allclose(back.log_ratio, shading.log_ratio, atol=1e-4)
    assert np.array_equal(back.neutral, shape) and np.array_equal(back.smile, shape + 1)


@pytest.mark.parametrize("damage", ["missing", "config", "map"])
def test_a_damaged_map_is_one_clear_error(tmp_path, damage):
    where = tmp_path / damage
    if damage != "missing":
        shape = np.zeros((68, 2), np.float32)
        save_shading(SmileShading(np.zeros((128, 128), np.float32), shape, shape, ShadingConfig()), where)
        (where / ("config.json" if damage == "config" else "map.safetensors")).write_text("{not")
    with pytest.raises(CheckpointError, match="smile shading"):
        load_shading(where)


def _laid(photo_shape: tuple[int, int], lm: np.ndarray):
    """The bundled map laid onto a photo of ``photo_shape`` (h, w) with landmarks ``lm``: its value at a pixel."""
    renderer = WarpRenderer(np.zeros((*photo_shape, 3), np.uint8), lm)
    region = renderer.region(lm[None])
    rows, cols = renderer.block_span(region.grid)
    shade = BlockShading(load_shading(), lm, region, (rows.stop - rows.start, cols.stop - cols.start), 1.5)

    def at(q: np.ndarray) -> float:
        x, y = np.round(q).astype(int)
        return float(shade.map[0, 0, y - rows.start, x - cols.start])

    return at


@pytest.mark.parametrize("case", ["longer", "turned", "smaller", "wider"])
def test_block_shading_places_the_map_by_the_photos_landmarks(portrait, case):
    """The map laid onto the block puts the folds beside this face's mouth, and a face stretched, turned or scaled
    (its landmarks moved by an affine map) gets the map moved alike: the same value at the same point of the
    face."""
    photo, lm = portrait
    at = _laid(photo.shape[:2], lm)
    assert at(0.5 * (lm[31] + lm[48])) < 0  # a fold
    centre = lm[36:48].mean(0)
    c, s = np.cos(np.deg2rad(25)), np.sin(np.deg2rad(25))
    a = {"longer": np.diag([1.0, 1.3]), "turned": np.array([[c, -s], [s, c]]), "smaller": np.eye(2) * 0.5,
         "wider": np.diag([1.25, 1.0])}[case]
    shift = np.array([60.0, 80.0])

    def moved(q: np.ndarray) -> np.ndarray:
        return (q - centre) @ a.T + centre + shift

    at2 = _laid((int(photo.shape[0] * 1.6), int(photo.shape[1] * 1.6)), moved(lm))
    for q in (0.5 * (lm[31] + lm[48]), 0.5 * (lm[35] + lm[54]), lm[8] - [0, 10], 0.5 * (lm[2] + lm[31])):
        assert abs(at(q) - at2(moved(q))) < 0.01


def test_cli_shading_option():
    import argparse

    from cmmnet.commands.generate_cmd import add_net_arguments, net_config

    p = argparse.ArgumentParser()
    add_net_arguments(p)
    assert net_config(p.parse_args([])).render.shading == "smile"
    assert net_config(p.parse_args(["--shading", "none"])).render.shading == "none"
