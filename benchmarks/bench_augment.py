#!/usr/bin/env python3
"""Throughput of `cmmnet augment` (photos per minute) on this machine's cores with the shipped weights.

    python benchmarks/bench_augment.py [--people 80] [--workers 0] [--modes K] [--faces ../shared/faces/frl-london]

The FRL-London neutral photos (NNN_03.jpg) are linked into a temporary folder tree; every photo gives both labels x
(K + 1) videos of the default clip. Prints the wall time, photos per minute and videos per minute, and the CPU
time of this process and its workers (on a shared machine, wall clock is inflated by other jobs; photos per
CPU-minute x cores is what an idle machine gives).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=80)
    ap.add_argument("--workers", type=int, default=0, help="0 = one per core")
    ap.add_argument("--modes", type=int, default=None, help="K (default: the weights')")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "frl-london")
    args = ap.parse_args()
    from cmmnet.augment import AugmentConfig, augment, read_manifest
    from cmmnet.augment.run import default_workers
    from cmmnet.generate import GenerateConfig

    photos = sorted(args.faces.glob("*_03.jpg"))[:args.people]
    with tempfile.TemporaryDirectory(prefix="bench-augment-") as tmp:
        images = Path(tmp) / "images"
        for p in photos:  # ten people per folder, as a tree
            d = images / f"group_{int(p.stem[:3]) // 10}"
            d.mkdir(parents=True, exist_ok=True)
            os.symlink(p, d / p.name)
        s = augment(images, Path(tmp) / "out", None, AugmentConfig(modes=args.modes, workers=args.workers),
                    GenerateConfig(device="cpu", precision="fp32"))
        cpu = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                      resource.getrusage(resource.RUSAGE_CHILDREN)))
        videos = sum(r["skipped"] is None for r in read_manifest(s.manifest))
    workers = args.workers or default_workers()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; {workers} workers")
    print(f"| photos | items | videos | skipped | wall | photos/min | videos/min | CPU (all processes) | "
          f"photos per CPU-min |\n|---|---|---|---|---|---|---|---|---|\n"
          f"| {s.photos} | {s.items} | {videos} | {len(s.skipped)} | {s.seconds:.0f} s | {s.photos_per_minute:.1f} | "
          f"{60 * videos / s.seconds:.1f} | {cpu:.0f} s | {60 * s.photos / cpu:.2f} |")


if __name__ == "__main__":
    main()
