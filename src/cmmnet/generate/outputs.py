"""What `cmmnet generate` and `cmmnet demo` write: videos, landmarks, the contact sheet, a preview and meta.json.

An output directory holds ``conditional.mp4``, ``mode_1.mp4`` ... ``mode_K.mp4`` (H.264 yuv420p, N frames at the
:class:`TimingConfig`'s frame rate): with the warp renderer (the default) the whole photo at its resolution (longer
side capped at ``GenerateConfig.max_side``), frame 0 the photo itself; with the paper renderer the 64 px faces
upscaled to ``OutputConfig.video_size``. ``preview.gif``: all K + 1 videos side by side, looping. ``landmarks.npy``
(K+1, N, 68, 2, aligned pixels), ``landmark_images.npy`` (K+1, N, S, S) uint8 (what G saw, x255), ``sheet.png``
(one row per sequence: landmark images, then faces, as the paper's Fig. 6), ``input_aligned.png``, ``meta.json``
(inputs with the timing, the video's rate and length, seed, renderer, the face's transform, weights hashes and
defaulted config keys, versions, timings). With crop (warp renderer): ``conditional_crop.mp4``,
``mode_k_crop.mp4``, the aligned faces at ``video_size``; with paste (paper renderer): ``conditional_pasted.mp4``,
``mode_k_pasted.mp4``, the faces mapped back into the photo. It is built under a temporary name and renamed into
place when complete. This module imports no torch (the command starts the face front end before torch loads).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, ImageDraw

from ..errors import CmmnetError
from ..faces.align import AlignConfig, between_alignments, compose_transforms
from ..limits import MAX_PASTE_SIDE

if TYPE_CHECKING:
    from .front_end import FaceFrontEnd
    from .pipeline import CMMNet, GenerationResult
    from .timing import TimingConfig


@dataclass(frozen=True)
class OutputConfig:
    # The generated faces are 64x64 (§4.1); videos show them at `video_size` so a player does not blur them
    # into mush. Bicubic gives a smooth face; "nearest" shows the true pixels.
    video_size: int = 256
    upscale: Literal["bicubic", "nearest"] = "bicubic"
    crf: int = 17  # H.264 quality (lower = better; cmmnet.video's preset "veryfast")
    sheet_frames: int = 8  # frames per sequence shown in sheet.png (evenly spaced, first and last included)
    sheet_scale: int = 2  # paper renderer: sheet tiles are S * sheet_scale pixels (nearest)
    sheet_tile: int = 128  # warp renderer: sheet tiles are the rendered faces aligned at this size
    preview_height: int = 192  # preview.gif: each video scaled to this height
    encoders: int = 4  # videos encoded at once, at most (libx264 runs outside the GIL)
    encoder_memory: int = 224 * 2**20  # bytes their buffers may hold together: fewer encoders for larger frames (two
    # at 1024 x 1024 or 1024 x 768; a third would not finish the four videos sooner on 2 cores)


def upscale(frames: np.ndarray, size: int, method: str) -> np.ndarray:
    """(T, S, S, 3) uint8 -> (T, size, size, 3) uint8 with PIL's bicubic or nearest filter."""
    f = Image.Resampling.BICUBIC if method == "bicubic" else Image.Resampling.NEAREST
    return np.stack([np.asarray(Image.fromarray(fr).resize((size, size), f)) for fr in frames])


def sequence_names(k: int) -> list[str]:
    return ["conditional"] + [f"mode_{i}" for i in range(1, k + 1)]


