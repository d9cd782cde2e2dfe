#!/usr/bin/env python
"""Print the landmark generator's acceptance measurements (issue 5) as JSON.

    python scripts/landmark_report.py RUN DATASET [--split test] [--vae-frames 1024] [--out report.json]

RUN is a training run directory (or a directory holding config.json + model.safetensors of a LandmarkGenerator),
DATASET a cmmnet dataset directory (e.g. FRL-Smile). See cmmnet.evaluation.landmark_report for what is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from cmmnet.config import save_json
from cmmnet.data.format import load_dataset
from cmmnet.errors import CmmnetError
from cmmnet.evaluation.landmark_report import landmark_report
from cmmnet.models.landmark_generator import LandmarkGenerator


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--split", default="test", choices=("train", "test"))
    ap.add_argument("--vae-frames", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        path = args.run / "landmark_generator" if (args.run / "landmark_generator").is_dir() else args.run
        gen = LandmarkGenerator.from_pretrained(path)
        rep = landmark_report(gen, load_dataset(args.data), args.split, args.vae_frames)
    except CmmnetError as e:
        print(f"landmark_report: error: {e}", file=sys.stderr)
        return 2
    rep = {"run": str(args.run), "data": str(args.data), **rep}
    if args.out:
        save_json(rep, args.out)
    print(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
