#!/usr/bin/env python
"""Print the landmark generator's acceptance measurements as JSON.

    python scripts/landmark_report.py RUN DATASET [--split test] [--vae-frames 1024] [--out report.json]
        [--stages [--faces ../shared/faces/frl-london]]

RUN is a training run directory (or a directory holding config.json + model.safetensors of a LandmarkGenerator),
DATASET a cmmnet dataset directory (e.g. FRL-Smile). See cmmnet.evaluation.landmark_report for what is measured.
``--stages`` adds ``stages``: where the smile loses realism, stage by stage, in inter-ocular distances, on the
dataset's test people and their photos in ``--faces`` (cmmnet.evaluation.landmark_stages; its ``rows`` only in
``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from _paths import FACES

from cmmnet.config import save_json
from cmmnet.data.format import load_dataset
from cmmnet.errors import CmmnetError
from cmmnet.evaluation.landmark_report import landmark_report
from cmmnet.evaluation.landmark_stages import stage_table
from cmmnet.models.landmark_generator import LandmarkGenerator


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--split", default="test", choices=("train", "test"))
    ap.add_argument("--vae-frames", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--stages", action="store_true", help="also the stage-by-stage table (needs --faces)")
    ap.add_argument("--faces", type=Path, default=FACES, help="NNN_03.jpg / NNN_08.jpg photos (for --stages)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        path = args.run / "landmark_generator" if (args.run / "landmark_generator").is_dir() else args.run
        gen = LandmarkGenerator.from_pretrained(path)
        data = load_dataset(args.data)
        rep = landmark_report(gen, data, args.split, args.vae_frames)
        if args.stages:
            rep["stages"] = stage_table(gen.float(), data, args.faces)
    except CmmnetError as e:
        print(f"landmark_report: error: {e}", file=sys.stderr)
        return 2
    rep = {"run": str(args.run), "data": str(args.data), **rep}
    if args.out:
        save_json(rep, args.out)
    shown = {**rep, "stages": {k: v for k, v in rep["stages"].items() if k != "rows"}} if args.stages else rep
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
