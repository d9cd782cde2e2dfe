#!/usr/bin/env python
"""Speed of the warp renderer's refinement network R (the default RefinerConfig, 128 px, fp32, CPU).

    python benchmarks/bench_refiner.py [--threads 1 2] [--repeats 20]

For each thread count: R's parameters, the median and min wall time of one 128 px frame through R (inference,
batch 1 and batch 4 per frame), of one training step per frame (forward + backward + Adam, batch 16), and of the
phase's warped input per frame (:class:`cmmnet.render.WarpRenderer` on a 128 px face, 4 frames of a sequence).
Prints a JSON summary (benchmarks/RESULTS.md ``## Refinement network R`` quotes it).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch

from cmmnet.models.refiner import RefinerConfig, RefinerNet
from cmmnet.sysinfo import cpu_model


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def warp_inputs():
    """A 128 px face (the example photo aligned) and 4 target shapes with the mouth opened, for the warp's cost."""
    from cmmnet.commands.demo_cmd import example_image
    from cmmnet.faces import AlignConfig, FaceDetector, align_face, read_image

    img = read_image(example_image())
    face = FaceDetector().detect(img)
    aligned = align_face(img, face.landmarks, AlignConfig(size=128))
    p0 = aligned.landmarks.astype(np.float64)
    targets = np.repeat(p0[None], 4, 0)
    targets[:, 57:60, 1] += np.linspace(1, 6, 4)[:, None]  # the lower lip moves down
    targets[:, 48, 0] -= np.linspace(0.5, 3, 4)
    targets[:, 54, 0] += np.linspace(0.5, 3, 4)
    return aligned.image, p0, targets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    from cmmnet.render import WarpRenderer

    cfg = RefinerConfig()
    torch.manual_seed(0)
    r = RefinerNet(cfg)
    s = cfg.image_size
    face, p0, targets = warp_inputs()
    out = {"cpu": cpu_model(), "python": platform.python_version(), "torch": torch.__version__,
           "params": sum(p.numel() for p in r.parameters()), "config": {"width": cfg.width, "levels": cfg.levels,
                                                                         "blocks": cfg.blocks, "size": s}}
    for n in args.threads:
        torch.set_num_threads(n)
        row = {}
        r.eval()
        for b in (1, 4):
            x, y = torch.rand(b, 3, s, s) * 2 - 1, torch.zeros(b, 1, s, s)
            with torch.no_grad():
                med, lo = timed(lambda: r.refine(x, y), args.repeats)  # noqa: B023
            row[f"infer_ms_per_frame_b{b}"] = {"median": 1e3 * med / b, "min": 1e3 * lo / b}
        r.train()
        opt = torch.optim.Adam(r.parameters(), lr=1e-4)
        x, y, z = torch.rand(16, 3, s, s) * 2 - 1, torch.zeros(16, 1, s, s), torch.rand(16, 3, s, s) * 2 - 1

        def step(x=x, y=y, z=z, opt=opt):
            refined, m = r.refine(x, y)
            loss = (refined - z).abs().mean() + 0.01 * m.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        med, lo = timed(step, max(3, args.repeats // 4))
        row["train_ms_per_frame_b16"] = {"median": 1e3 * med / 16, "min": 1e3 * lo / 16}
        med, lo = timed(lambda: WarpRenderer(face, p0).render(targets), args.repeats)
        row["warp_input_ms_per_frame"] = {"median": 1e3 * med / len(targets), "min": 1e3 * lo / len(targets)}
        out[f"threads_{n}"] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