def contact_sheet(landmark_images: np.ndarray, frames: np.ndarray, names: list[str], cfg: OutputConfig,
                  scale: int | None = None) -> np.ndarray:
    """Fig. 6-style sheet: one row per sequence, ``sheet_frames`` landmark images (left) then the faces (right).

    ``frames`` (K+1, T', F, F, 3): every frame (T' = T) or only the sheet's columns (T' = ``sheet_frames``);
    tiles are F pixels (landmark images resized to F, nearest), the sheet is scaled by ``scale`` (default
    ``cfg.sheet_scale``)."""
    n, T, s = landmark_images.shape[:3]
    cols = sheet_columns(T, cfg)
    label_w, gap = 80, 8
    tile = frames.shape[2]
    width = label_w + 2 * len(cols) * tile + gap
    sheet = Image.new("RGB", (width, n * tile), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r in range(n):
        draw.text((4, r * tile + tile // 2 - 5), names[r].replace("_", " "), fill=(0, 0, 0))
        for j, t in enumerate(cols):
            lm = Image.fromarray((np.clip(landmark_images[r, t], 0, 1) * 255).astype(np.uint8)).convert("RGB")
            sheet.paste(lm if s == tile else lm.resize((tile, tile), Image.Resampling.NEAREST),
                        (label_w + j * tile, r * tile))
            face = frames[r, t] if frames.shape[1] == T else frames[r, j]
            sheet.paste(Image.fromarray(face), (label_w + len(cols) * tile + gap + j * tile, r * tile))
    k = cfg.sheet_scale if scale is None else scale
    return np.asarray(sheet.resize((width * k, n * tile * k), Image.Resampling.NEAREST) if k != 1 else sheet)


def sheet_columns(T: int, cfg: OutputConfig) -> np.ndarray:
    """The frames the sheet shows: ``sheet_frames`` evenly spaced, first and last included."""
    return np.unique(np.linspace(0, T - 1, min(cfg.sheet_frames, T)).round().astype(int))


def preview_size(height: int, width: int, cfg: OutputConfig) -> tuple[int, int]:
    """(width, height) of one video in ``preview.gif``: scaled to ``cfg.preview_height``."""
    return max(1, round(width * cfg.preview_height / height)), cfg.preview_height


def preview_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One (H, W, 3) uint8 video frame scaled to the preview's ``size`` (width, height); PIL's bilinear filter
    widens with the scale factor (antialiased), a third of Lanczos' cost, and the GIF's 256 colours hide the rest."""
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


_UNCHANGED = 255  # the preview's palette has 255 colours; this index marks a pixel the image before already shows


def preview_frames(videos: list[list[np.ndarray]], keys: list[list[int | None]] | None = None
                   ) -> tuple[list[Image.Image], list[int]]:
    """The videos (each a list of T frames already at the preview size, :func:`preview_frame`) side by side, as
    palette images sharing one palette of 255 colours (median cut of every second pixel of the first, middle and
    last frame: no colour flicker between frames; a fifth of the full frames' cost for the same colours), and how
    many frames each image stands for: with ``keys`` (each video's frame keys, the same key the same image), a run
    of frames that repeats the one before in every video is one image. From the second image on, the pixels equal to
    the image before are :data:`_UNCHANGED`, GIF's transparent index (the image before shows through): what an
    optimising GIF encoder does, a quarter of the cost of PIL's."""
    t = len(videos[0])
    cols = list(zip(*keys)) if keys is not None else [(None,)] * t  # (T,) each frame's keys across the videos
    starts = [i for i in range(t) if i == 0 or None in cols[i] or cols[i] != cols[i - 1]]
    counts = np.diff([*starts, t]).tolist()
    picked = [np.concatenate([v[i] for v in videos], 1) for i in (0, t // 2, t - 1)]
    sample = np.concatenate(picked, 0)[::2, ::2]  # (3 height / 2, (K+1) width / 2, 3)
    palette = Image.fromarray(np.ascontiguousarray(sample)).quantize(_UNCHANGED)
    colours = palette.getpalette()
    images, before = [], None
    for i in starts:
        strip = np.concatenate([v[i] for v in videos], 1)  # (height, (K+1) width, 3)
        index = np.asarray(Image.fromarray(strip).quantize(palette=palette, dither=Image.Dither.NONE))
        shown = index if before is None else np.where(index == before, _UNCHANGED, index).astype(np.uint8)
        image = Image.fromarray(shown)  # L, made P by its palette
        image.putpalette(colours)
        images.append(image)
        before = index
    return images, counts


def write_preview(path: Path, videos: list[list[np.ndarray]], fps: float,
                  keys: list[list[int | None]] | None = None) -> None:
    """``preview.gif``: a looping animation of all videos side by side at ``fps`` (plays wherever an image does);
    ``videos`` and ``keys`` as :func:`preview_frames` takes them."""
    frames, counts = preview_frames(videos, keys)
    step = 10 * max(1, round(100 / fps))  # GIF times frames in 10 ms steps
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], loop=0, optimize=False,
                   transparency=_UNCHANGED, duration=[step * c for c in counts])


def versions() -> dict[str, str]:
    import av
    import dlib
    import torch

    from .. import __version__

    return {"cmmnet": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "dlib": dlib.__version__, "av": av.__version__}


def _write_videos(paths: list[Path], videos: list[Iterable[np.ndarray]], size: tuple[int, int], fps: float,
                  cfg: OutputConfig, keys: list[list[int | None]] | None = None) -> None:
    """H.264 files at ``fps`` of frames ``size`` = (height, width), each video an array or an iterable of frames
    (rendered as the encoder takes them); as many encoders at once as ``cfg.encoders`` and ``cfg.encoder_memory``
    allow (at least one): the four videos of a 512 x 512 photo at once, a 1024 x 768 one's two at a time (one
    libx264 encoder keeps only ~1.3 of the 2 cores busy), which keeps a photo-sized generation's peak memory
    under 1 GB. ``keys``: each video's frame keys (:func:`cmmnet.video.write_video`: the same key, the same image)."""
    from ..video import write_video

    keys = keys or [None] * len(paths)
    with ThreadPoolExecutor(parallel_encoders(size, len(paths), cfg)) as pool:
        list(pool.map(lambda path, v, k: write_video(path, v, fps=fps, crf=cfg.crf, keys=k), paths, videos, keys))


def parallel_encoders(size: tuple[int, int], videos: int, cfg: OutputConfig) -> int:
    """How many of ``videos`` videos of frames ``size`` = (height, width) are encoded at once (at least one)."""
    from ..video import encoder_memory

    return max(1, min(cfg.encoders, videos, cfg.encoder_memory // encoder_memory(size[1], size[0])))


def sequence_frames(res: GenerationResult, sequence: int, cfg: OutputConfig) -> Iterable[np.ndarray]:
    """What ``sequence``'s video shows, (H, W, 3) uint8 frames: the whole photo for the warp renderer on a photo
    (rendered as they are read: one frame in memory at a time), else the faces upscaled to ``cfg.video_size``."""
    if res.video is not None:
        return res.video.frames(sequence)
    return upscale(res.frames[sequence], cfg.video_size, cfg.upscale)


def write_sequence(res: GenerationResult, sequence: int, path: Path, cfg: OutputConfig | None = None) -> Path:
    """Sequence ``sequence`` of ``res`` (0 = conditional, k = mode k) as an H.264 file at the result's rate."""
    from ..video import write_video

    cfg = cfg or OutputConfig()
    if not 0 <= sequence <= res.modes:
        raise CmmnetError(f"sequence {sequence}: this result has 0 (conditional) to {res.modes} (modes)")
    return write_video(path, sequence_frames(res, sequence, cfg), fps=res.fps, crf=cfg.crf)


@dataclass
class _Noted:
    """What is kept of one sequence's video frames as they go to its encoder: the preview's frames, the sheet's
    aligned faces (warp renderer) and the crop video's frames (``--crop``)."""

    preview: list[np.ndarray] = field(default_factory=list)
    sheet: list[np.ndarray] = field(default_factory=list)
    crop: list[np.ndarray] = field(default_factory=list)


def _noting(frames: Iterable[np.ndarray], keys: Iterable[int | None], noted: _Noted, size: tuple[int, int],
            sheet: tuple[np.ndarray, int, set], crop: tuple[np.ndarray, int] | None,
            seen: dict[int, tuple[np.ndarray, np.ndarray | None]]) -> Iterator[np.ndarray]:
    """``frames`` passed on to an encoder, each also noted into ``noted``: at the preview's ``size``; aligned by
    ``sheet`` = (transform, tile size, frame indices) when it has indices; aligned by ``crop`` = (transform, size).
    Frames with the same key (the warp renderer's distinct shape) are the same image: their preview and crop frames
    are made once and kept in ``seen``."""
    from ..faces.align import align_frames

    for i, (frame, key) in enumerate(zip(frames, keys)):
        made = seen.get(key) if key is not None else None
        if made is None:
            made = (preview_frame(frame, size), align_frames(frame[None], crop[0], crop[1])[0] if crop else None)
            if key is not None:
                seen[key] = made
        noted.preview.append(made[0])
        if i in sheet[2]:
            noted.sheet.append(align_frames(frame[None], sheet[0], sheet[1])[0])
        if crop is not None:
            noted.crop.append(made[1])
        yield frame


def _write_files(res: GenerationResult, tmp: Path, cfg: OutputConfig, align: AlignConfig | None = None,
                 crop: Literal["none", "crop"] = "none") -> dict:
    """The videos, preview, landmarks, sheet and aligned input of ``res`` (and with ``crop``, the crop videos) into
    ``tmp``; returns what meta.json says of them. Each video's frames are made as its encoder takes them (the warp
    renderer's are rendered then), what the preview, sheet and crop videos need noted on the way. ``align``: the
    translator's alignment, for the warp renderer's sheet tiles at ``cfg.sheet_tile`` and its crop videos (None: its
    faces as aligned at S; no crop videos)."""
    from ..config import to_dict

    names = sequence_names(res.modes)
    warp = res.video is not None and align is not None  # the warp renderer: sheet (and crop) from the whole photo
    cols = sheet_columns(res.points.shape[1], cfg)
    sheet_at = (video_alignment(res, align, cfg.sheet_tile), cfg.sheet_tile, set(cols.tolist())) if warp else \
        (np.eye(2, 3), 0, set())
    crop_at = (video_alignment(res, align, cfg.video_size), cfg.video_size) if warp and crop == "crop" else None
    h, w = res.video.shape[2:4] if res.video is not None else (cfg.video_size, cfg.video_size)
    noted = [_Noted() for _ in names]
    seen: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    n_frames = int(res.points.shape[1])
    keys = [res.video.which[i].tolist() if res.video is not None else [None] * n_frames
            for i in range(len(names))]  # the warp renderer's distinct shape of each frame
    _write_videos([tmp / f"{n}.mp4" for n in names],
                  [_noting(sequence_frames(res, i, cfg), keys[i], noted[i], preview_size(h, w, cfg), sheet_at,
                           crop_at, seen) for i in range(len(names))], (h, w), res.fps, cfg, keys)
    crops = []
    if crop_at is not None:
        crops = [f"{n}_crop.mp4" for n in names]
        _write_videos([tmp / c for c in crops], [v.crop for v in noted], (cfg.video_size, cfg.video_size), res.fps,
                      cfg, keys)
    if warp:
        sheet = contact_sheet(res.landmark_images, np.stack([v.sheet for v in noted]), names, cfg, scale=1)
    else:
        sheet = contact_sheet(res.landmark_images, res.frames, names, cfg)
    write_preview(tmp / "preview.gif", [v.preview for v in noted], res.fps, keys)
    np.save(tmp / "landmarks.npy", res.points.astype(np.float32))
    np.save(tmp / "landmark_images.npy", (np.clip(res.landmark_images, 0, 1) * 255).round().astype(np.uint8))
    Image.fromarray(sheet).save(tmp / "sheet.png")
    Image.fromarray(res.neutral_face).save(tmp / "input_aligned.png")
    return {"inputs": {"label": res.label, "modes": res.modes, "seed": res.seed, "timing": to_dict(res.timing)},
            "seed": res.seed,
            "renderer": res.renderer,
            "video": {"fps": res.fps, "frames": n_frames, "seconds": round(n_frames / res.fps, 4)},
            "files": {"videos": [f"{n}.mp4" for n in names],
                      "video_size": [int(w), int(h)],
                      "crop_videos": crops, "pasted_videos": [], "pasted_size": None, "landmarks": "landmarks.npy",
                      "sheet": "sheet.png", "preview": "preview.gif"},
            "shapes": {"frames": [*res.points.shape[:2], *res.neutral_face.shape], "landmarks": list(res.points.shape)}}


def save_result(res: GenerationResult, out: Path, cfg: OutputConfig | None = None) -> dict:
    """What :meth:`GenerationResult.save` writes: the files of ``cmmnet generate`` and a meta.json of the result's
    own inputs (without the run's provenance, which :func:`write_generation` adds), atomically, under the output
    rule of :func:`cmmnet.io.check_output`."""
    from ..config import to_dict
    from ..io import atomic_dir

    cfg = cfg or OutputConfig()
    with atomic_dir(out, "generate") as tmp:
        meta = {**_write_files(res, tmp, cfg), "output_config": to_dict(cfg)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def video_alignment(res: GenerationResult, align: AlignConfig, size: int) -> np.ndarray:
    """The (2, 3) transform from the warp renderer's video pixels to the face aligned as ``align`` (the
    translator's alignment) but ``size`` pixels wide."""
    return compose_transforms(between_alignments(align, replace(align, size=size)),
                              np.asarray(res.video_transform, dtype=np.float64))


def check_options(renderer: str, paste: Literal["none", "paste"], crop: Literal["none", "crop"]) -> None:
    """Refuse output options the renderer has no use for (before any work)."""
    if paste == "paste" and renderer != "paper":
        raise CmmnetError("--paste maps the paper renderer's 64 px faces into the photo; the warp renderer's "
                          "videos are the whole photo already: drop --paste, or add --renderer paper")
    if crop == "crop" and renderer != "warp":
        raise CmmnetError("--crop adds aligned face videos to the warp renderer's; the paper renderer's videos are "
                          "the aligned faces already: drop --crop")


def write_generation(net: CMMNet, image: Path, label: str, modes: int | None, seed: int, out: Path,
                     paste: Literal["none", "paste"] = "none", cfg: OutputConfig | None = None,
                     face: FaceFrontEnd | None = None, crop: Literal["none", "crop"] = "none",
                     timing: TimingConfig | None = None) -> dict:
    """Generate with ``net`` on ``image`` and write every output file into ``out`` atomically; returns the meta
    dict written to ``meta.json``. ``face``: the face front end already started on ``image``; ``timing``: the clips'
    intensity, length, rate and ending (default :class:`TimingConfig`)."""
    from ..config import to_dict
    from ..faces import read_image_scaled
    from ..io import atomic_dir

    cfg = cfg or OutputConfig()
    check_options(net.config.renderer, paste, crop)
    timings: dict[str, float] = {}
    with atomic_dir(out, "generate") as tmp:  # checked and created first: a bad --out fails before any work
        t0 = time.perf_counter()
        res = net.generate(image, label, modes=modes, seed=seed, front_end=face, timing=timing)
        timings["generate_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        written = _write_files(res, tmp, cfg, net.front_end.align, crop)
        names = [Path(v).stem for v in written["files"]["videos"]]
        timings["write_s"] = time.perf_counter() - t0
        if paste == "paste":
            t0 = time.perf_counter()
            # bounded memory: the photo read at most at the pasted size, one sequence in memory at a time
            photo, scale = read_image_scaled(image, min(net.config.paste.max_side or MAX_PASTE_SIDE, MAX_PASTE_SIDE))
            pasted = [f"{n}_pasted.mp4" for n in names]
            h, w = photo.shape[:2] if res.rotation % 2 == 0 else photo.shape[1::-1]  # as pasted: turned upright
            for i, n in enumerate(pasted):  # frames pasted as the encoder takes them
                _write_videos([tmp / n], [net.paste_sequence(res, photo, i, scale)], (h, w), res.fps, cfg)
            written["files"].update(pasted_videos=pasted, pasted_size=[int(w), int(h)])
            timings["paste_s"] = time.perf_counter() - t0
        meta = {
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join(sys.argv),
            "inputs": {"image": str(Path(image).resolve()), **written.pop("inputs"), "paste": paste == "paste",
                       "crop": crop == "crop"},
            **written,
            "face": {"n_faces": int(res.n_faces), "box": [round(float(v), 2) for v in res.box],
                     "transform": np.asarray(res.transform).round(6).tolist()},
            "weights": net.weights,
            "versions": versions(),
            "generate_config": to_dict(net.config),
            "front_end": to_dict(net.front_end),
            "runtime": {"device": str(net.device), "precision": net.precision},
            "output_config": to_dict(cfg),
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
