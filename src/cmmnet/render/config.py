"""Configs of the warp renderer (no torch imported: the command line derives its defaults from them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

Refine = Literal["on", "off"]  # WarpRenderConfig.refine
Eyelids = Literal["cover", "spline"]  # WarpRenderConfig.eyelids
Shading = Literal["smile", "none"]  # WarpRenderConfig.shading


@dataclass(frozen=True)
class FieldConfig:
    grid_step: float = 1 / 12  # coarse node spacing as a fraction of the IOD (at least 2 px)
    regularization: float = 1e-3  # smoothing-TPS lambda in IOD^2 units (spline's kernel in IOD units)
    max_displacement: float = 0.45  # each landmark moves at most this many IODs
    lid_guide: float = 0.6  # spline guides this share of the way from each upper lid up to its brow (0: none)
    under_eye_guide: float = 0.15  # IOD below each lower lid: a guide moving with it
    closed_gap: float = 0.01  # IOD: facing lip/lid points are kept at least this far apart (source and target)
    min_jacobian: float = 0.05  # least corner cross product of a mapped cell, relative to the undeformed cell
    repair_iterations: int = 6  # local smoothing passes around bad cells before the global fallback
    bisection_steps: int = 12  # of the global fallback's scale factor
    kernel_block: int = 1 << 22  # spline kernel entries (frames x nodes x centres) evaluated at once: bounds memory


@dataclass(frozen=True)
class MaskConfig:
    inner: float = 0.3  # IOD outside the landmarks' hull where the field still has full strength
    outer: float = 0.7  # IOD outside the hull where the field (and so every change) ends
    anchors_per_side: int = 8  # fixed spline anchors per side of the region's bounding box


@dataclass(frozen=True)
class WarpRenderConfig:
    field: FieldConfig = dataclasses.field(default_factory=FieldConfig)
    mask: MaskConfig = dataclasses.field(default_factory=MaskConfig)
    # cover: inside a ring around each eye a triangle mesh maps the lids exactly and a closing lid covers the eye
    # (cmmnet.render.eyes); spline: the field alone there (its nodes cannot follow a lid over an eye's opening)
    eyelids: Eyelids = "cover"
    eyelid_fade: tuple[float, float] = (0.015, 0.035)  # IOD of an eye's own motion over which its mesh fades in
    # IOD: a closing lid is its photo's lid skin and lash tips stretched over the eye (each lash a streak), so what
    # it shows is averaged along the eye line over this much either side at the lashes' top times the lid's closure
    # (less above; cmmnet.render.eyes), in 2 x `lid_smear_taps` + 1 samples; 0: not averaged. Nothing below a
    # closure of `lid_smear_onset` (a smile's narrowing eyes: FRL-Smile test people's mouth rows reach 0.15, the
    # eye mode 0.86-0.97), the full width from twice that.
    lid_smear: float = 0.07
    lid_smear_taps: int = 4
    lid_smear_onset: float = 0.15
    interpolation: Literal["bilinear", "bicubic"] = "bicubic"  # how the photo is sampled (bicubic keeps more detail)
    mouth_interior: Literal["painted", "none"] = "painted"  # what fills lips that part
    parted_lips: float = 0.03  # IOD: a photo with lips this far apart shows its own mouth interior (not painted)
    # pixels: lips that far apart by their points are closed all the same when at least `closed_lip_share` of the
    # pixels between them are lip-coloured (cmmnet.render.lips: dlib parts full closed lips); landmarks: the
    # points alone decide
    lip_gap: Literal["pixels", "landmarks"] = "pixels"
    closed_lip_share: float = 0.9
    paint_ramp: float = 2.0  # px: the painted interior fades in as the lips part this much beyond the photo's own gap
    # the light the painted mouth is scaled to. skin: the cheeks' and nose's luma, as FRL-Smile's frames are painted
    # (cmmnet.data.synth.render.skin_light), which takes a dark skin for a dim light and greys its teeth;
    # eyes: the larger of that and the eyes' light (sqrt of their 75th-percentile luma, the whites, over
    # `eye_reference`): the eyes can only brighten it, so shadowed eyes or glasses leave the skin's say
    mouth_light: Literal["eyes", "skin"] = "eyes"
    eye_reference: float = 164.0  # FRL-London's neutral photos: eyes' luma 127 (median) -> light 0.88, the skin's
    gray_spread: float = 3.0  # a photo whose face has at most this channel spread (grey levels) is greyscale
    # the painted mouth takes this share (0..1, in log space) of the photo's colour cast: its skin colour (cheeks and
    # nose, normalised by its mean) against FRL-London's median skin colour (80 neutral photos: 10-90 % within 5 %)
    mouth_cast: float = 0.5
    skin_reference: tuple[float, float, float] = (1.20, 0.95, 0.86)
    # on: when the weights have the refinement network R (cmmnet.models.refiner), it paints what the warp cannot make
    # (mouth inside and teeth, closing lids, shading); off: the plain warp. Weights without R render the plain warp.
    refine: Refine = "on"
    # smile: the skin's shading that a smile changes (folds, cheeks; cmmnet.render.shading, the bundled mean ratio
    # image of FRL-London's train people), as strong as the frame's mouth-width gain over theirs, at most
    # `shading_cap` times; none: the warp's pixels alone
    shading: Shading = "smile"
    shading_cap: float = 1.5
    refine_ramp: float = 0.05  # IOD: R's change fades in as the largest landmark motion from the photo grows to this
    chunk: int = 4  # frames sampled at once (bounds memory for large photos)
    chunk_pixels: int = 1 << 22  # and at most this many pixels of face region at once (large frames: fewer frames)
    cache_bytes: int = 1 << 27  # rendered face blocks kept for reuse (beyond: rendered again when a frame is read)
