"""`cmmnet augment`: every face photo of a folder tree -> smile videos (each label, K + 1 sequences, N seeds) and a
manifest (JSON Lines + CSV); resumable, parallel, sharded (``--shard i/n`` or torchrun's ``RANK``/``WORLD_SIZE``);
``--merge`` joins the shards' manifests."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..augment.run import AugmentConfig
from ..errors import CmmnetError
from ..limits import MAX_MODES, check_modes_range
from .generate_cmd import add_net_arguments, add_timing_arguments, net_config, timing_from_args

DEFAULTS = AugmentConfig()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="smile videos of every face photo of a folder tree, with a manifest")
    p.add_argument("--images", type=Path, help="folder tree of photos (JPEG, PNG, WebP, BMP)")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder: videos/..., manifest.jsonl, manifest.csv (rerun to resume)")
    p.add_argument("--labels", default=None, help="comma-separated smile labels (default: all of the weights')")
    p.add_argument("--modes", type=int, default=DEFAULTS.modes,
                   help=f"K mode sequences besides the conditional one (1..{MAX_MODES}; default: the weights' K)")
    p.add_argument("--seeds", type=int, default=DEFAULTS.seeds,
                   help=f"seeds 0..N-1 for each photo and label (default {DEFAULTS.seeds})")
    add_timing_arguments(p)
    p.add_argument("--workers", type=int, default=DEFAULTS.workers,
                   help="worker processes (default 0: one per core, shared among a launcher's local processes)")
    p.add_argument("--shard", default=None,
                   help="i/n: do shard i of n (default: RANK/WORLD_SIZE when set, as torchrun does, else all)")
    p.add_argument("--merge", action="store_true", help="join the shard manifests in --out into manifest.jsonl/.csv")
    add_net_arguments(p, precision="fp32", device="cpu")  # the same files on every machine of a sharded run
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..augment import merge_manifests, parse_shard, shard_from_env

    if args.merge:
        path, n = merge_manifests(args.out)
        print(f"merged {n} shard manifests into {path} and {path.with_suffix('.csv')}")
        return 0
    if args.images is None:
        raise CmmnetError("--images DIR is required (or --merge to join shard manifests)")
    if args.modes is not None:
        check_modes_range(args.modes)
    timing = timing_from_args(args)
    if args.workers < 0:
        raise CmmnetError(f"--workers {args.workers}: must be 0 (one per core) or more")
    shard = parse_shard(args.shard) if args.shard else shard_from_env()
    labels = tuple(w.strip() for w in args.labels.split(",") if w.strip()) if args.labels else ()
    from ..augment import augment

    s = augment(args.images, args.out, args.weights,
                AugmentConfig(labels, args.modes, args.seeds, args.workers, timing), net_config(args), shard)
    print(f"augment{shard.name}: {s.photos} photos, {s.items} items ({s.generated} generated now, {s.already} "
          f"already done), {len(s.skipped)} photos skipped, {s.photos_per_minute:.1f} photos/min; "
          f"manifest {s.manifest}")
    return 0
