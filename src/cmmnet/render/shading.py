"""Smile shading: the light a smile changes on the skin, laid over the warp as a mean expression ratio image.

A warp moves the photo's own pixels, so it cannot make what a smile adds to the skin's shading: deeper nasolabial
folds, raised cheeks, creases at the eyes' outer corners. An expression ratio image (Liu, Shan & Zhang, "Expressive
expression mapping with ratio images", SIGGRAPH 2001) carries exactly that: the smiling face's luminance over the
neutral face's, once both have the same shape. Here it is the mean over FRL-London's train people
(``scripts/make_smile_shading.py``): each neutral photo is moved onto its own smiling photo's landmarks by the warp
renderer (without shading), both are aligned (:func:`cmmnet.faces.estimate_alignment`), and the log luminance
ratio, blurred, its median over the skin taken out (a change of exposure between the two shots is no smile), is
brought onto the people's mean smiling shape by an affine fit of the landmarks and averaged over the people on the
skin only (the eyes and lips, which the renderer moves or paints itself, are left out). The map is stored with the
people's mean neutral and smiling shapes in its frame and their mean mouth-width gain.

The renderer multiplies each frame's face by ``exp(a * log_ratio)``, the map laid onto the photo by the affine fit
of the photo's landmarks to the mean neutral shape (faces longer or wider than the mean get their folds where
theirs are; the eyes and the face's outline barely move in a smile, so one placement serves every frame), where
``a`` is the frame's mouth-width gain over the people's mean (0 at the photo's own shape, so frame 0 stays the
photo; at most ``WarpRenderConfig.shading_cap``). The three channels take the same factor: a greyscale photo stays
grey.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..config import from_dict
from ..data.proxies import lip_corner_distance
from ..errors import CheckpointError
from ..faces.align import AlignConfig, transform_points
from ..io import atomic_write_bytes, atomic_write_text
from .mask import Region
from .refine import LUMA

SHADING_DIR = Path(__file__).resolve().parent.parent / "assets" / "smile_shading"
MAP_NAME, CONFIG_NAME = "map.safetensors", "config.json"
JAW, BROWS = list(range(17)), list(range(26, 16, -1))  # the face's outline: jaw, then the brows right to left
HOLES = (range(36, 42), range(42, 48), range(48, 60))  # eyes and outer lips: moved or painted by the renderer


@dataclass(frozen=True)
class ShadingConfig:
    """How a smile shading map was made, stored beside it."""

    align: AlignConfig = field(default_factory=lambda: AlignConfig(size=128))  # the frame the map lives in
    blur: float = 1.0  # px of that frame: Gaussian sigma of each person's log ratio (misregistration, skin texture)
    hole_scale: float = 1.35  # the eyes' and lips' outlines scaled by this about their centres are left out
    offset: float = 8.0  # grey levels added to both luminances before the log ratio (dark pixels)
    min_cover: float = 0.5  # share of the people whose skin covers a pixel for the map to take it fully there
    gain: float = 0.0  # the people's mean mouth-width gain (what a = 1 means)
    people: int = 0
    source: str = ""


@dataclass(frozen=True)
class SmileShading:
    log_ratio: np.ndarray  # (S, S) float32 in the frame of cfg.align, on the mean smiling shape
    neutral: np.ndarray  # (68, 2) float32 the people's mean neutral shape in that frame
    smile: np.ndarray  # (68, 2) float32 their mean smiling shape
    cfg: ShadingConfig


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) the affine map taking points ``src`` (N, 2) closest to ``dst`` (N, 2) (least squares)."""
    a = np.hstack([np.asarray(src, np.float64), np.ones((len(src), 1))])  # (N, 3)
    return np.linalg.lstsq(a, np.asarray(dst, np.float64), rcond=None)[0].T


