"""Time the full FRL-Smile synthesis: `cmmnet synth` on all 80 FRL people (goal: <= 5 min on 2 cores).

    python benchmarks/bench_synth.py [--faces ../shared/faces/frl-london] [--out DIR] [--workers 2]

Runs the real command in a subprocess and reports its wall-clock time and the CPU time of the command and its
worker processes (getrusage of waited-for children). On a machine shared with other jobs the wall time is
inflated by waiting for the CPU; CPU time / workers is then the estimate of the wall time on idle cores.
Without --out the dataset goes to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cmmnet.sysinfo import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "frl-london")
    ap.add_argument("--out", type=Path, default=None, help="keep the dataset here (default: a temporary dir)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--people", type=int, default=None)
    args = ap.parse_args()

    tmp = None
    out = args.out
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_synth_")
        out = Path(tmp.name) / "frl-smile"
    cmd = ["cmmnet", "synth", "--faces", str(args.faces), "--out", str(out), "--workers", str(args.workers)]
    if args.people:
        cmd += ["--people", str(args.people)]
    load0 = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load1 = os.getloadavg()
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return proc.returncode
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    meta = json.loads((out / "dataset.json").read_text())
    n, t = meta["counts"]["total"], meta["T"]
    result = {
        "command": " ".join(cmd),
        "people": len(meta["subject_names"]),
        "sequences": n,
        "frames": n * t,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_ms_per_frame": round(1000 * cpu / (n * t), 2),
        "idle_estimate_s": round(cpu / args.workers, 1),
        "load_average_start_end": [round(load0[0], 1), round(load1[0], 1)],
        "machine": f"{cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}",
        "counts": meta["counts"],
    }
    print(json.dumps(result, indent=1))
    print(proc.stdout.strip())
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
