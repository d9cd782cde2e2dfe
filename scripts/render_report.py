#!/usr/bin/env python
"""How close each renderer comes to a real smile when it is given that smile's own landmarks (FRL-Smile test people).

    python scripts/render_report.py [--data /work/data/frl-smile] [--faces ../shared/faces/frl-london]
        [--people N] [--shading smile|none] [--out report.json]

For each test person (the dataset's "test" split) the real neutral photo ``NNN_03.jpg`` is rendered onto the
landmarks of the person's real smiling photo ``NNN_08.jpg`` (placed in the neutral photo's frame by the eye
alignment of both, as ``scripts/generation_report.py``'s oracle does), and compared by SSIM with the smiling photo
aligned at 256 x 256:

- ``warp_ssim``: the warp renderer (:class:`cmmnet.render.WarpRenderer`) on the photo at its own resolution, the
  frame then aligned at 256 like the smile (with its smile shading unless ``--shading none``);
- ``paper_ssim``: the paper's G (the shipped translator) fed the smile's landmark image at 64 px, upscaled to 256
  bicubically (what ``--renderer paper`` writes); ``paper_ssim_64`` / ``warp_ssim_64``: both at 64 against the
  smile aligned at 64 (the resolution of docs/translation.md's earlier comparisons);
- ``neutral_ssim``: the neutral photo itself (no motion at all), for scale;
- ``still_ssim``: the neutral photo's SSIM against the smile over the pixels of the 256 px crop where the warp
  renderer changes nothing (beyond its mask, ``MaskConfig.outer`` IOD outside the landmarks' hull: there every
  frame is the photo's own pixels), ``still_share`` their share of the crop; ``moved_warp_ssim`` /
  ``moved_neutral_ssim``: the warp frame's and the neutral photo's SSIM over the other pixels. The still pixels'
  score is how far the two photos agree where no renderer driven by landmarks moves anything (hair, light, noise);
- ``warp_detail``: Laplacian variance of the face box of the warp frame over that of the neutral photo (both at
  256), as /work/shared/tools/smile_quality.py measures it;
- with a refinement network R (the weights' own, or ``--refiner RUN``: ``RUN/refiner/``): ``refined_ssim``,
  ``refined_ssim_64`` and ``refined_detail``, the same measures of the warp renderer with R.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import get_args

import numpy as np
from _paths import DATA, FACES
from generation_report import photo_pairs  # scripts/ is the script's own directory
from PIL import Image

from cmmnet.data import load_dataset
from cmmnet.data.proxies import inter_ocular_distance
from cmmnet.evaluation.metrics import ssim, ssim_maps
from cmmnet.faces import AlignConfig, align_face, draw_landmarks, invert_transform, transform_points, warp_image
from cmmnet.faces.align import between_alignments
from cmmnet.faces.image_io import read_image_scaled
from cmmnet.faces.pipeline import process_image
from cmmnet.generate import CMMNet
from cmmnet.io import atomic_write_text
from cmmnet.models.io import load_pretrained
from cmmnet.models.refiner import RefinerConfig, RefinerNet
from cmmnet.render import WarpRenderer
from cmmnet.render.config import MaskConfig, Shading, WarpRenderConfig
from cmmnet.render.mask import distance_outside, hull_polygon
from cmmnet.training.refinement import PART as REFINER_DIR

BIG = AlignConfig(size=256)


def chw(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(a, -1, -3))


def score(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (S, S, 3) uint8 images."""
    return ssim(chw(a)[None, None], chw(b)[None, None])["ssim"]


