"""The refinement network R (:mod:`cmmnet.models.refiner`) applied to the warp renderer's face blocks.

For each rendered frame: the frame (the photo with its warped face block) is aligned at R's size with the
alignment of R's training faces (:func:`cmmnet.faces.estimate_alignment` on the photo's own landmarks: the one
transform of the photo to R's aligned frame), the frame's landmarks are drawn there, and R's change
``refined - warped`` (= ``m (r - warped)``, so already weighted by R's mask) is mapped back into the photo's pixels
through the inverse transform, weighted by the renderer's soft face mask and by a motion gate, and added to the
block. Outside R's mask and the face mask every pixel stays the warp's (so the photo's own detail, at its own
resolution), and the gate (0 at the photo's own shape, rising with a smoothstep to 1 once a landmark has moved
``WarpRenderConfig.refine_ramp`` inter-ocular distances) keeps a frame at the neutral shape exactly the photo. On a
greyscale photo R's change is added as its luma to all three channels: R learnt FRL-Smile's colours, and a
black-and-white photo stays black and white.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..faces.align import estimate_alignment, invert_transform, transform_points
from ..faces.draw import draw_landmarks
from ..models.refiner import RefinerNet
from .mask import Region

Colour = Literal["rgb", "grey"]  # the photo's face: in colour, or greyscale (R's change added as luma)
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights


def _normalised(xy: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """Pixel positions (..., 2) -> grid_sample's [-1, 1] (align_corners=True)."""
    return xy * torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)]) - 1.0


def _moved_pixels(h: int, w: int, m: np.ndarray, x0: float = 0.0, y0: float = 0.0) -> torch.Tensor:
    """(h, w, 2) float32: the pixel positions (x, y) of an (h, w) block whose top-left pixel is at (x0, y0), mapped
    by the (2, 3) transform ``m``."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return torch.from_numpy(transform_points(np.stack([xs + x0, ys + y0], -1), m)).float()


class BlockRefiner:
    """R on the face blocks of one photo (H, W, 3) uint8 with landmarks (68, 2), over one face ``region``."""

    def __init__(self, model: RefinerNet, photo: torch.Tensor, landmarks: np.ndarray, region: Region,
                 block: tuple[int, int], iod: float, ramp: float, colour: Colour):
        cfg = model.cfg
        self.colour = colour
        self.model, self.size, self.draw = model, cfg.image_size, cfg.draw
        self.landmarks, self.iod, self.ramp = landmarks, iod, ramp
        self.to_aligned = estimate_alignment(landmarks, cfg.align)  # (2, 3) photo px -> R's aligned px
        h, w = photo.shape[-2:]
        g, (bh, bw) = region.grid, block
        s = self.size
        # R's aligned pixels in the photo and in the block
        src = _moved_pixels(s, s, invert_transform(self.to_aligned))  # (S, S, 2) photo px
        self._in_photo = _normalised(src, w, h)[None]  # (1, S, S, 2)
        self._in_block = _normalised(src - torch.tensor([g.x0, g.y0]), bw, bh)[None]
        self._aligned_photo = F.grid_sample(photo, self._in_photo, mode="bilinear", padding_mode="border",
                                            align_corners=True)  # (1, 3, S, S) 0..255
        self._inside = F.grid_sample(torch.ones(1, 1, bh, bw), self._in_block, mode="bilinear",
                                     padding_mode="zeros", align_corners=True)  # (1, 1, S, S) 1 over the block
        # the block's pixels in R's aligned frame, and the face mask at them
        back = _moved_pixels(bh, bw, self.to_aligned, g.x0, g.y0)  # (bh, bw, 2) aligned px
        self._back = _normalised(back, s, s)[None]  # (1, bh, bw, 2)
        full = F.interpolate(region.mask[None, None], size=g.pixel_size, mode="bilinear", align_corners=True)
        self._face_mask = full[:, :, :bh, :bw]  # (1, 1, bh, bw)

    def gate(self, shapes: np.ndarray) -> torch.Tensor:
        """(c,) in [0, 1]: 0 at the photo's own shape, 1 once a landmark of ``shapes`` (c, 68, 2) has moved
        ``ramp`` IOD (a smoothstep between)."""
        moved = np.linalg.norm(np.asarray(shapes, np.float64) - self.landmarks, axis=-1).max(-1) / self.iod  # (c,)
        t = np.clip(moved / max(self.ramp, 1e-9), 0.0, 1.0)
        return torch.from_numpy((t * t * (3 - 2 * t)).astype(np.float32))

    @torch.no_grad()
    def apply(self, faces: np.ndarray, shapes: np.ndarray) -> np.ndarray:
        """Face blocks (c, bh, bw, 3) uint8 of frames with landmarks ``shapes`` (c, 68, 2) photo px -> the refined
        blocks (c, bh, bw, 3) uint8."""
        gate = self.gate(shapes)  # (c,)
        keep = np.flatnonzero(gate.numpy() > 0)
        if not len(keep):
            return faces
        c, s = len(keep), self.size
        block = torch.from_numpy(np.ascontiguousarray(faces[keep])).permute(0, 3, 1, 2).float()  # (c, 3, bh, bw)
        warped = F.grid_sample(block, self._in_block.expand(c, -1, -1, -1), mode="bilinear", padding_mode="zeros",
                               align_corners=True)  # (c, 3, S, S): the block's part, 0 outside it
        x = warped + (1 - self._inside) * self._aligned_photo  # (c, 3, S, S) the whole frame aligned, 0..255
        x = x / 127.5 - 1.0
        points = transform_points(np.asarray(shapes[keep], np.float64), self.to_aligned)  # (c, 68, 2) aligned px
        y = torch.from_numpy(np.stack([draw_landmarks(p, s, self.draw) for p in points]).astype(np.float32))[:, None]
        refined, _ = self.model.refine(x, y)  # (c, 3, S, S)
        change = (refined.float() - x) * 127.5  # (c, 3, S, S) grey levels, already weighted by R's mask
        if self.colour == "grey":
            luma = torch.from_numpy(LUMA.astype(np.float32)).view(1, 3, 1, 1)
            change = (change * luma).sum(1, keepdim=True).expand(-1, 3, -1, -1)  # (c, 3, S, S) the same in each
        back = F.grid_sample(change, self._back.expand(c, -1, -1, -1), mode="bilinear", padding_mode="zeros",
                             align_corners=True)  # (c, 3, bh, bw)
        out = block + back * self._face_mask * gate[keep, None, None, None]
        result = faces.copy()
        result[keep] = out.add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return result
