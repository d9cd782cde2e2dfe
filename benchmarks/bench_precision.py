#!/usr/bin/env python
"""fp32 against bf16 autocast on this CPU: one training step of the shipped translator's recipe.

    python benchmarks/bench_precision.py [--threads 1] [--repeats 3]

The step of the `translation` phase as `scripts/train_default_weights.sh` runs it: G (U-Net, width 0.5) and D
(patch discriminator, width 0.5), batch 32 at 64 px, D's update on real and generated pairs, then G's on
100 x L1 + the adversarial term, Adam; random tensors (the step's cost does not depend on the pixels). Median and
min wall time per step for each precision, and whether this CPU has bf16 hardware (``cmmnet.runtime.native_bf16``:
AMX tiles or AVX512-BF16); without it torch emulates bf16. Prints a JSON summary (benchmarks/RESULTS.md,
``## Precision``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from cmmnet.models.patch_discriminator import PatchDiscriminator, PatchDiscriminatorConfig
from cmmnet.models.unet import UNetConfig, UNetGenerator
from cmmnet.runtime import autocast, cpu_kind, native_bf16
from cmmnet.sysinfo import cpu_model


def step_fn(precision: str, batch: int):
    torch.manual_seed(0)
    g, d = UNetGenerator(UNetConfig(width=0.5)), PatchDiscriminator(PatchDiscriminatorConfig(width=0.5))
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    z0, z = torch.rand(batch, 3, 64, 64) * 2 - 1, torch.rand(batch, 3, 64, 64) * 2 - 1  # (B, 3, 64, 64)
    y = (torch.rand(batch, 1, 64, 64) > 0.9).float()  # (B, 1, 64, 64) landmark image
    cpu = torch.device("cpu")

    def step() -> None:
        with autocast(cpu, precision):
            fake = g(y, z0)  # (B, 3, 64, 64)
            real_logits, fake_logits = d(z0, z), d(z0, fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        opt_d.zero_grad(set_to_none=True)
        loss_d.float().backward()
        opt_d.step()
        with autocast(cpu, precision):
            logits = d(z0, fake)
            loss_g = 100 * (fake - z).abs().mean() + F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        opt_g.zero_grad(set_to_none=True)
        loss_g.float().backward()
        opt_g.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = {"cpu": cpu_model(), "cpu_kind": list(cpu_kind()), "native_bf16": native_bf16(torch.device("cpu")),
              "torch": torch.__version__, "python": platform.python_version(), "threads": args.threads,
              "batch": args.batch}
    for precision in ("fp32", "bf16"):
        step = step_fn(precision, args.batch)
        step()  # warm-up (oneDNN primitive creation)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
        result[f"{precision}_step_median_s"] = round(statistics.median(times), 3)
        result[f"{precision}_step_min_s"] = round(min(times), 3)
    result["bf16_over_fp32"] = round(result["bf16_step_median_s"] / result["fp32_step_median_s"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
