"""Robust image reading: JPEG/PNG/WebP/BMP/TIFF, grayscale, alpha, 16-bit, EXIF orientation, huge images."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputFileError

# Refuse decompression bombs beyond this (400 Mpx), with a clear message rather than a crash.
MAX_PIXELS = 400_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory; give an image file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: empty file (0 bytes); give a JPEG/PNG/WebP/BMP image")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path}: not readable (permission denied); check the file's permissions")


def _to_rgb8(img: Image.Image) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) uint8 RGB. Alpha is composited on white; 16/32-bit data are rescaled."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def read_image_scaled(path: str | Path, max_side: int | None = None) -> tuple[np.ndarray, float]:
    """Read an image as (H, W, 3) uint8 RGB, downscaled so its longer side is at most ``max_side``.

    Returns ``(image, scale)`` where ``scale`` = original pixels per returned pixel (1.0 when not downscaled); a
    point ``p`` of the returned image (pixel centres at integers) is ``(p + 0.5) * scale - 0.5`` in the file. JPEGs are
    decoded at reduced resolution directly (DCT scaling), which keeps memory bounded for very large photos.
    """
    path = Path(path)
    _check_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img) if max_side is None else img
                full_w, full_h = img.size
                if max_side is not None:
                    orientation = img.getexif().get(0x0112, 1)
                    if img.format == "JPEG" and max(full_w, full_h) > max_side:
                        img.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 size
                    img.load()
                    img = ImageOps.exif_transpose(img) if orientation != 1 else img
                    if orientation in (5, 6, 7, 8):
                        full_w, full_h = full_h, full_w
                    if max(img.size) > max_side:
                        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                arr = _to_rgb8(img)
    except UnidentifiedImageError as e:
        raise InputFileError(f"{path}: not a readable image (expected JPEG, PNG, WebP or BMP)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputFileError(f"{path}: image too large (over {MAX_PIXELS // 1_000_000} Mpx); downscale it first") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise InputFileError(f"{path}: truncated or damaged image ({e})") from e
    scale = full_w / arr.shape[1]  # thumbnail keeps the aspect ratio (to rounding): one scale for x and y
    return arr, float(scale)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB at full resolution; EXIF orientation honoured."""
    return read_image_scaled(path, None)[0]
