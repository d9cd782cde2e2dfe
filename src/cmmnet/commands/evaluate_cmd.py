"""`cmmnet evaluate --runs RUN [RUN ...] --data DATASET --out REPORT [--inception FILE]`: the paper's §4.3 evidence.

Finds the methods in each run (CMM-Net, CRA-Net, Video-GAN; see :mod:`cmmnet.evaluation.methods`), generates
the dataset's test split with each, and writes ``REPORT/report.md`` (Table 1: IS, ΔIS, SSIM per label; Table 3:
AU curve distances; Fig. 8 plots ``fig8_<label>.png``; identity and mode metrics), ``REPORT/metrics.jsonl`` and a
few generated videos per label in ``REPORT/videos/<method>/<label>/`` (inputs for `cmmnet study make`).
Results are cached in ``REPORT/cache/``: a re-run with the same weights, data and settings is instant.
"""

from __future__ import annotations

import argparse
import logging
import shlex
from pathlib import Path

from ..limits import path_arg

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare CMM-Net, CRA-Net and Video-GAN runs on a dataset's test split",
                       description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, type=path_arg, metavar="RUN",
                   help="training run directories (each may hold CMM-Net, cra_net/ and/or video_gan/); "
                        "'default' = the shipped CMM-Net weights")
    p.add_argument("--data", required=True, type=path_arg, metavar="DATASET", help="dataset directory (its test split)")
    p.add_argument("--out", required=True, type=path_arg, metavar="REPORT", help="report directory")
    p.add_argument("--inception", type=path_arg, metavar="FILE",
                   help="Inception-v3 weights as .safetensors (scripts/convert_inception.py); without it no IS")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="evaluation settings, e.g. --set max_sequences=20 --set device=cuda (see docs/evaluation.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import apply_overrides
    from ..data.format import load_dataset
    from ..errors import CmmnetError
    from ..evaluation.evaluate import EvaluateConfig, Evaluator
    from ..evaluation.methods import find_methods
    from ..evaluation.report import write_report
    from ..io import check_output, claim_dir

    cfg = apply_overrides(EvaluateConfig(), args.set)
    check_output(args.out)  # before the work
    data = load_dataset(args.data)
    if args.inception is not None and not args.inception.is_file():
        raise CmmnetError(f"{args.inception}: Inception weights not found; convert the FID/IS Inception .pth with "
                          "scripts/convert_inception.py, or leave --inception out to skip the Inception Score")
    methods = []
    for r in args.runs:
        methods += find_methods(r, cfg.device)
    out: Path = args.out
    claim_dir(out, "evaluate")  # filled bit by bit (its cache makes a re-run fast): marked as ours first
    ev = Evaluator(data, cfg, out / "cache", args.inception)
    real = ev.real()
    results = [ev.method(m, out / "videos") for m in methods]
    cmd = ["cmmnet", "evaluate", "--runs", *map(str, args.runs), "--data", str(args.data), "--out", str(out)]
    cmd += ["--inception", str(args.inception)] if args.inception else []
    for item in args.set:
        cmd += ["--set", item]
    info = {"dataset": str(args.data), "seed": cfg.seed, "au_window": cfg.au_window, "command": shlex.join(cmd)}
    report = write_report(out, real, results, info)
    print(report)
    return 0
