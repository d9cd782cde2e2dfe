"""Robust image reading: JPEG/PNG/WebP/BMP/TIFF, grayscale, alpha, 16-bit, EXIF orientation, huge images.

Memory is bounded for every accepted file (docs/reliability.md): the size is read from the header before any
pixel is decoded; JPEGs read for detection are decoded reduced by the decoder itself (1/2 .. 1/8, draft mode), and
any other decode that would need more than ``MAX_DECODE_BYTES`` is refused before it starts.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputFileError

# Refuse decompression bombs beyond this (400 Mpx), with a clear message rather than a crash.
MAX_PIXELS = 400_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# The most memory one full-size decode may take (width x height x bytes per pixel): 256 MB is e.g. a 9000 x 9000
# RGB photo or a 11000 x 11000 16-bit grayscale scan. Peak memory of a read stays under ~3x this.
MAX_DECODE_BYTES = 256 * 2**20
_HIGH_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_STRIP = 512  # rows converted at a time from a high-bit image to 8 bit


def check_image_path(path: Path) -> None:
    """One clear line for every path that is not a readable image file (before the decoder sees it)."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputFileError(f"{path}: symbolic link loop; give an image file") from e
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            broken = " (a broken symbolic link)" if path.is_symlink() else ""
            raise InputFileError(f"{path}: file not found{broken}; check the path") from e
        if e.errno == errno.EACCES:
            raise InputFileError(f"{path}: not readable (permission denied); check the permissions") from e
        raise InputFileError(f"{path}: cannot read it ({e.strerror}); give an image file") from e
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(f"{path}: is a directory; give an image file")
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{path}: not a regular file (a device, pipe or socket); give an image file")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path}: not readable (permission denied); check the file's permissions")
    if st.st_size == 0:
        with open(path, "rb") as f:  # files of /proc and /sys report 0 bytes yet hold text
            if not f.read(1):
                raise InputFileError(f"{path}: empty file (0 bytes); give a JPEG/PNG/WebP/BMP image")


def _bytes_per_pixel(img: Image.Image) -> int:
    if img.mode in ("I", "F", "P", "PA"):  # palette images are expanded to RGBA before they are shrunk
        return 4
    return len(img.getbands()) * (2 if img.mode.startswith("I;16") else 1)


def _check_size(path: Path, img: Image.Image, reduced_jpeg: bool) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise InputFileError(f"{path}: empty image ({w}x{h} pixels)")
    need = w * h * _bytes_per_pixel(img)
    if reduced_jpeg or need <= MAX_DECODE_BYTES:
        return
    raise InputFileError(f"{path}: {w}x{h} {img.format or ''} image would take {need / 2**20:.0f} MB to decode "
                         f"(limit {MAX_DECODE_BYTES // 2**20} MB; JPEG photos up to {MAX_PIXELS // 1_000_000} Mpx "
                         "are read reduced); downscale it or save it as JPEG")


def _high_bit_to_8(img: Image.Image) -> Image.Image:
    """A 16/32-bit or float image -> 8-bit "L", rescaled from its full range, a strip of rows at a time (bounded
    memory: never a float copy of the whole image)."""
    w, h = img.size
    top = 65535.0 if img.mode.startswith("I;16") else None
    if top is None:  # 32-bit int / float: 0..255 unless the data go beyond
        hi = img.getextrema()[1]
        top = 255.0 if hi <= 255 else float(hi)
    out = np.empty((h, w), dtype=np.uint8)
    for y in range(0, h, _STRIP):
        rows = np.asarray(img.crop((0, y, w, min(h, y + _STRIP))), dtype=np.float32)
        out[y:y + len(rows)] = np.clip(rows / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out)


def _to_rgb8(img: Image.Image) -> np.ndarray:
    """Any 8-bit PIL mode -> (H, W, 3) uint8 RGB. Alpha is composited on white."""
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """Down to a longer side of ``max_side``: first by an integer factor (cheap, box filter), then Lanczos."""
    factor = max(img.size) // max_side
    if factor >= 2:
        img = img.reduce(factor)
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def read_image_scaled(path: str | Path, max_side: int | None = None) -> tuple[np.ndarray, float]:
    """Read an image as (H, W, 3) uint8 RGB, downscaled so its longer side is at most ``max_side``.

    Returns ``(image, scale)`` where ``scale`` = original pixels per returned pixel (1.0 when not downscaled); a
    point ``p`` of the returned image (pixel centres at integers) is ``(p + 0.5) * scale - 0.5`` in the file. JPEGs are
    decoded at reduced resolution directly (DCT scaling), which keeps memory bounded for very large photos; any
    other decode needing more than ``MAX_DECODE_BYTES`` is refused (InputFileError) before it starts.
    """
    path = Path(path)
    check_image_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                full_w, full_h = img.size
                reduce_jpeg = max_side is not None and img.format == "JPEG" and max(full_w, full_h) > max_side
                _check_size(path, img, reduce_jpeg)  # from the header, before any pixel is decoded
                if reduce_jpeg:
                    img.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 size
                img.load()
                orientation = img.getexif().get(0x0112, 1)  # after load: PNG's getexif() decodes the image
                if img.mode in _HIGH_BIT:
                    img = _high_bit_to_8(img)
                elif img.mode in ("P", "PA", "1"):  # no reduce / resample in these modes
                    img = img.convert("L" if img.mode == "1" else "RGBA")
                if max_side is not None and max(img.size) > max_side:
                    img = _shrink(img, max_side)
                img = ImageOps.exif_transpose(img) if orientation != 1 else img
                if orientation in (5, 6, 7, 8):
                    full_w, full_h = full_h, full_w
                arr = _to_rgb8(img)
    except InputFileError:
        raise
    except UnidentifiedImageError as e:
        raise InputFileError(f"{path}: not a readable image (expected JPEG, PNG, WebP or BMP)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputFileError(f"{path}: image too large (over {MAX_PIXELS // 1_000_000} Mpx); downscale it first") from e
    except MemoryError as e:
        raise InputFileError(f"{path}: not enough memory to decode this image; downscale it first") from e
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        raise InputFileError(f"{path}: truncated or damaged image ({e})") from e
    scale = full_w / arr.shape[1]  # thumbnail keeps the aspect ratio (to rounding): one scale for x and y
    return arr, float(scale)


def check_image_array(image: object, name: str = "image") -> np.ndarray:
    """An image given as an array (the Python API): (H, W, 3) uint8 RGB, non-empty, within ``MAX_DECODE_BYTES``;
    returns it C-contiguous, else InputFileError naming what is wrong."""
    if not isinstance(image, np.ndarray):
        raise InputFileError(f"{name}: expected an (H, W, 3) uint8 numpy array or an image path, got "
                             f"{type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputFileError(f"{name}: array of shape {image.shape}; expected (H, W, 3) RGB")
    if image.dtype != np.uint8:
        raise InputFileError(f"{name}: array of dtype {image.dtype}; expected uint8 RGB (0..255)")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputFileError(f"{name}: empty image array of shape {image.shape}")
    if image.nbytes > MAX_DECODE_BYTES:
        raise InputFileError(f"{name}: {image.shape[1]}x{image.shape[0]} array over {MAX_DECODE_BYTES // 2**20} MB; "
                             "downscale it first")
    return np.ascontiguousarray(image)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB at full resolution; EXIF orientation honoured."""
    return read_image_scaled(path, None)[0]
