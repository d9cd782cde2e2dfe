#!/usr/bin/env python
"""Print where a landmark generator loses realism, stage by stage (data, reading points, VAE round trip, generation
retargeted onto the person), in inter-ocular distances, as JSON.

    python scripts/landmark_stages.py RUN DATASET [--faces ../shared/faces/frl-london] [--out stages.json]

RUN is a training run directory or a LandmarkGenerator directory (config.json + model.safetensors); DATASET gives the
test people (its "test" split) and the typical smile (its "train" people). See cmmnet.evaluation.landmark_stages.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cmmnet.config import save_json
from cmmnet.data.format import load_dataset
from cmmnet.errors import CmmnetError
from cmmnet.evaluation.landmark_stages import stage_table
from cmmnet.models.landmark_generator import LandmarkGenerator

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "frl-london")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    try:
        path = args.run / "landmark_generator" if (args.run / "landmark_generator").is_dir() else args.run
        rep = stage_table(LandmarkGenerator.from_pretrained(path).float(), load_dataset(args.data), args.faces,
                          args.seed)
    except CmmnetError as e:
        print(f"landmark_stages: error: {e}", file=sys.stderr)
        return 2
    rep = {"run": str(args.run), "data": str(args.data), **rep}
    if args.out:
        save_json(rep, args.out)
    print(json.dumps({k: v for k, v in rep.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
