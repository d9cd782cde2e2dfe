"""`cmmnet demo`: the main job on the bundled example photo with the shipped default weights.

Generates posed and spontaneous smiles (the conditional sequence + K modes each) of the person in
``cmmnet/assets/example.jpg`` with the default (warp) renderer: the whole photo at its resolution, the aligned
faces at 256 px and a looping preview of all videos; prints where the files are.
Argument parsing and reporting only: the work is :mod:`cmmnet.generate`.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ..limits import path_arg, seed_arg

README = "README.txt"  # the demo's own description of what it wrote


def example_image() -> Path:
    return Path(str(resources.files("cmmnet") / "assets" / "example.jpg"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate smile videos of the bundled example photo with the default weights")
    p.add_argument("--out", type=path_arg, default=Path("demo_out"), help="output directory (default: ./demo_out)")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (same seed = same videos)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..generate.outputs import write_generation
    from ..generate.pipeline import CMMNet
    from ..io import atomic_dir, check_output

    out: Path = check_output(args.out)
    src = example_image()
    net = CMMNet.from_pretrained(None)
    with atomic_dir(out, "demo") as tmp:
        for label in net.label_names:
            write_generation(net, src, label, None, args.seed, tmp / label, crop="crop")
        lines = [f"cmmnet demo on {src.name} (seed {args.seed}), default weights {net.weights.get('translator')}",
                 *(f"{label}/: conditional.mp4, mode_1..{net.trained_modes}.mp4 (the photo), *_crop.mp4 (the aligned "
                   f"face), preview.gif, sheet.png, landmarks.npy, meta.json" for label in net.label_names)]
        (tmp / README).write_text("\n".join(lines) + "\n")
    root = out.resolve()
    print(f"cmmnet demo: smile videos of {src.name} written to {root}/")
    for label in net.label_names:
        print(f"  {root / label}/  conditional.mp4  mode_1..{net.trained_modes}.mp4  *_crop.mp4  preview.gif  "
              "sheet.png")
    return 0
