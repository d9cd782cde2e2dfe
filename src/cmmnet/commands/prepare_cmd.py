"""`cmmnet prepare`: a raw dataset download (UvA-NEMO, DISFA, DISFA+, a folder of videos) -> a dataset directory."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..config import apply_overrides
from ..faces import AlignConfig
from ..limits import path_arg, seed_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="turn UvA-NEMO / DISFA / DISFA+ / a folder of videos into a dataset directory",
                       description="Find the neutral-to-smile phase of every video (paper §4.1), align T frames "
                                   "and write a dataset directory. Resumable: results per video are cached in "
                                   "OUT.cache/. See docs/datasets.md.")
    p.add_argument("--dataset", required=True, choices=("uva-nemo", "disfa", "disfa+", "folder"))
    p.add_argument("--root", type=path_arg, required=True, help="the dataset's download folder")
    p.add_argument("--out", type=path_arg, required=True,
                   help="dataset directory to write (an earlier cmmnet dataset there is replaced)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument("--seed", type=seed_arg, default=None, help="seed of the splits / folds (default 0)")
    p.add_argument("--size", type=int, default=None, choices=(64, 128, 256),
                   help=f"aligned face side in pixels (default {AlignConfig.size})")
    p.add_argument("--folds", type=path_arg, default=None,
                   help="uva-nemo: folder with {1..10}/{train,test}.json (video name -> label); default: "
                        "10 subject-disjoint folds from --seed")
    p.add_argument("--fold", type=int, default=1, help="uva-nemo: the test fold, 1..10 (default 1)")
    p.add_argument("--disfa-root", type=path_arg, default=None,
                   help="disfa+: also add DISFA's spontaneous smiles of the same subjects from this DISFA folder")
    p.add_argument("--camera", choices=("right", "left", "both"), default="right", help="disfa: camera(s) to use")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a PrepareConfig field, e.g. segment.min_peak=2.0 (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.prepare import PrepareConfig, prepare_dataset
    from ..errors import CmmnetError

    if args.workers < 1:
        raise CmmnetError(f"--workers {args.workers}: give 1 or more")
    cfg = PrepareConfig()
    if args.seed is not None:
        cfg = dataclasses.replace(cfg, seed=args.seed)
    if args.size is not None:
        cfg = dataclasses.replace(cfg, align=dataclasses.replace(cfg.align, size=args.size))
    cfg = apply_overrides(cfg, args.overrides)
    summary = prepare_dataset(args.dataset, args.root, args.out, cfg, workers=args.workers, folds=args.folds,
                              fold=args.fold, disfa_root=args.disfa_root, camera=args.camera)
    for line in summary.lines():
        print(line, file=sys.stdout)
    return 0
