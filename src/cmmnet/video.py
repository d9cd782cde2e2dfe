"""Video files through PyAV: H.264 (libx264) writing, robust frame reading."""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path

import av
import numpy as np

from .errors import InputFileError
from .io import atomic_path

# libx264 holds about rc-lookahead + 22 frames (look-ahead, B-frames, references, threads): ~100 MB at 1024 x 1024
# with the "veryfast" preset's look-ahead of 10. Larger frames get a shorter look-ahead (down to 0, ~22 frames held),
# so that a 1920 x 1920 video takes ~240 MB to encode; up to 1024 x 1024 nothing changes. "veryfast" instead of
# libx264's default "medium" (measured on the warp renderer's 512 px clips): at one CRF lower (17 for 18), the same
# file size and look (PSNR against the frames within 0.35 dB of "faster" at CRF 18), with 25-45 % less encoding CPU
# and 25 % less memory than "faster".
_X264_PRESET, _X264_LOOKAHEAD, _X264_HELD, _X264_FULL_PIXELS = "veryfast", 10, 22, 1024 * 1024


def encoder_lookahead(width: int, height: int) -> int | None:
    """The libx264 look-ahead (frames) for ``width`` x ``height`` frames; None: the preset's own (10)."""
    pixels = width * height
    if pixels <= _X264_FULL_PIXELS:
        return None
    return max(0, (_X264_LOOKAHEAD + _X264_HELD) * _X264_FULL_PIXELS // pixels - _X264_HELD)


# Converted (yuv420p) frames :func:`write_video` keeps for frames shown again (its ``keys``), at most this many bytes.
_REUSED_BYTES = 8 * 2**20


def encoder_memory(width: int, height: int) -> int:
    """Bytes one encoder of :func:`write_video` holds for ``width`` x ``height`` frames (measured peaks: 19 MB at
    320 x 380, 31 MB at 512 x 512, 79 MB at 1024 x 768, 101 MB at 1024 x 1024; an upper bound over 1024 x 1024, whose
    look-ahead is shorter: 237 MB at 1920 x 1920), with the converted frames it keeps for reuse."""
    return 14 * 2**20 + 84 * width * height + _REUSED_BYTES


def _return_freed_memory() -> None:
    """Hand the memory an encoder freed back to the system: glibc keeps the freed pages of its threads' arenas, and
    over several videos they would add up to more than one encoder needs (nothing to do off glibc)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _yuv_frames(frames: Iterable[np.ndarray], keys: Iterable[Hashable | None] | None, h: int, w: int
                ) -> Iterator[av.VideoFrame]:
    """The frames as the encoder takes them: padded to even sizes, yuv420p, ``pts`` numbered; a frame whose key (not
    None) was seen is the kept conversion of the first, sent again (while the kept ones stay within
    ``_REUSED_BYTES``)."""
    ph, pw = h + h % 2, w + w % 2  # yuv420p needs even sizes
    converted: dict[Hashable, av.VideoFrame] = {}
    pairs = zip(frames, itertools.repeat(None)) if keys is None else zip(frames, keys, strict=True)
    for i, (frame, key) in enumerate(pairs):
        vf = None if key is None else converted.get(key)
        if vf is None:
            if (ph, pw) != (h, w):
                frame = np.pad(frame, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(
                format="yuv420p")  # as the encoder would convert it
            if key is not None and (len(converted) + 1) * pw * ph * 3 // 2 <= _REUSED_BYTES:
                converted[key] = vf
        vf.pts = i  # the encoder copies the frame when it takes it: a kept frame is sent again
        yield vf


def write_video(path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: float = 25.0,
                crf: int = 18, keys: Iterable[Hashable | None] | None = None) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames (an array, or an iterable of (H, W, 3) frames: one in memory at a time)
    as H.264 (yuv420p) atomically. Odd sizes are padded by one pixel; frames over 1024 x 1024 are encoded with a
    shorter look-ahead (:func:`encoder_lookahead`: bounded memory). ``keys``, one per frame: frames with the same
    key (not None) are the same image, converted to yuv420p once (while the converted frames kept stay within a few
    MB); the encoder is given the same frames as without them."""
    it = iter(frames)
    first = next(it, None)
    if first is None or first.ndim != 3 or first.shape[-1] != 3 or first.dtype != np.uint8:
        got = "no frame" if first is None else f"{first.shape} {first.dtype}"
        raise ValueError(f"write_video expects (T, H, W, 3) uint8 frames, got {got}")
    frames = itertools.chain([first], it)
    h, w, _ = first.shape
    ph, pw = h + h % 2, w + w % 2  # yuv420p needs even sizes
    path = Path(path)
    with atomic_path(path) as tmp:
        fmt = {".mp4": "mp4", ".avi": "avi", ".mkv": "matroska", ".mov": "mov"}.get(path.suffix.lower(), "mp4")
        with av.open(str(tmp), mode="w", format=fmt) as container:
            stream = container.add_stream("libx264", rate=int(round(fps)))
            stream.width, stream.height = pw, ph
            stream.pix_fmt = "yuv420p"
            lookahead = encoder_lookahead(pw, ph)
            stream.options = {"crf": str(crf), "preset": _X264_PRESET,
                              **({} if lookahead is None else {"rc-lookahead": str(lookahead)})}
            for vf in _yuv_frames(frames, keys, h, w):
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    _return_freed_memory()
    return path


def video_info(path: str | Path) -> dict[str, float | int]:
    """Frame rate, size and frame count (as the container reports it) of a video file."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            s = container.streams.video[0]
            return {
                "fps": float(s.average_rate or s.guessed_rate or 0.0),
                "width": int(s.codec_context.width),
                "height": int(s.codec_context.height),
                "frames": int(s.frames or 0),
            }
    except (av.FFmpegError, IndexError, OSError) as e:
        raise InputFileError(f"{path}: not a readable video ({e})") from e


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames. A file that cannot be opened raises InputFileError; a stream damaged
    part-way raises InputFileError after the frames decoded so far."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: video not found")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise InputFileError(f"{path}: not a readable video ({e})") from e
    with container:
        if not container.streams.video:
            raise InputFileError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, OSError) as e:
            raise InputFileError(f"{path}: damaged video stream ({e})") from e


def read_video(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """All frames (or the first ``max_frames``) as (T, H, W, 3) uint8."""
    out = []
    for i, f in enumerate(iter_frames(path)):
        if max_frames is not None and i >= max_frames:
            break
        out.append(f)
    if not out:
        raise InputFileError(f"{path}: no frames could be decoded")
    return np.stack(out)
