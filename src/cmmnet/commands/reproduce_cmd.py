"""`cmmnet reproduce --uva-nemo ROOT [--disfa ROOT --disfa-plus ROOT] --out DIR [--preset paper|cpu|smoke]
[--inception FILE] [--folds DIR] [--dry-run]`: the paper's Tables 1-3 and Fig. 8 on its own datasets.

Prepares each dataset as §4.1 says, trains CMM-Net (§3.5) and both baselines on it, evaluates (§4.3), makes the
user-study kits (Table 2) and writes OUT/report.md beside the published numbers. Rerunning the same command
continues where a killed run stopped. ``--dry-run`` prints the plan, the disk it needs and a time per stage for
this machine, measured here. See docs/reproduce.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..reproduce.plan import ReproduceConfig
from ..training.experiment import PRESETS

log = logging.getLogger(__name__)
_D = ReproduceConfig()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="the paper's tables on UvA-NEMO / DISFA / DISFA+ in one resumable command",
                       description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--uva-nemo", type=Path, metavar="ROOT", help="the UvA-NEMO Smile download")
    p.add_argument("--disfa", type=Path, metavar="ROOT", help="the DISFA download (spontaneous smiles)")
    p.add_argument("--disfa-plus", type=Path, metavar="ROOT", help="the DISFA+ download (posed smiles)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where everything goes (resumable)")
    p.add_argument("--preset", default=_D.preset, choices=sorted(PRESETS),
                   help=f"training schedule (default {_D.preset}: the paper's, §3.5)")
    p.add_argument("--inception", type=Path, metavar="FILE",
                   help="Inception-v3 .safetensors for IS / ΔIS (scripts/convert_inception.py); without it no IS")
    p.add_argument("--folds", type=Path, metavar="DIR",
                   help="UvA-NEMO's published fold lists {1..10}/{train,test}.json; without it seeded folds")
    p.add_argument("--seed", type=int, default=_D.seed, help=f"seed of folds, splits, training (default {_D.seed})")
    p.add_argument("--workers", type=int, default=_D.workers, help="processes preparing videos")
    p.add_argument("--device", default=_D.device, help=f"auto, cpu, cuda or cuda:N (default {_D.device})")
    p.add_argument("--dry-run", action="store_true", help="print the plan, disk and time estimates; run nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import CmmnetError
    from ..reproduce import ReproduceConfig, build_plan, check_settings, dataset_specs, run_stages
    from ..reproduce.stages import device_of, execute, run_overrides, subject_code_warnings
    from ..reproduce.state import process_group, write_timings

    if args.workers < 1:
        raise CmmnetError(f"--workers {args.workers}: give 1 or more")
    cfg = ReproduceConfig(preset=args.preset, seed=args.seed, workers=args.workers, device=args.device)
    specs = dataset_specs(args.uva_nemo, args.disfa, args.disfa_plus, args.folds)
    plan = build_plan(specs, args.out, cfg, args.inception)
    say = print
    for d in plan.datasets:
        say(f"{d.name}: {', '.join(d.sources)}, {d.fps:g} fps; split: {d.protocol}")
        for w in subject_code_warnings(d):
            say(f"warning: {w}")
    if plan.inception is None:
        say("no --inception file: Table 1 gets SSIM only (IS and ΔIS need the user's Inception-v3 weights)")
    argv = getattr(args, "argv", None) or ["cmmnet", "reproduce"]
    if args.dry_run:
        from ..reproduce.estimate import dry_run, format_estimate, machine

        say(f"plan: {len(plan.stages)} stages into {plan.out}; estimates measured on this machine ({machine()}), "
            f"preset {cfg.preset}:")
        for line in format_estimate(dry_run(plan, run_overrides(plan), device_of(plan), say=say)):
            say(line)
        return 0
    check_settings(plan)
    with process_group(device_of(plan)):
        seconds = run_stages(plan, lambda stage: execute(plan, stage, argv), say=lambda s: print(s, flush=True))
    write_timings(plan, seconds)
    print(plan.out / "report.md", file=sys.stdout)
    return 0
