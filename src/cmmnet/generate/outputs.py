"""What `cmmnet generate` and `cmmnet demo` write: videos, landmarks, the contact sheet and meta.json.

An output directory holds ``conditional.mp4``, ``mode_1.mp4`` ... ``mode_K.mp4`` (H.264, N frames at the
:class:`TimingConfig`'s frame rate, the faces upscaled to ``OutputConfig.video_size``), ``landmarks.npy``
(K+1, N, 68, 2), ``landmark_images.npy`` (K+1, N, S, S) uint8 (what G saw, x255), ``sheet.png`` (one row per
sequence: landmark images, then faces, as the paper's Fig. 6), ``input_aligned.png``, ``meta.json`` (inputs with
the timing, the video's rate and length, seed, weights hashes and defaulted config keys, versions, timings) and,
with paste, ``conditional_pasted.mp4``, ``mode_k_pasted.mp4``: the face mapped back into the full-resolution
photo. It is built under a temporary name and renamed into place when complete. This module imports no torch (the
command starts the face front end before torch loads).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, ImageDraw

from ..errors import CmmnetError

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
    crf: int = 18  # H.264 quality (lower = better)
    sheet_frames: int = 8  # frames per sequence shown in sheet.png (evenly spaced, first and last included)
    sheet_scale: int = 2  # sheet tiles are S * sheet_scale pixels (nearest)


def upscale(frames: np.ndarray, size: int, method: str) -> np.ndarray:
    """(T, S, S, 3) uint8 -> (T, size, size, 3) uint8 with PIL's bicubic or nearest filter."""
    f = Image.Resampling.BICUBIC if method == "bicubic" else Image.Resampling.NEAREST
    return np.stack([np.asarray(Image.fromarray(fr).resize((size, size), f)) for fr in frames])


def sequence_names(k: int) -> list[str]:
    return ["conditional"] + [f"mode_{i}" for i in range(1, k + 1)]


