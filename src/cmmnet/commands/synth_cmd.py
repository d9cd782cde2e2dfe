"""`cmmnet synth --faces DIR --out DIR`: write the FRL-Smile dataset (docs/frl-smile.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from ..data.synth import SynthConfig, synthesize
from ..limits import path_arg, seed_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesize the FRL-Smile dataset (posed/spontaneous smile sequences)")
    p.add_argument("--faces", type=path_arg, required=True,
                   help="folder with NNN_03.jpg (neutral) / NNN_08.jpg (smile)")
    p.add_argument("--out", type=path_arg, required=True,
                   help="dataset directory to write (an earlier cmmnet dataset there is replaced)")
    p.add_argument("--per-face", type=int, default=SynthConfig.per_face,
                   help=f"sequences per person and label (default {SynthConfig.per_face}; styles spread evenly)")
    p.add_argument("--seed", type=seed_arg, default=SynthConfig.seed, help=f"random seed (default {SynthConfig.seed})")
    p.add_argument("--size", type=int, default=SynthConfig.size, help=f"aligned side (default {SynthConfig.size})")
    p.add_argument("--people", type=int, default=None, help="use only the first N people (small test datasets)")
    p.add_argument("--workers", type=int, default=SynthConfig.workers,
                   help=f"worker processes (default {SynthConfig.workers})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out = synthesize(args.faces, args.out, per_face=args.per_face, seed=args.seed, size=args.size,
                     people=args.people, workers=args.workers, command=shlex.join(["cmmnet", *sys.argv[1:]]))
    from ..data import load_dataset

    ds = load_dataset(out)
    c = ds.meta["counts"]
    print(f"wrote {out}: {c['total']} sequences of {len(ds.subject_names)} people, T={ds.T}, {ds.image_size}px; "
          f"labels {c['label']}, styles {c['style']}, splits {c['split']} ({time.perf_counter() - t0:.1f} s)")
    return 0
