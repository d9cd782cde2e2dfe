"""`cmmnet landmarks IMAGE` and `cmmnet align IMAGE --out DIR`: the face front end on one photo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import CmmnetError
from ..faces import AlignConfig, draw_overlay, invert_transform
from ..faces.pipeline import FaceResult, FrontEndConfig, process_image
from ..io import atomic_dir, check_output, save_png
from ..limits import path_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("landmarks", help="detect the face and print its 68 landmarks as JSON")
    p.add_argument("image", type=path_arg)
    p.add_argument("--overlay", type=path_arg, help="also write a PNG with the landmarks drawn on the photo")
    p.set_defaults(func=run_landmarks)

    p = sub.add_parser("align", help="write the aligned face, landmark image and transform of a photo")
    p.add_argument("image", type=path_arg)
    p.add_argument("--out", type=path_arg, required=True,
                   help="output directory (created; an earlier `cmmnet align` output is replaced)")
    p.add_argument("--size", type=int, default=AlignConfig.size, choices=(64, 128, 256), help="aligned side (px)")
    p.set_defaults(func=run_align)


def run_landmarks(args: argparse.Namespace) -> int:
    if args.overlay is not None and args.overlay.suffix.lower() != ".png":
        raise CmmnetError(f"--overlay {args.overlay}: give a .png file name")
    if args.overlay is not None:
        check_output(args.overlay, "file", "--overlay")
    res = process_image(args.image)
    if args.overlay is not None:  # drawn on the image the detector saw (downscaled when over max_side)
        save_png(draw_overlay(res.image, res.detected.landmarks, res.detected.box), args.overlay, "landmarks")
    out = {"image": str(args.image), "scale": res.scale, **res.face.to_json()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def write_aligned(res: FaceResult, out: Path, source: str) -> None:
    """Write face.png, landmarks.png, overlay.png and alignment.json into a fresh ``out`` directory."""
    with atomic_dir(out, "align") as tmp:
        Image.fromarray(res.aligned.image).save(tmp / "face.png")
        Image.fromarray(res.landmark_image * 255).save(tmp / "landmarks.png")
        Image.fromarray(draw_overlay(res.image, res.detected.landmarks, res.detected.box)).save(tmp / "overlay.png")
        meta = {
            "source": source,
            "size": int(res.aligned.image.shape[0]),
            "transform": res.aligned.transform.tolist(),  # file pixels -> aligned pixels
            "inverse_transform": invert_transform(res.aligned.transform).tolist(),
            "box": res.face.to_json()["box"],
            "landmarks": res.face.to_json()["landmarks"],  # file pixels
            "aligned_landmarks": np.round(res.aligned.landmarks, 3).tolist(),
            "n_faces": res.face.n_faces,
        }
        (tmp / "alignment.json").write_text(json.dumps(meta, indent=1) + "\n")


def run_align(args: argparse.Namespace) -> int:
    check_output(args.out)  # before the work
    cfg = FrontEndConfig(align=AlignConfig(size=args.size))
    res = process_image(args.image, cfg)
    write_aligned(res, args.out, str(args.image))
    print(f"wrote {args.out}/face.png, landmarks.png, overlay.png, alignment.json")
    return 0