def contact_sheet(landmark_images: np.ndarray, frames: np.ndarray, names: list[str], cfg: OutputConfig) -> np.ndarray:
    """Fig. 6-style sheet: one row per sequence, ``sheet_frames`` landmark images (left) then the faces (right)."""
    n, T, s = landmark_images.shape[:3]
    cols = np.unique(np.linspace(0, T - 1, min(cfg.sheet_frames, T)).round().astype(int))
    label_w, gap = 80, 8
    tile = s
    width = label_w + 2 * len(cols) * tile + gap
    sheet = Image.new("RGB", (width, n * tile), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r in range(n):
        draw.text((4, r * tile + tile // 2 - 5), names[r].replace("_", " "), fill=(0, 0, 0))
        for j, t in enumerate(cols):
            lm = (np.clip(landmark_images[r, t], 0, 1) * 255).astype(np.uint8)
            sheet.paste(Image.fromarray(np.repeat(lm[..., None], 3, axis=2)), (label_w + j * tile, r * tile))
            sheet.paste(Image.fromarray(frames[r, t]), (label_w + len(cols) * tile + gap + j * tile, r * tile))
    big = sheet.resize((width * cfg.sheet_scale, n * tile * cfg.sheet_scale), Image.Resampling.NEAREST)
    return np.asarray(big)


def check_out_dir(out: Path, marker: str = "meta.json", command: str = "generate") -> None:
    """Refuse an --out that is a file or a non-empty directory ``cmmnet command`` did not write (one it wrote holds
    ``marker``; it is replaced)."""
    if out.exists() and not out.is_dir():
        raise CmmnetError(f"--out {out}: exists and is not a directory; choose a new directory name")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise CmmnetError(f"--out {out}: not empty and not an earlier `cmmnet {command}` output (it would be "
                          "replaced); choose a new directory")


def versions() -> dict[str, str]:
    import av
    import dlib
    import torch

    from .. import __version__

    return {"cmmnet": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "dlib": dlib.__version__, "av": av.__version__}


def _write_videos(paths: list[Path], videos: list[np.ndarray], fps: int, cfg: OutputConfig) -> None:
    """H.264 files, encoded in parallel (libx264 runs outside the GIL)."""
    from ..video import write_video

    with ThreadPoolExecutor(len(paths)) as pool:
        list(pool.map(lambda path, v: write_video(path, v, fps=fps, crf=cfg.crf), paths, videos))


def write_sequence(res: GenerationResult, sequence: int, path: Path, cfg: OutputConfig | None = None) -> Path:
    """Sequence ``sequence`` of ``res`` (0 = conditional, k = mode k) as an H.264 file at the result's rate."""
    from ..video import write_video

    cfg = cfg or OutputConfig()
    if not 0 <= sequence <= res.modes:
        raise CmmnetError(f"sequence {sequence}: this result has 0 (conditional) to {res.modes} (modes)")
    return write_video(path, upscale(res.frames[sequence], cfg.video_size, cfg.upscale), fps=res.fps, crf=cfg.crf)


def _write_files(res: GenerationResult, tmp: Path, cfg: OutputConfig) -> dict:
    """The videos, landmarks, sheet and aligned input of ``res`` into ``tmp``; returns what meta.json says of them."""
    from ..config import to_dict

    names = sequence_names(res.modes)
    _write_videos([tmp / f"{n}.mp4" for n in names],
                  [upscale(seq, cfg.video_size, cfg.upscale) for seq in res.frames], res.fps, cfg)
    np.save(tmp / "landmarks.npy", res.points.astype(np.float32))
    np.save(tmp / "landmark_images.npy", (np.clip(res.landmark_images, 0, 1) * 255).round().astype(np.uint8))
    Image.fromarray(contact_sheet(res.landmark_images, res.frames, names, cfg)).save(tmp / "sheet.png")
    Image.fromarray(res.neutral_face).save(tmp / "input_aligned.png")
    n = int(res.frames.shape[1])
    return {"inputs": {"label": res.label, "modes": res.modes, "seed": res.seed, "timing": to_dict(res.timing)},
            "seed": res.seed,
            "video": {"fps": res.fps, "frames": n, "seconds": round(n / res.fps, 4)},
            "files": {"videos": [f"{n}.mp4" for n in names], "pasted_videos": [], "pasted_size": None,
                      "landmarks": "landmarks.npy", "sheet": "sheet.png"},
            "shapes": {"frames": list(res.frames.shape), "landmarks": list(res.points.shape)}}


def save_result(res: GenerationResult, out: Path, cfg: OutputConfig | None = None) -> dict:
    """What :meth:`GenerationResult.save` writes: the files of ``cmmnet generate`` and a meta.json of the result's
    own inputs (without the run's provenance, which :func:`write_generation` adds), atomically."""
    from ..config import to_dict
    from ..io import atomic_dir

    cfg = cfg or OutputConfig()
    check_out_dir(out)
    with atomic_dir(out) as tmp:
        meta = {**_write_files(res, tmp, cfg), "output_config": to_dict(cfg)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def write_generation(net: CMMNet, image: Path, label: str, modes: int | None, seed: int, out: Path,
                     paste: Literal["none", "paste"] = "none", cfg: OutputConfig | None = None,
                     face: FaceFrontEnd | None = None, timing: TimingConfig | None = None) -> dict:
    """Generate with ``net`` on ``image`` and write every output file into ``out`` atomically; returns the meta
    dict written to ``meta.json``. ``face``: the face front end already started on ``image``; ``timing``: the clips'
    intensity, length, rate and ending (default :class:`TimingConfig`)."""
    from ..config import to_dict
    from ..faces import read_image
    from ..io import atomic_dir

    cfg = cfg or OutputConfig()
    check_out_dir(out)
    timings: dict[str, float] = {}
    with atomic_dir(out) as tmp:  # created first: an unwritable --out fails before any work
        t0 = time.perf_counter()
        res = net.generate(image, label, modes=modes, seed=seed, front_end=face, timing=timing)
        timings["generate_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        written = _write_files(res, tmp, cfg)
        timings["write_s"] = time.perf_counter() - t0
        if paste == "paste":
            t0 = time.perf_counter()
            pasted = net.paste(res, read_image(image))  # (K+1, N, H, W, 3)
            names = [Path(v).stem + "_pasted.mp4" for v in written["files"]["videos"]]
            _write_videos([tmp / n for n in names], list(pasted), res.fps, cfg)
            written["files"].update(pasted_videos=names, pasted_size=[int(pasted.shape[3]), int(pasted.shape[2])])
            timings["paste_s"] = time.perf_counter() - t0
        meta = {
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join(sys.argv),
            "inputs": {"image": str(Path(image).resolve()), **written.pop("inputs"), "paste": paste == "paste"},
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
