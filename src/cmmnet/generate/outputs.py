"""What `cmmnet generate` and `cmmnet demo` write: videos, landmarks, the contact sheet and meta.json.

An output directory holds ``conditional.mp4``, ``mode_1.mp4`` ... ``mode_K.mp4`` (H.264, T frames, the faces
upscaled to ``OutputConfig.video_size``), ``landmarks.npy`` (K+1, T, 68, 2), ``landmark_images.npy``
(K+1, T, S, S) uint8 (what G saw, x255), ``sheet.png`` (one row per sequence: landmark images, then faces, as the
paper's Fig. 6), ``input_aligned.png``, ``meta.json`` (inputs, seed, weights hashes and defaulted config keys,
versions, timings) and, with paste, ``conditional_pasted.mp4``, ``mode_k_pasted.mp4``: the face mapped back into
the full-resolution photo. It is built under a temporary name and renamed into place when complete. This module
imports no torch (the command starts the face front end before torch loads).
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

if TYPE_CHECKING:
    from .front_end import FaceFrontEnd
    from .pipeline import CMMNet


@dataclass(frozen=True)
class OutputConfig:
    # The generated faces are 64x64 (§4.1); videos show them at `video_size` so a player does not blur them
    # into mush. Bicubic gives a smooth face; "nearest" shows the true pixels.
    video_size: int = 256
    upscale: Literal["bicubic", "nearest"] = "bicubic"
    fps: float = 16.0  # T = 32 frames -> a 2 s smile (the paper's sources run at 20-50 fps; slower is easier to see)
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


def versions() -> dict[str, str]:
    import av
    import dlib
    import torch

    from .. import __version__

    return {"cmmnet": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "dlib": dlib.__version__, "av": av.__version__}


def _write_videos(paths: list[Path], videos: list[np.ndarray], cfg: OutputConfig) -> None:
    """H.264 files, encoded in parallel (libx264 runs outside the GIL)."""
    from ..video import write_video

    with ThreadPoolExecutor(len(paths)) as pool:
        list(pool.map(lambda path, v: write_video(path, v, fps=cfg.fps, crf=cfg.crf), paths, videos))


def write_generation(net: CMMNet, image: Path, label: str, modes: int | None, seed: int, out: Path,
                     paste: Literal["none", "paste"] = "none", cfg: OutputConfig | None = None,
                     face: FaceFrontEnd | None = None) -> dict:
    """Generate with ``net`` on ``image`` and write every output file into ``out`` atomically; returns the meta
    dict written to ``meta.json``. ``face``: the face front end already started on ``image``."""
    from ..faces import read_image_scaled
    from ..io import atomic_dir

    cfg = cfg or OutputConfig()
    timings: dict[str, float] = {}
    with atomic_dir(out, "generate") as tmp:  # checked and created first: a bad --out fails before any work
        t0 = time.perf_counter()
        res = net.generate(image, label, modes=modes, seed=seed, front_end=face)
        timings["generate_s"] = time.perf_counter() - t0
        names = sequence_names(res.modes)
        t0 = time.perf_counter()
        _write_videos([tmp / f"{n}.mp4" for n in names],
                      [upscale(seq, cfg.video_size, cfg.upscale) for seq in res.frames], cfg)
        np.save(tmp / "landmarks.npy", res.points.astype(np.float32))
        np.save(tmp / "landmark_images.npy", (np.clip(res.landmark_images, 0, 1) * 255).round().astype(np.uint8))
        Image.fromarray(contact_sheet(res.landmark_images, res.frames, names, cfg)).save(tmp / "sheet.png")
        Image.fromarray(res.neutral_face).save(tmp / "input_aligned.png")
        timings["write_s"] = time.perf_counter() - t0
        pasted_size = None
        if paste == "paste":
            t0 = time.perf_counter()
            # bounded memory: the photo read at most at the pasted size, one sequence in memory at a time
            photo, scale = read_image_scaled(image, net.config.paste.max_side or None)
            for i, n in enumerate(names):  # frames pasted as the encoder takes them
                _write_videos([tmp / f"{n}_pasted.mp4"], [net.paste_sequence(res, photo, i, scale)], cfg)
            h, w = photo.shape[:2] if res.rotation % 2 == 0 else photo.shape[1::-1]  # as pasted: turned upright
            pasted_size = [int(w), int(h)]
            timings["paste_s"] = time.perf_counter() - t0
        from ..config import to_dict

        meta = {
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join(sys.argv),
            "inputs": {"image": str(Path(image).resolve()), "label": res.label, "modes": res.modes, "seed": res.seed,
                       "paste": paste == "paste"},
            "seed": res.seed,
            "face": {"n_faces": int(res.n_faces), "box": [round(float(v), 2) for v in res.box],
                     "transform": np.asarray(res.transform).round(6).tolist()},
            "weights": net.weights,
            "versions": versions(),
            "generate_config": to_dict(net.config),
            "front_end": to_dict(net.front_end),
            "runtime": {"device": str(net.device), "precision": net.precision},
            "output_config": to_dict(cfg),
            "files": {"videos": [f"{n}.mp4" for n in names],
                      "pasted_videos": [f"{n}_pasted.mp4" for n in names] if paste == "paste" else [],
                      "pasted_size": pasted_size, "landmarks": "landmarks.npy", "sheet": "sheet.png"},
            "shapes": {"frames": list(res.frames.shape), "landmarks": list(res.points.shape)},
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
