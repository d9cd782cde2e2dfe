#!/usr/bin/env python
"""docs/images/renderers.jpg: the two renderers side by side on the bundled example photo.

    python scripts/make_renderers_image.py [--out docs/images/renderers.jpg] [--label spontaneous] [--seed 0]

Runs ``cmmnet generate`` (default weights) once per renderer into a temporary folder: the warp renderer with
``--crop`` (its aligned 256 px face videos), the paper's renderer as it is (its videos are the aligned face). Each
row: frame 0 of the conditional video, then the frame that moves most (largest mean absolute difference from frame
0) of the conditional video and of modes 1-3, each 160 px; top row warp, bottom row paper.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from cmmnet.commands.demo_cmd import example_image
from cmmnet.io import atomic_path
from cmmnet.video import read_video

TILE = 160
VIDEOS = ("conditional", "mode_1", "mode_2", "mode_3")


def row(folder: Path, suffix: str) -> np.ndarray:
    tiles = []
    for name in VIDEOS:
        frames = read_video(folder / f"{name}{suffix}.mp4").astype(np.float32)  # (T, H, W, 3)
        if not tiles:
            tiles.append(frames[0])
        tiles.append(frames[int(np.abs(frames - frames[0]).mean(axis=(1, 2, 3)).argmax())])
    return np.concatenate([np.asarray(Image.fromarray(t.astype(np.uint8)).resize((TILE, TILE), Image.LANCZOS))
                           for t in tiles], axis=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs/images/renderers.jpg")
    ap.add_argument("--label", default="spontaneous", help="a label of the default weights (cmmnet checks it)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for renderer, extra, suffix in (("warp", ["--crop"], "_crop"), ("paper", [], "")):
            out = Path(tmp) / renderer
            proc = subprocess.run([sys.executable, "-m", "cmmnet.cli", "generate", "--image", str(example_image()),
                                   "--label", args.label, "--seed", str(args.seed), "--renderer", renderer, *extra,
                                   "--out", str(out)])
            if proc.returncode != 0:  # cmmnet printed its one line
                return proc.returncode
            rows.append(row(out, suffix))
        with atomic_path(args.out) as path:
            Image.fromarray(np.concatenate(rows, axis=0)).save(path, format="JPEG", quality=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
