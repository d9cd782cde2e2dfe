"""`cmmnet demo`: the main job on the bundled example photo with the shipped default weights.

Generates posed and spontaneous smiles (the conditional sequence + K modes each) of the person in
``cmmnet/assets/example.jpg``, with the faces also pasted back into the photo, and prints where the files are.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ..errors import CmmnetError


def example_image() -> Path:
    return Path(str(resources.files("cmmnet") / "assets" / "example.jpg"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate smile videos of the bundled example photo with the default weights")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output directory (default: ./demo_out)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed = same videos)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..generate import CMMNet
    from ..io import atomic_dir
    from .generate_cmd import check_out_dir, write_generation

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CmmnetError(f"--out {out}: exists and is not a directory; choose a new directory name")
    if out.is_dir() and any(out.iterdir()) and not (out / "README.txt").is_file():
        raise CmmnetError(f"--out {out}: not empty and not an earlier `cmmnet demo` output (it would be "
                          "replaced); choose a new directory")
    src = example_image()
    net = CMMNet.from_pretrained(None)
    with atomic_dir(out) as tmp:
        for label in net.label_names:
            check_out_dir(tmp / label)
            write_generation(net, src, label, None, args.seed, tmp / label, paste="paste")
        lines = [f"cmmnet demo on {src.name} (seed {args.seed}), default weights {net.weights.get('translator')}",
                 *(f"{label}/: conditional.mp4, mode_1..{net.trained_modes}.mp4 (64x64 faces at 256x256), "
                   f"*_pasted.mp4 (in the photo), sheet.png, landmarks.npy, meta.json" for label in net.label_names)]
        (tmp / "README.txt").write_text("\n".join(lines) + "\n")
    root = out.resolve()
    print(f"cmmnet demo: smile videos of {src.name} written to {root}/")
    for label in net.label_names:
        print(f"  {root / label}/  conditional.mp4  mode_1..{net.trained_modes}.mp4  *_pasted.mp4  sheet.png")
    return 0