def still_pixels(points: np.ndarray, size: int, outer: float) -> np.ndarray:
    """(size - 6, size - 6) bool: the centres of :func:`ssim_maps`' windows lying ``outer`` inter-ocular distances or
    more outside the hull of ``points`` (..., 68, 2), pixels of a ``size`` x ``size`` crop (the warp's still part)."""
    iod = float(inter_ocular_distance(points).mean())
    yy, xx = np.mgrid[3:size - 3, 3:size - 3]
    return distance_outside(hull_polygon(points), np.stack([xx, yy], -1).astype(np.float64)) >= outer * iod


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of an image's luminance, resized to 256 x 256 (bicubic)."""
    g = np.asarray(Image.fromarray(image).convert("L").resize((256, 256), Image.Resampling.BICUBIC), np.float64)
    lap = g[1:-1, 1:-1] * -4 + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def face_box(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The landmarks' bounding box cut out of ``image``."""
    (x0, y0), (x1, y1) = np.floor(landmarks.min(0)).astype(int), np.ceil(landmarks.max(0)).astype(int)
    return image[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="FRL-Smile (for the split)")
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--people", type=int, default=0, help="at most this many test people (0 = all)")
    ap.add_argument("--max-side", type=int, default=1024, help="the photo's longer side is capped at this")
    ap.add_argument("--out", type=Path, default=None, help="write the report JSON here")
    ap.add_argument("--images", type=Path, default=None,
                    help="write NNN.png per person here: neutral, warp, (refined,) paper, real smile (aligned at 256)")
    ap.add_argument("--shading", choices=get_args(Shading), default=WarpRenderConfig.shading,
                    help="the warp renderer's smile shading (default: the renderer's default)")
    ap.add_argument("--refiner", type=Path, default=None,
                    help="a training run whose refiner/ is the refinement network R to score (default: the weights')")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    data = load_dataset(args.data)
    names = data.subject_names
    people = sorted({names[s] for s in np.asarray(data.subset("test").subjects)})[:args.people or None]
    net = CMMNet.from_pretrained()
    refiner = net.refiner if args.refiner is None else load_pretrained(
        RefinerNet, RefinerConfig, args.refiner / REFINER_DIR, "RefinerNet")[0].eval()
    rows = []
    for pid, neutral_path, smile_path in photo_pairs(args.faces, people):
        photo, scale = read_image_scaled(neutral_path, args.max_side)
        neutral = process_image(neutral_path, net.front_end)  # aligned as G's faces
        smile = process_image(smile_path, net.front_end)
        # the neutral photo's landmarks and alignment, in the pixels of the (capped) photo
        to_file = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5]])
        m = neutral.aligned.transform  # file px -> aligned 64 px
        m_photo = np.hstack([m[:, :2] @ to_file[:, :2], (m[:, :2] @ to_file[:, 2] + m[:, 2])[:, None]])
        to_photo = invert_transform(m_photo)
        source = transform_points(neutral.aligned.landmarks, to_photo)  # (68, 2) photo px
        target = transform_points(smile.aligned.landmarks, to_photo)  # the smile's landmarks in this frame
        render = WarpRenderConfig(shading=args.shading)
        frame = WarpRenderer(photo, source, render).render(np.stack([source, target]))[1]
        refined = None if refiner is None else WarpRenderer(photo, source, render, refiner=refiner).render(
            np.stack([source, target]))[1]
        b = between_alignments(net.front_end.align, replace(net.front_end.align, size=BIG.size))
        to_big = np.hstack([b[:, :2] @ m_photo[:, :2], (b[:, :2] @ m_photo[:, 2] + b[:, 2])[:, None]])  # -> 256 px
        smile_big = align_face(read_image_scaled(smile_path)[0], smile.face.landmarks, BIG).image
        warp_big = warp_image(frame, to_big, BIG.size)
        refined_big = [] if refined is None else [warp_image(refined, to_big, BIG.size)]
        neutral_big = warp_image(photo, to_big, BIG.size)
        y = draw_landmarks(smile.aligned.landmarks, net.image_size, net.front_end.draw)[None].astype(np.float32)
        paper = net.translate(y, neutral.aligned.image, smile.aligned.landmarks[None], neutral.aligned.landmarks)[0]
        paper_big = np.asarray(Image.fromarray(paper).resize((BIG.size, BIG.size), Image.Resampling.BICUBIC))
        if args.images:
            args.images.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.concatenate([neutral_big, warp_big, *refined_big, paper_big, smile_big], 1)).save(
                args.images / f"{pid}.png")
        still = still_pixels(transform_points(np.stack([source, target]), to_big), BIG.size,
                             MaskConfig().outer)
        warp_map, neutral_map = ssim_maps(chw(np.stack([warp_big, neutral_big])), chw(smile_big[None].repeat(2, 0)))
        rows.append({
            "person": pid,
            "warp_ssim": float(warp_map.mean()),
            "paper_ssim": score(paper_big, smile_big),
            "warp_ssim_64": score(warp_image(frame, m_photo, net.image_size), smile.aligned.image),
            "paper_ssim_64": score(paper, smile.aligned.image),
            "neutral_ssim": float(neutral_map.mean()),
            "still_ssim": float(neutral_map[still].mean()),
            "still_share": float(still.mean()),
            "moved_warp_ssim": float(warp_map[~still].mean()),
            "moved_neutral_ssim": float(neutral_map[~still].mean()),
            "warp_detail": laplacian_variance(face_box(frame, target)) / laplacian_variance(face_box(photo, source)),
        })
        if refined is not None:
            rows[-1].update({
                "refined_ssim": score(refined_big[0], smile_big),
                "refined_ssim_64": score(warp_image(refined, m_photo, net.image_size), smile.aligned.image),
                "refined_detail": laplacian_variance(face_box(refined, target))
                / laplacian_variance(face_box(photo, source)),
            })
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}), flush=True)
    if not rows:
        print("no test people found", file=sys.stderr)
        return 2
    keys = [k for k in rows[0] if k != "person"]
    report = {"data": str(args.data), "people": len(rows),
              "mean": {k: float(np.mean([r[k] for r in rows])) for k in keys},
              "median": {k: float(np.median([r[k] for r in rows])) for k in keys},
              "rows": rows, "seconds": round(time.perf_counter() - t_start, 1)}
    print(json.dumps({"mean": report["mean"], "median": report["median"]}, indent=1))
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