def resample(image: np.ndarray, m: np.ndarray, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)
             ) -> np.ndarray:
    """``shape`` (h, w): ``image`` (H, W) read bilinearly (0 outside) at ``m`` (2, 3) of each output pixel, whose
    top-left pixel is at ``origin`` (x, y)."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    at = transform_points(np.stack([xs + origin[0], ys + origin[1]], -1), m)  # (h, w, 2) image px
    h, w = image.shape
    grid = torch.from_numpy(at / np.array([max(w - 1, 1), max(h - 1, 1)]) * 2 - 1).float()[None]
    src = torch.from_numpy(np.asarray(image, np.float32))[None, None]
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0, 0].double().numpy()


def skin_mask(points: np.ndarray, size: int, hole_scale: float) -> np.ndarray:
    """(size, size) float in [0, 1]: the face inside its jaw and brows, without the eyes and the outer lips (their
    outlines scaled by ``hole_scale``), for 68 ``points`` in pixels of a ``size`` square."""
    im = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(im)
    draw.polygon([tuple(p) for p in points[JAW + BROWS].tolist()], fill=255)
    for hole in HOLES:
        ring = points[list(hole)]
        centre = ring.mean(0)
        draw.polygon([tuple(p) for p in (centre + hole_scale * (ring - centre)).tolist()], fill=0)
    return np.asarray(im, np.float64) / 255.0


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` (H, W) blurred by a Gaussian of ``sigma`` px (edges replicated)."""
    if sigma <= 0:
        return image
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = torch.from_numpy(k / k.sum())
    x = torch.from_numpy(np.asarray(image, np.float64))[None, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return x[0, 0].numpy()


def log_ratio(smile: np.ndarray, warped: np.ndarray, points: np.ndarray, cfg: ShadingConfig
              ) -> tuple[np.ndarray, np.ndarray]:
    """One person's blurred log luminance ratio of ``smile`` over ``warped`` (both (S, S, 3) uint8, aligned alike,
    the smile's landmarks ``points`` (68, 2)), its median over the skin taken out, and the skin mask (S, S)."""
    size = cfg.align.size
    skin = skin_mask(points, size, cfg.hole_scale)
    ratio = np.log(np.asarray(smile, np.float64) @ LUMA + cfg.offset) - np.log(
        np.asarray(warped, np.float64) @ LUMA + cfg.offset)
    ratio = _gaussian(ratio, cfg.blur)
    inside = skin > 0.5
    if inside.any():
        ratio = ratio - np.median(ratio[inside])
    return ratio * skin, skin


def mean_log_ratio(ratios: list[np.ndarray], skins: list[np.ndarray], min_cover: float) -> np.ndarray:
    """(S, S) float32: the people's log ratios averaged where their skin is, faded out where less than
    ``min_cover`` of them have skin."""
    cover = np.mean(skins, 0)
    mean = np.sum(ratios, 0) / np.maximum(np.sum(skins, 0), 1e-6)
    return (mean * np.clip(cover / max(min_cover, 1e-6), 0.0, 1.0)).astype(np.float32)


def save_shading(shading: SmileShading, directory: str | Path, provenance: dict | None = None) -> None:
    """Write ``directory/map.safetensors`` and ``directory/config.json`` (with ``provenance``: how it was made; each
    to a temporary name, then renamed)."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = save({"log_ratio": torch.from_numpy(shading.log_ratio.astype(np.float16)),
                 "neutral": torch.from_numpy(shading.neutral.astype(np.float32)),
                 "smile": torch.from_numpy(shading.smile.astype(np.float32))})
    atomic_write_bytes(directory / MAP_NAME, data)
    meta = {"class": "SmileShading", "config": asdict(shading.cfg)}
    if provenance:
        meta["provenance"] = provenance
    atomic_write_text(directory / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")


@lru_cache(maxsize=4)
def load_shading(directory: str | Path = SHADING_DIR) -> SmileShading:
    """The smile shading map stored in ``directory`` (default: the bundled one)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    try:
        meta = json.loads((directory / CONFIG_NAME).read_text())
        tensors = load_file(str(directory / MAP_NAME))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SafetensorError) as e:
        raise CheckpointError(f"{directory}: no readable smile shading map ({e}); reinstall cmmnet") from e
    cfg = from_dict(ShadingConfig, meta.get("config", {}))
    lr, neutral, smile = (tensors.get(k) for k in ("log_ratio", "neutral", "smile"))
    if (meta.get("class") != "SmileShading" or lr is None or tuple(lr.shape) != (cfg.align.size,) * 2
            or any(t is None or tuple(t.shape) != (68, 2) for t in (neutral, smile))):
        raise CheckpointError(f"{directory}: not a smile shading map of {cfg.align.size} px; reinstall cmmnet")
    return SmileShading(lr.float().numpy(), neutral.float().numpy(), smile.float().numpy(), cfg)


class BlockShading:
    """The smile shading of one photo (landmarks (68, 2) photo px) over one face ``region`` whose block is ``block``
    (bh, bw) px, within the region's soft face mask: :meth:`factors` of frames."""

    def __init__(self, shading: SmileShading, landmarks: np.ndarray, region: Region, block: tuple[int, int],
                 cap: float):
        cfg = shading.cfg
        g, (bh, bw) = region.grid, block
        to_map = fit_affine(landmarks, shading.neutral)  # photo px -> the map's frame
        laid = torch.from_numpy(resample(shading.log_ratio, to_map, block, (g.x0, g.y0))).float()  # (bh, bw)
        face = F.interpolate(region.mask[None, None], size=g.pixel_size, mode="bilinear", align_corners=True)
        self.map = laid[None, None] * face[:, :, :bh, :bw]  # (1, 1, bh, bw): nothing beyond the face mask
        self.width = float(lip_corner_distance(np.asarray(landmarks, np.float64)))
        self.gain, self.cap = max(cfg.gain, 1e-6), cap

    def strengths(self, shapes: np.ndarray) -> np.ndarray:
        """(c,) the shading's strength for frames with landmarks ``shapes`` (c, 68, 2): their mouth-width gain over
        the photo's, in units of the map's mean gain, within [0, cap]."""
        gain = lip_corner_distance(np.asarray(shapes, np.float64)) / self.width - 1.0  # (c,)
        return np.clip(gain / self.gain, 0.0, self.cap)

    def factors(self, shapes: np.ndarray) -> torch.Tensor | None:
        """(c, 1, bh, bw) the factor each pixel of the frames' blocks is multiplied by; None when no frame is
        shaded."""
        a = self.strengths(shapes)
        if not (a > 0).any():
            return None
        return torch.exp(self.map * torch.from_numpy(a.astype(np.float32)).view(-1, 1, 1, 1))
