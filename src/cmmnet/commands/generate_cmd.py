"""`cmmnet generate`: one neutral photo + a label -> K + 1 smile videos (conditional + K modes) of that person.

Writes into ``--out`` (built under a temporary name and renamed into place when complete, so nothing is ever
half-written): ``conditional.mp4``, ``mode_1.mp4`` ... ``mode_K.mp4`` (H.264, T frames, the 64x64 faces upscaled
to ``OutputConfig.video_size``), ``landmarks.npy`` (K+1, T, 68, 2), ``landmark_images.npy`` (K+1, T, S, S) uint8
(what G saw, x255), ``sheet.png`` (one row per sequence: landmark images, then faces, as the paper's Fig. 6),
``meta.json`` (inputs, seed, weights hashes, versions, timings) and, with ``--paste``,
``conditional_pasted.mp4``, ``mode_k_pasted.mp4``: the face mapped back into the full-resolution photo.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
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
from ..limits import MAX_MODES, check_modes_range

if TYPE_CHECKING:
    from ..faces.pipeline import FrontEndConfig

log = logging.getLogger(__name__)


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


def check_out_dir(out: Path) -> None:
    """Refuse an --out that is a file or a non-empty directory this command did not write (it is replaced)."""
    if out.exists() and not out.is_dir():
        raise CmmnetError(f"--out {out}: exists and is not a directory; choose a new directory name")
    if out.is_dir() and any(out.iterdir()) and not (out / "meta.json").is_file():
        raise CmmnetError(f"--out {out}: not empty and not an earlier `cmmnet generate` output (it would be "
                          "replaced); choose a new directory")


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


def _front_end(image: Path, config: FrontEndConfig) -> tuple:
    """:func:`process_image` on ``image``, as :meth:`CMMNet.align` returns it: ``(aligned, n_faces, box)``."""
    from ..faces.pipeline import process_image

    res = process_image(image, config)
    return res.aligned, res.face.n_faces, res.face.box


def _front_end_child(image: Path, config: FrontEndConfig, conn) -> None:
    """In the forked process: :func:`_front_end`; sends ``("ok", result)``, or ``("error", CmmnetError)`` for a
    problem with the input, or ``("crash", traceback text)``."""
    import traceback

    try:
        conn.send(("ok", _front_end(image, config)))
    except CmmnetError as e:
        conn.send(("error", e))
    except Exception:  # a bug: hand the traceback to the parent, which raises it
        conn.send(("crash", traceback.format_exc()))
    finally:
        conn.close()


class FaceFrontEnd:
    """The face front end (:func:`process_image`: read, detect, landmark, align) of one photo, started in a forked
    process so that dlib's model loading (0.7 s) overlaps importing torch and loading the weights in this one
    (threads would not: neither lets go of the GIL). :meth:`result` waits for ``(aligned, n_faces, box)``, as
    :meth:`CMMNet.align` returns them, and raises what the front end raised. Off Linux (no safe fork) and if the
    worker dies without an answer, :meth:`result` does the work itself."""

    def __init__(self, image: Path, config: FrontEndConfig | None = None):
        import multiprocessing as mp

        from ..faces.pipeline import FrontEndConfig

        self.image = image
        self.config = config or FrontEndConfig()
        self._receive = self._proc = None
        if sys.platform == "linux":
            ctx = mp.get_context("fork")
            self._receive, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_front_end_child, args=(image, self.config, send), daemon=True)
            self._proc.start()  # a daemon: it dies with this process, e.g. when the weights turn out damaged
            send.close()

    def result(self) -> tuple:
        if self._proc is None:
            return _front_end(self.image, self.config)
        try:
            answer = self._receive.recv()
        except EOFError:
            answer = None
        finally:
            self._proc.join()
            self._proc = None
        if answer is None:  # the worker died without an answer (killed, out of memory): do the work here
            return _front_end(self.image, self.config)
        kind, payload = answer
        if kind == "error":
            raise payload
        if kind == "crash":
            raise RuntimeError(f"face front end failed in its worker process:\n{payload}")
        return payload


def write_generation(net, image: Path, label: str, modes: int | None, seed: int, out: Path,
                     paste: Literal["none", "paste"] = "none", cfg: OutputConfig | None = None,
                     face: FaceFrontEnd | None = None) -> dict:
    """Generate with ``net`` (a :class:`cmmnet.generate.CMMNet`) on ``image`` and write every output file into
    ``out`` atomically; returns the meta dict written to ``meta.json``. ``face``: the face front end already
    started on ``image``, used when it runs with ``net``'s front-end config."""
    from ..faces import read_image
    from ..io import atomic_dir

    cfg = cfg or OutputConfig()
    check_out_dir(out)
    timings: dict[str, float] = {}
    with atomic_dir(out) as tmp:  # created first: an unwritable --out fails before any work
        t0 = time.perf_counter()
        if face is not None and face.config == net.config.front_end:
            res = net.generate_detected(*face.result(), label, modes, seed)
        else:
            res = net.generate(image, label, modes=modes, seed=seed)
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
            pasted = net.paste(res, read_image(image))  # (K+1, T, H, W, 3)
            _write_videos([tmp / f"{n}_pasted.mp4" for n in names], list(pasted), cfg)
            pasted_size = [int(pasted.shape[3]), int(pasted.shape[2])]
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate K + 1 smile videos of the person in a neutral photo")
    p.add_argument("--image", type=Path, required=True, help="photo with a (roughly frontal, neutral) face")
    p.add_argument("--label", required=True, help="smile type: posed or spontaneous (the weights' label names)")
    p.add_argument("--modes", type=int, default=None,
                   help=f"K mode sequences besides the conditional one (1..{MAX_MODES}; default: the weights' K)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed = same videos)")
    p.add_argument("--weights", type=Path, default=None,
                   help="directory with landmark_generator/ and translator/ (a `cmmnet train` run); "
                        "default: the weights shipped with cmmnet")
    p.add_argument("--paste", action="store_true",
                   help="also write full-resolution videos of the face pasted back into the photo")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="bf16 autocast; auto (default) = bf16 on a GPU or a CPU with AMX, else fp32")
    p.add_argument("--device", default="auto", help="auto (GPU when available), cpu, cuda, cuda:N")
    p.add_argument("--out", type=Path, required=True, help="output directory (written atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.modes is not None:
        check_modes_range(args.modes)  # before loading anything
    if not args.image.is_file():
        raise CmmnetError(f"--image {args.image}: file not found")
    check_out_dir(args.out)
    face = FaceFrontEnd(args.image)  # dlib loads its models there while torch loads here
    from ..generate import CMMNet, GenerateConfig

    net = CMMNet.from_pretrained(args.weights, GenerateConfig(precision=args.precision, device=args.device))
    net.check_request(args.label, args.modes)
    meta = write_generation(net, args.image, args.label, args.modes, args.seed, args.out,
                            paste="paste" if args.paste else "none", face=face)
    files = meta["files"]["videos"] + meta["files"]["pasted_videos"]
    print(f"wrote {args.out}/: {', '.join(files)}, landmarks.npy, sheet.png, meta.json")
    return 0
