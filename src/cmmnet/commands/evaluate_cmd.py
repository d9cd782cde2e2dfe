"""`cmmnet evaluate --runs RUN [RUN ...] --data DATASET --out REPORT [--inception FILE]`: the paper's §4.3 evidence.

Finds the methods in each run (CMM-Net once per renderer of ``--renderers``: "CMM-Net" with the paper's G,
"CMM-Net (warp)" with the warp renderer; CRA-Net, Video-GAN; see :mod:`cmmnet.evaluation.methods`), generates
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
from typing import get_args

from ..errors import CmmnetError
from ..generate.config import Renderer
from ..limits import path_arg

log = logging.getLogger(__name__)

RENDERERS: tuple[Renderer, ...] = ("paper", *(r for r in get_args(Renderer) if r != "paper"))  # the paper's first


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
    p.add_argument("--renderers", default=",".join(RENDERERS), metavar="LIST",
                   help=f"CMM-Net's renderers, one report row each, comma-separated (default {','.join(RENDERERS)}): "
                        "paper = the 64 px U-Net G of the paper, warp = the neutral frame's own pixels moved along "
                        "the same landmarks")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="evaluation settings, e.g. --set max_sequences=20 --set device=cuda (see docs/evaluation.md)")
    p.set_defaults(func=run)


def parse_renderers(text: str) -> tuple[Renderer, ...]:
    """``--renderers`` -> the renderers asked, in the order given, each once."""
    asked = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in asked if s not in RENDERERS]
    if unknown or not asked:
        what = f"unknown renderer(s) {', '.join(unknown)}" if unknown else "no renderer given"
        raise CmmnetError(f"--renderers {text!r}: {what}; give a comma-separated list of {', '.join(RENDERERS)}")
    return tuple(dict.fromkeys(asked))  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    from ..config import apply_overrides
    from ..data.format import load_dataset
    from ..evaluation.evaluate import EvaluateConfig, Evaluator
    from ..evaluation.methods import find_methods
    from ..evaluation.report import write_report
    from ..io import check_output, claim_dir

    renderers = parse_renderers(args.renderers)
    cfg = apply_overrides(EvaluateConfig(), args.set)
    check_output(args.out)  # before the work
    data = load_dataset(args.data)
    if args.inception is not None and not args.inception.is_file():
        raise CmmnetError(f"{args.inception}: Inception weights not found; convert the FID/IS Inception .pth with "
                          "scripts/convert_inception.py, or leave --inception out to skip the Inception Score")
    methods = []
    for r in args.runs:
        methods += find_methods(r, cfg.device, renderers)
    out: Path = args.out
    claim_dir(out, "evaluate")  # filled bit by bit (its cache makes a re-run fast): marked as ours first
    ev = Evaluator(data, cfg, out / "cache", args.inception)
    real = ev.real()
    results = [ev.method(m, out / "videos") for m in methods]
    cmd = ["cmmnet", "evaluate", "--runs", *map(str, args.runs), "--data", str(args.data), "--out", str(out)]
    cmd += ["--inception", str(args.inception)] if args.inception else []
    cmd += ["--renderers", ",".join(renderers)]
    for item in args.set:
        cmd += ["--set", item]
    info = {"dataset": str(args.data), "seed": cfg.seed, "au_window": cfg.au_window, "command": shlex.join(cmd)}
    report = write_report(out, real, results, info)
    print(report)
    return 0
