"""Landmark-guided thin-plate-spline (TPS) warp of the neutral face: an optional face input of G (not in the paper).

The paper feeds G (§3.4) the neutral face ``z_0`` as it is and lets the U-Net move every pixel. With
``UNetConfig.face_input = "warped"`` G is fed ``z_0`` warped so that its landmarks ``p_0`` land on the frame's
landmarks ``p_t`` instead (the same 4 channels; the landmark image ``y_t`` still comes along), so G only has to add
what a warp cannot: teeth, folds, shading. Motion-transfer methods (First Order Motion Model, LivePortrait) warp
the source the same way. Measured effect: docs/translation.md.

Backward mapping: a TPS (Bookstein 1989) interpolates, over the output frame, the source position of each target
landmark, anchored by a ring of fixed points outside the frame (:func:`cmmnet.faces.align.border_points`, as
FRL-Smile's morph mesh) so that the background stays put; the face is then sampled bilinearly. A small
``WarpConfig.regularization`` (the smoothing TPS) keeps the system solvable when target points coincide (closed
lips, closed eyes). Batched torch, no parameters; coordinates are (x, y) pixels with pixel centres at integers, as
in :mod:`cmmnet.faces`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..faces.align import border_points


@dataclass(frozen=True)
class WarpConfig:
    """How the neutral face is warped when ``UNetConfig.face_input = "warped"``."""

    regularization: float = 1.0  # smoothing-TPS lambda (px^2); keeps coincident target points solvable
    ring_per_side: int = 4  # fixed anchor points per side of the ring outside the frame
    grid_step: int = 4  # evaluate the spline every this many pixels (SSIM vs every pixel: -0.0006 on FRL test)


def ring_points(size: int, per_side: int = 4, margin: float = 0.5) -> torch.Tensor:
    """``4 * per_side`` fixed anchors on a square ``margin`` times the side outside an (S, S) frame, (Q, 2):
    :func:`cmmnet.faces.align.border_points`, the ring FRL-Smile's morph mesh uses too."""
    return torch.from_numpy(border_points(size, size, per_side, margin)).float()


def _kernel(r2: torch.Tensor) -> torch.Tensor:
    """TPS radial basis U(r) = r^2 log r, written in r^2: 0.5 r2 log r2 (0 at r = 0)."""
    return 0.5 * r2 * torch.log(r2.clamp_min(1e-12))


def tps_solve(centres: torch.Tensor, values: torch.Tensor, regularization: float) -> torch.Tensor:
    """Coefficients (B, Q + 3, D) of the smoothing TPS through ``values`` (B, Q, D) at ``centres`` (B, Q, 2): the
    kernel weights of the Q centres, then the affine part (constant, x, y). ``regularization`` (the lambda, in
    squared units of the coordinates) keeps coincident centres solvable."""
    b, q, _ = centres.shape
    ones = torch.ones(b, q, 1, device=centres.device, dtype=centres.dtype)
    affine = torch.cat([ones, centres], 2)  # (B, Q, 3)
    lhs = torch.zeros(b, q + 3, q + 3, device=centres.device, dtype=centres.dtype)
    eye = torch.eye(q, device=centres.device, dtype=centres.dtype)
    lhs[:, :q, :q] = _kernel(torch.cdist(centres, centres).pow(2)) + regularization * eye
    lhs[:, :q, q:] = affine
    lhs[:, q:, :q] = affine.transpose(1, 2)
    rhs = torch.cat([values, torch.zeros(b, 3, values.shape[2], device=centres.device, dtype=centres.dtype)], 1)
    return torch.linalg.solve(lhs, rhs)  # (B, Q+3, D)


def tps_evaluate(coef: torch.Tensor, centres: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The TPS of :func:`tps_solve` (``coef`` (B, Q + 3, D), ``centres`` (B, Q, 2)) at ``points`` (B, N, 2) ->
    (B, N, D)."""
    q = centres.shape[1]
    basis = _kernel(torch.cdist(points, centres).pow(2))  # (B, N, Q)
    return basis @ coef[:, :q] + points @ coef[:, q + 1:] + coef[:, q:q + 1]  # (B, N, D)


def tps_warp(image: torch.Tensor, source_points: torch.Tensor, target_points: torch.Tensor,
             config: WarpConfig | None = None) -> torch.Tensor:
    """Warp ``image`` (B, C, S, S) so that ``source_points`` (B, P, 2) move to ``target_points`` (B, P, 2).

    The spline is evaluated every ``config.grid_step`` pixels and the source positions are interpolated bilinearly in
    between (the spline is smooth; 16x fewer kernel evaluations at 4; 1 = every pixel). Runs in fp32 whatever the
    autocast state (a 1/256 bf16 error is a visible shift at 64 px).
    """
    cfg = config or WarpConfig()
    regularization, ring_per_side, grid_step = cfg.regularization, cfg.ring_per_side, cfg.grid_step
    b, _, s, _ = image.shape
    with torch.autocast(image.device.type, enabled=False):
        dtype = torch.float32
        ring = ring_points(s, ring_per_side).to(image.device)[None].expand(b, -1, -1)  # (B, R, 2)
        src = torch.cat([source_points.to(dtype), ring], 1)  # (B, Q, 2)
        dst = torch.cat([target_points.to(dtype), ring], 1)  # (B, Q, 2)
        coef = tps_solve(dst, src, regularization)  # (B, Q+3, 2)
        n = max(2, -(-(s - 1) // max(1, grid_step)) + 1)  # coarse grid points per side, spanning pixels 0..S-1
        axis = torch.linspace(0, s - 1, n, device=image.device, dtype=dtype)
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([gx, gy], -1).reshape(1, n * n, 2).expand(b, -1, -1)  # (B, n*n, 2) output positions
        coords = tps_evaluate(coef, dst, grid)  # (B, n*n, 2) source positions
        coords = coords.reshape(b, n, n, 2)
        if n != s:
            coords = F.interpolate(coords.permute(0, 3, 1, 2), size=(s, s), mode="bilinear", align_corners=True)
            coords = coords.permute(0, 2, 3, 1)  # (B, S, S, 2)
        norm = coords * (2.0 / (s - 1)) - 1.0  # grid_sample's [-1, 1] with align_corners=True
        out = F.grid_sample(image.to(dtype), norm, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(image.dtype)  # (B, C, S, S)
