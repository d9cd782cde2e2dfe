"""`cmmnet demo`: the main job on the bundled example photo (interim: the face front end only)."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ..faces.pipeline import process_image
from .faces_cmd import write_aligned


def example_image() -> Path:
    return Path(str(resources.files("cmmnet") / "assets" / "example.jpg"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run on the bundled example photo and print where the results are")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output directory (default: ./demo_out)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    src = example_image()
    res = process_image(src)
    write_aligned(res, args.out, str(src))
    print(f"face front end on {src.name}: {res.face.n_faces} face(s); wrote {args.out.resolve()}/"
          "{face.png, landmarks.png, overlay.png, alignment.json}")
    return 0
