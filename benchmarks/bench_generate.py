#!/usr/bin/env python
"""Speed of generation: in-process K = 3, fp32 vs bf16 autocast, and the whole `cmmnet generate` process.

    python benchmarks/bench_generate.py [--weights DIR] [--threads 2] [--repeats 10] [--device cpu]

1. In process, ``CMMNet.generate_aligned`` (landmark generator + G on (K+1) x T = 128 frames) on the bundled
   example photo's aligned face, K = 3, ``torch.set_num_threads(threads)``; fp32 and bf16 autocast; median and
   min wall time and CPU time (the machine is shared: CPU time shows what waiting for a core hides); the SSIM of
   the bf16 frames against the fp32 frames (cmmnet.evaluation ssim); also ``CMMNet.generate`` on the photo
   (+ dlib detection/alignment, detector already loaded).
   ``stages_*``: the whole landmark part (networks + reading points, as ``CMMNet.landmark_batch``), with a
   shape-model read-out also its networks (VAE encode, LSTMs, decode of 128 images) and the point fit alone, and G
   on 128 frames, each on its own.
2. The whole process ``cmmnet generate --image example.jpg --label posed --out TMP`` (default ``--precision auto``:
   bf16 on an AMX CPU or a GPU; Python start, imports,
   loading weights and dlib models, generation, four H.264 videos, sheet, meta), median of a few runs.
The paper's renderer (G) throughout; the warp renderer's speed: benchmarks/bench_render.py.
Prints a JSON summary (paste the numbers into benchmarks/RESULTS.md ``## Generation``).
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
from pathlib import Path

import numpy as np
import torch

from cmmnet.evaluation.metrics import ssim
from cmmnet.generate import CMMNet, GenerateConfig
from cmmnet.sysinfo import cpu_model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "cmmnet" / "assets" / "example.jpg"


def timed(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up (oneDNN primitive creation)
    wall, cpu = [], []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall_median_ms": 1e3 * statistics.median(wall), "wall_min_ms": 1e3 * min(wall),
            "cpu_median_ms": 1e3 * statistics.median(cpu)}


def stages(net: CMMNet, aligned, repeats: int) -> dict[str, float]:
    """Median wall ms of each stage of ``generate_aligned`` for K = 3 (128 frames), at the net's precision:
    ``landmark_part_ms`` the whole landmark part (:meth:`CMMNet.landmark_batch`: networks + reading points);
    with a shape-model read-out (``readout="fit"``) also its networks (decode included) and the point fit alone."""
    lg = net.landmark_generator
    out = {"landmark_part_ms": timed(lambda: net.landmark_batch(aligned.landmarks[None], ["posed"], 3, 0),
                                     repeats)["wall_median_ms"]}
    drawn = np.zeros((128, net.image_size, net.image_size), np.float32)
    init = torch.from_numpy(aligned.landmarks).float()[None].expand(len(drawn), -1, -1)  # (128, 68, 2)
    if lg.readout is None:
        y0 = torch.from_numpy(lg.draw_neutral(aligned.landmarks))[None, None]  # (1, 1, S, S)
        label = torch.tensor([0])
        with torch.no_grad(), net.autocast():
            images = lg.generate_batch(y0, label, 3, 0, fit_points=False)["images"][0].float()  # (4, T, S, S)
        flat = images.reshape(-1, *images.shape[2:])  # (128, S, S)

        def networks():
            with torch.no_grad(), net.autocast():
                lg.generate_batch(y0, label, 3, 0, fit_points=False)

        out["landmark_networks_ms"] = timed(networks, repeats)["wall_median_ms"]
        out["point_fit_ms"] = timed(lambda: lg.points.fit(flat, init=init, iterations=net.config.point_fit_iterations),
                                    repeats)["wall_median_ms"]
    out["translator_ms"] = timed(lambda: net.translate(drawn, aligned.image, init.numpy(), aligned.landmarks),
                                 repeats)["wall_median_ms"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--process-runs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": args.threads,
                             "python": platform.python_version(), "torch": torch.__version__,
                             "device": args.device, "load_avg": os.getloadavg()}}
    frames = {}
    for prec in ("fp32", "bf16"):
        net = CMMNet.from_pretrained(args.weights, GenerateConfig(precision=prec, device=args.device, renderer="paper"))
        aligned, _, _, _ = net.align(EXAMPLE)
        res = net.generate_aligned(aligned.image, aligned.landmarks, "posed", modes=3, seed=0)
        frames[prec] = res.frames
        out[f"generate_aligned_{prec}"] = timed(
            lambda net=net, a=aligned: net.generate_aligned(a.image, a.landmarks, "posed", modes=3, seed=0),
            args.repeats)
        out[f"generate_photo_{prec}"] = timed(lambda net=net: net.generate(EXAMPLE, "posed", modes=3, seed=0),
                                              max(3, args.repeats // 2))
        out["frames_shape"] = list(res.frames.shape)
        out[f"stages_{prec}"] = stages(net, aligned, args.repeats)
    chw = [np.moveaxis(frames[p], -1, -3) for p in ("bf16", "fp32")]  # (K+1, T, 3, S, S)
    out["ssim_bf16_vs_fp32"] = ssim(chw[0], chw[1])["ssim"]
    out["max_abs_diff_bf16_vs_fp32"] = int(np.abs(frames["bf16"].astype(int) - frames["fp32"].astype(int)).max())
    runs = []
    for _ in range(args.process_runs):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "cmmnet.cli", "generate", "--image", str(EXAMPLE), "--label", "posed",
                   "--device", args.device, "--out", str(Path(tmp) / "o")]
            if args.weights:
                cmd += ["--weights", str(args.weights)]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            runs.append(time.perf_counter() - t0)
    out["process_wall_s"] = {"median": statistics.median(runs), "min": min(runs), "runs": len(runs)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
