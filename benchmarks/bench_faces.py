"""Face front end speed: dlib HOG detection + 68 landmarks per 512x512 FRL photo, on one core.

Usage: python benchmarks/bench_faces.py [--faces ../shared/faces/frl-london] [--repeat 3]

Times ``FaceDetector.detect`` (detection, upsampling retries when needed, landmarks) on the decoded images of
the 80 neutral photos; JPEG decoding is not included. The process is pinned to one CPU and native thread pools
are limited to one thread; torch is not imported. Prints the median and p90 in ms, as wall clock and as the
thread's CPU time (on a shared, busy machine the CPU time is the fairer number), and the machine.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cmmnet.faces import DetectorConfig, FaceDetector, read_image  # noqa: E402
from cmmnet.sysinfo import cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "frl-london")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the photos (after one warm-up)")
    ap.add_argument("--detect-max-side", type=int, default=DetectorConfig.detect_max_side)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core
    photos = sorted(args.faces.glob("*_03.jpg"))
    if not photos:
        raise SystemExit(f"{args.faces}: no NNN_03.jpg photos found; pass --faces")
    images = [read_image(p) for p in photos]
    cfg = DetectorConfig(detect_max_side=args.detect_max_side)
    det = FaceDetector(cfg)
    for img in images:  # warm-up
        det.detect(img)
    wall, cpu = [], []
    for _ in range(args.repeat):
        for img in images:
            t0, c0 = time.perf_counter(), time.thread_time()
            det.detect(img)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
    sizes = {img.shape[:2] for img in images}
    print(f"photos: {len(images)} neutral, sizes {sorted(sizes)}; {cfg}")
    for what, times in (("wall", wall), ("CPU", cpu)):
        per_photo = np.median(np.array(times).reshape(args.repeat, len(images)), axis=0)  # (n_photos,)
        print(f"detection + landmarks per photo ({what} time): median {np.median(per_photo):.1f} ms, "
              f"p90 {np.percentile(per_photo, 90):.1f} ms (one core, median of {args.repeat} passes per photo)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores visible, pinned to 1; Python {platform.python_version()}")


if __name__ == "__main__":
    main()
