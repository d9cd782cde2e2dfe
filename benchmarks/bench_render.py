#!/usr/bin/env python
"""Speed and memory of the warp renderer (the default of `cmmnet generate`) against the paper's renderer.

    python benchmarks/bench_render.py [--threads 2] [--repeats 5] [--process-runs 3]

1. In process, ``CMMNet.generate`` (detection, landmarks, rendering; detector and weights loaded) of the bundled
   example photo on a 512 x 512 canvas, K = 3 (4 clips of the default length), every frame read once (the warp
   renderer renders its frames when they are read; the clips in parallel, as the encoders read them), with
   ``--renderer warp`` (whole-photo frames) and ``--renderer paper`` (64 px faces); median and min wall time and
   the median CPU time (the machine is shared: CPU time shows what waiting for a core hides); ``render_ms``: the
   warp renderer's part alone (:meth:`CMMNet.render_warp` on the generated points, one clip after another).
2. The whole process ``cmmnet generate --image PHOTO_512 --label posed --out TMP`` (the default warp renderer),
   median of a few runs: wall time, and CPU time (the process's and its face front end's: half of it is the least
   wall time 2 cores allow).
3. A 4000 x 3000 photo (the example scaled to 3000 px high on such a canvas): the whole process's wall time and
   its peak resident memory (the largest of the process and its face front end, ``getrusage(RUSAGE_CHILDREN)``'s
   ``ru_maxrss`` in a fresh parent).
Prints a JSON summary (benchmarks/RESULTS.md ``## Rendering`` quotes it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cmmnet.generate import CMMNet, GenerateConfig
from cmmnet.sysinfo import cpu_model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "cmmnet" / "assets" / "example.jpg"


def timed(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall_median_ms": 1e3 * statistics.median(wall), "wall_min_ms": 1e3 * min(wall),
            "cpu_median_ms": 1e3 * statistics.median(cpu)}


def generate_all(net: CMMNet, image: Path) -> None:
    """``net.generate`` on ``image`` (K = 3) with every frame of every clip read once, the clips in parallel
    threads as `cmmnet generate`'s encoders read them."""
    res = net.generate(image, "posed", modes=3, seed=0)
    if res.video is not None:
        with ThreadPoolExecutor(len(res.video)) as pool:
            list(pool.map(lambda k: sum(1 for _ in res.video.frames(k)), range(len(res.video))))


def photo(path: Path, size: tuple[int, int]) -> Path:
    """The example photo scaled (Lanczos, aspect kept) to fill ``size`` (w, h) in height, centred on a plain
    background of that size, saved as a JPEG at ``path``."""
    example = Image.open(EXAMPLE).convert("RGB")
    w, h = size
    scaled = example.resize((min(w, round(example.width * h / example.height)), h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, (40, 60, 110))
    canvas.paste(scaled, ((w - scaled.width) // 2, 0))
    canvas.save(path, quality=92)
    return path


PEAK = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True); u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(p.returncode, time.perf_counter() - t, u.ru_maxrss, u.ru_utime + u.ru_stime)")


def process(image: Path, out: Path, threads: int) -> tuple[float, float, float]:
    """Wall seconds, peak resident MiB and CPU seconds (with its face front end's) of one ``cmmnet generate``
    process (run from a fresh parent)."""
    cmd = [sys.executable, "-m", "cmmnet.cli", "generate", "--image", str(image), "--label", "posed",
           "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    rc, wall, kib, cpu = subprocess.run([sys.executable, "-c", PEAK, *cmd], capture_output=True, text=True,
                                        env=env, check=True).stdout.split()
    if rc != "0":
        raise RuntimeError(f"cmmnet generate failed on {image}")
    return float(wall), int(kib) / 1024, float(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--process-runs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": args.threads,
                             "python": platform.python_version(), "torch": torch.__version__,
                             "load_avg_start": os.getloadavg()}}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        p512 = photo(tmp / "photo512.jpg", (512, 512))
        for renderer in ("warp", "paper"):
            net = CMMNet.from_pretrained(None, GenerateConfig(device="cpu", renderer=renderer))
            net.generate(p512, "posed", modes=3, seed=0)  # detector loaded, warm
            out[f"generate_512_{renderer}"] = timed(lambda net=net: generate_all(net, p512), args.repeats)
            out["precision"] = net.precision
            if renderer == "warp":
                res = net.generate(p512, "posed", modes=3, seed=0)
                image = np.asarray(Image.open(p512).convert("RGB"))
                out["render_ms"] = timed(lambda net=net, r=res, image=image: net.render_warp(
                    image, r.video_transform, r.neutral_landmarks, r.points), args.repeats)
                out["video_shape"] = list(res.video.shape)
        runs = [process(p512, tmp / f"o{i}", args.threads) for i in range(args.process_runs)]
        out["process_512_s"] = {"median": statistics.median(r[0] for r in runs), "min": min(r[0] for r in runs),
                                "cpu_median": statistics.median(r[2] for r in runs)}
        big = photo(tmp / "photo4000.jpg", (4000, 3000))
        runs = [process(big, tmp / f"b{i}", args.threads) for i in range(args.process_runs)]
        out["process_4000x3000"] = {"wall_median_s": statistics.median(r[0] for r in runs),
                                    "cpu_median_s": statistics.median(r[2] for r in runs),
                                    "peak_rss_median_mib": statistics.median(r[1] for r in runs),
                                    "peak_rss_max_mib": max(r[1] for r in runs)}
    out["machine"]["load_avg_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
