#!/usr/bin/env python
"""Training speed of the landmark generator phases: sequences/s per phase, fp32 and bf16 autocast.

    python benchmarks/bench_landmark.py [--data /work/data/frl-smile] [--preset cpu] [--threads N] [--steps 4]
                                        [--set key=value ...] [--device cpu]

For each phase (vae, lstm, multimode) and precision, runs the phase's real training step (the loss modules of
cmmnet.training.landmark, Adam, gradient clipping) on batches of the dataset's train split with the preset's batch
size and frames per sequence, one warm-up step then ``--steps`` timed steps, and reports sequences per second (a
"sequence" = one train sequence's share of an epoch: its T frames or ``frames_per_sequence`` sampled frames for
the VAE; one conditional + K mode sequences for the others) from the median step's wall and process CPU time,
and the projected epoch and phase times on this dataset. On a shared machine compare CPU times (``--threads 1``:
CPU time = compute, not waiting). Prints JSON (paste into benchmarks/RESULTS.md ``## Landmark generator training``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from cmmnet.commands.train_cmd import resolve_config
from cmmnet.data.format import load_dataset
from cmmnet.models.landmark_generator import LandmarkGenerator
from cmmnet.runtime import autocast, choose_device
from cmmnet.sysinfo import cpu_model
from cmmnet.training.batches import distinct_frames
from cmmnet.training.landmark import _SequenceStep, _VAEStep


def bench_phase(phase: str, cfg, imgs: torch.Tensor, labels: torch.Tensor, precision: str, steps: int,
                device: torch.device) -> dict[str, float]:
    torch.manual_seed(0)
    gen = LandmarkGenerator(cfg.landmark_generator).to(device).train()
    n, t = imgs.shape[:2]
    rng = np.random.default_rng(0)
    if phase == "vae":
        pc = cfg.vae
        mod = _VAEStep(gen, pc.kl_weight)
        params = list(gen.vae.parameters())
        f = pc.frames_per_sequence if 0 < pc.frames_per_sequence < t else t
        per_step = pc.batch_size / f  # sequences' worth of images per step
    else:
        pc = cfg.lstm if phase == "lstm" else cfg.multimode
        multi = phase == "multimode"
        kw = dict(recon_weight=pc.recon_weight, pull_weight=pc.pull_weight, push_weight=pc.push_weight) if multi else {}
        mod = _SequenceStep(gen, cfg.vae.kl_weight, pc.vae_weight, multi, **kw)
        params = [p for p in mod.parameters()]
        per_step = pc.batch_size
    opt = torch.optim.Adam(params, lr=1e-4)

    def step() -> None:
        if phase == "vae":
            idx = rng.integers(0, n, pc.batch_size)
            fr = rng.integers(0, t, pc.batch_size)
            y = imgs[idx, fr].float()[:, None].to(device)
            with autocast(device, precision):
                out = mod(y)
        else:
            idx = torch.from_numpy(rng.integers(0, n, pc.batch_size))
            y = imgs[idx].float()[:, :, None].to(device)
            fr = torch.from_numpy(distinct_frames(len(idx), t, pc.frames_per_sequence, 0, phase, "frames", 0, 0, 0))
            fr = fr.to(device)
            with autocast(device, precision):
                out = mod(y, labels[idx].to(device), fr)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    step()  # warm-up (oneDNN primitives)
    walls, cpus = [], []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    wall, cpu = float(np.median(walls)), float(np.median(cpus))
    seq_s, seq_s_cpu = per_step / wall, per_step / cpu
    return {"seq_per_s": round(seq_s, 2), "seq_per_cpu_s": round(seq_s_cpu, 2), "step_s": round(wall, 3),
            "cpu_step_s": round(cpu, 3), "epoch_s": round(n / seq_s, 1), "cpu_epoch_s": round(n / seq_s_cpu, 1),
            "epochs": pc.epochs, "phase_min": round(n / seq_s * pc.epochs / 60, 1),
            "cpu_phase_min": round(n / seq_s_cpu * pc.epochs / 60, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/data/frl-smile")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[])
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads; 0 = the preset's run.num_threads")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--phases", default="vae,lstm,multimode")
    ap.add_argument("--precisions", default="fp32,bf16")
    args = ap.parse_args()
    device = choose_device(args.device)
    data = load_dataset(args.data)
    cfg = resolve_config(data, args.preset, args.overrides)
    threads = args.threads or cfg.run.num_threads
    if threads:
        torch.set_num_threads(threads)
    train = data.subset("train")
    imgs = torch.from_numpy(np.ascontiguousarray(train.landmark_images))
    labels = torch.from_numpy(np.asarray(train.labels, dtype=np.int64))
    res: dict = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
                             "device": str(device), "torch": torch.__version__,
                             "load_avg": [round(x, 1) for x in os.getloadavg()]},
                 "data": str(args.data), "train_sequences": int(imgs.shape[0]), "preset": args.preset,
                 "overrides": args.overrides, "phases": {}}
    for phase in args.phases.split(","):
        for prec in args.precisions.split(","):
            res["phases"][f"{phase}/{prec}"] = bench_phase(phase, cfg, imgs, labels, prec, args.steps, device)
            print(phase, prec, res["phases"][f"{phase}/{prec}"], flush=True)
    for prec in args.precisions.split(","):
        for key in ("phase_min", "cpu_phase_min"):
            res[f"total_{key}/{prec}"] = round(sum(v[key] for k, v in res["phases"].items()
                                                   if k.endswith("/" + prec)), 1)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
