"""The optional warped face input of G (models/warp.py, ``UNetConfig.face_input = "warped"``)."""

from __future__ import annotations

import pytest
import torch

from cmmnet.errors import CmmnetError
from cmmnet.models.io import load_pretrained, save_pretrained
from cmmnet.models.unet import UNetConfig, UNetGenerator
from cmmnet.models.warp import WarpConfig, ring_points, tps_warp


def _ramp(b: int = 1, s: int = 64) -> torch.Tensor:
    """(B, 2, S, S) images whose channels are the pixel's own x and y coordinate."""
    axis = torch.arange(s, dtype=torch.float32)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx, gy])[None].expand(b, -1, -1, -1).clone()


def _face_points(b: int = 3, seed: int = 0) -> torch.Tensor:
    """Landmark-like points: a jittered 8x8 lattice in the middle of a 64 px frame plus 4, (B, 68, 2)."""
    g = torch.Generator().manual_seed(seed)
    axis = torch.linspace(16, 47, 8)
    lattice = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(64, 2)
    extra = torch.tensor([[20.0, 52.0], [44.0, 52.0], [32.0, 12.0], [32.0, 56.0]])
    pts = torch.cat([lattice, extra])[None].expand(b, -1, -1)
    return pts + torch.rand(b, 68, 2, generator=g) - 0.5


def test_ring_surrounds_the_frame():
    ring = ring_points(64)
    assert ring.shape == (16, 2)
    assert (ring.min(0).values == -32).all() and (ring.max(0).values == 63 + 32).all()
    assert len({tuple(p) for p in ring.tolist()}) == 16


def test_same_points_is_the_identity():
    img = torch.rand(2, 3, 64, 64)
    p = _face_points(2)
    assert torch.allclose(tps_warp(img, p, p), img, atol=1e-3)


def test_source_points_land_on_the_target_points():
    src = _face_points(2, seed=1)
    dst = src.round() + torch.tensor([1.0, -1.0])  # every landmark moves by one pixel, onto pixel centres
    exact = WarpConfig(regularization=1e-6, grid_step=1)
    out = tps_warp(_ramp(2), src, dst, exact)  # (B, 2, S, S): the source position each output pixel came from
    x, y = dst[..., 0].long(), dst[..., 1].long()
    came_from = torch.stack([out[b, :, y[b], x[b]].T for b in range(2)])  # (B, 68, 2)
    assert torch.allclose(came_from, src, atol=0.02)
    # the coarse default grid (every 4 px, interpolated) stays within a fraction of a pixel for face-like motion
    coarse = tps_warp(_ramp(2), src, dst)
    assert (coarse - tps_warp(_ramp(2), src, dst, WarpConfig(grid_step=1))).abs().mean() < 0.05


def test_warp_runs_in_fp32_under_autocast():
    img = torch.rand(1, 3, 64, 64)
    src = _face_points(1)
    dst = src + 0.7
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = tps_warp(img, src, dst)
    assert out.dtype == torch.float32 and torch.allclose(out, tps_warp(img, src, dst), atol=1e-6)


def test_translator_face_input(tmp_path):
    torch.manual_seed(0)
    face = torch.rand(2, 3, 64, 64) * 2 - 1
    p0, pt = _face_points(2), _face_points(2) + torch.tensor([0.0, 1.5])
    plain = UNetGenerator(UNetConfig(width=0.125))
    assert plain.face_input_for(face, None, None) is face  # the paper's input: the neutral face itself
    warped = UNetGenerator(UNetConfig(width=0.125, face_input="warped", warp=WarpConfig(grid_step=2)))
    assert torch.equal(warped.face_input_for(face, p0, pt), tps_warp(face, p0, pt, WarpConfig(grid_step=2)))
    with pytest.raises(CmmnetError, match="landmarks"):
        warped.face_input_for(face, None, pt)
    save_pretrained(warped, warped.cfg, tmp_path / "g", name="UNetGenerator")
    _, cfg = load_pretrained(UNetGenerator, UNetConfig, tmp_path / "g")
    assert cfg == warped.cfg and cfg.warp.grid_step == 2


def test_flip_augmentation_flips_the_landmarks():
    from cmmnet.training.translation import AugmentConfig, augment_triples

    z0 = torch.rand(8, 3, 64, 64) * 2 - 1
    y = (torch.rand(8, 1, 64, 64) > 0.9).float()
    p = _face_points(8)
    a0, ay, az, ap = augment_triples(z0, y, z0.clone(), AugmentConfig(flip=0.5), torch.Generator().manual_seed(0),
                                     (p,))
    flipped = [not torch.equal(ay[i], y[i]) for i in range(8)]  # y is binary and only ever flipped
    for i in range(8):
        want = torch.stack([63 - p[i, :, 0], p[i, :, 1]], -1) if flipped[i] else p[i]
        assert torch.equal(ap[i], want)
    assert 0 < sum(flipped) < 8
