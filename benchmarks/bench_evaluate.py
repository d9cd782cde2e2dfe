#!/usr/bin/env python3
"""Time `cmmnet evaluate` per test sequence: the real-video measurement and each method (generation + SSIM +
frame landmarks + identity), CPU time and wall clock, then the extrapolation to FRL-Smile's test split.

    python benchmarks/bench_evaluate.py --data DATASET [--runs RUN ...] [--sequences 16] [--width 1.0]

Without ``--runs``, CRA-Net and Video-GAN are timed with freshly initialised weights at ``--width`` (1.0 = the
paper's architectures; generation cost does not depend on training). With ``--runs`` (e.g. a CMM-Net run, or
``default``), the methods found there are timed too, CMM-Net with each renderer of ``cmmnet evaluate``'s default
``--renderers`` (the first row generates the landmark sequences, the next ones reuse them). No Inception (IS adds
~1 s per frame on a 2-core CPU; see docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch


def _baseline_run(out: Path, data, width: float) -> Path:
    from cmmnet.models.cra_net import CRANet, CRANetConfig
    from cmmnet.models.io import save_pretrained
    from cmmnet.models.video_gan import VideoGANConfig, VideoGANGenerator

    torch.manual_seed(0)
    c = CRANetConfig(image_size=data.image_size, T=data.T, label_names=tuple(data.label_names), width=width)
    save_pretrained(CRANet(c).eval(), c, out / "cra_net", name="CRANet")
    for label in data.label_names:
        v = VideoGANConfig(image_size=data.image_size, T=data.T, label=label, width=width)
        save_pretrained(VideoGANGenerator(v).eval(), v, out / "video_gan" / label, name="VideoGANGenerator")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--runs", nargs="*", type=Path, default=[])
    ap.add_argument("--sequences", type=int, default=16, help="test sequences timed")
    ap.add_argument("--width", type=float, default=1.0, help="baseline width when --runs is not given")
    ap.add_argument("--full-test", type=int, default=192, help="test-split size to extrapolate to")
    args = ap.parse_args()

    from cmmnet.commands.evaluate_cmd import RENDERERS
    from cmmnet.config import apply_overrides
    from cmmnet.data import load_dataset
    from cmmnet.evaluation.evaluate import EvaluateConfig, Evaluator
    from cmmnet.evaluation.methods import find_methods

    data = load_dataset(args.data)
    cfg = apply_overrides(EvaluateConfig(), [f"max_sequences={args.sequences}"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or [_baseline_run(Path(tmp) / "run", data, args.width)]
        methods = [m for r in runs for m in find_methods(r, renderers=RENDERERS)]
        ev = Evaluator(data, cfg, Path(tmp) / "cache")
        n = len(ev.rows)
        t, c = time.perf_counter(), time.process_time()
        ev.boxes()
        rows.append(("HOG box per sequence (once)", time.process_time() - c, time.perf_counter() - t))
        t, c = time.perf_counter(), time.process_time()
        ev.real()
        rows.append(("Original (measure real videos)", time.process_time() - c, time.perf_counter() - t))
        for m in methods:
            t, c = time.perf_counter(), time.process_time()
            ev.method(m, None)
            rows.append((f"{m.name} (generate + measure)", time.process_time() - c, time.perf_counter() - t))
    print(f"{n} test sequences of {args.data} (T={data.T}, {data.image_size}px); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {platform.processor() or platform.machine()}")
    print(f"| stage | CPU s / sequence | wall s / sequence | wall for {args.full_test} sequences |")
    print("|---|---|---|---|")
    total = 0.0
    for name, cpu, wall in rows:
        total += wall / n * args.full_test
        print(f"| {name} | {cpu / n:.3f} | {wall / n:.3f} | {wall / n * args.full_test / 60:.1f} min |")
    print(f"| total | | | {total / 60:.1f} min |")


if __name__ == "__main__":
    main()
