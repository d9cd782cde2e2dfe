#!/usr/bin/env python
"""`cmmnet reproduce`: how good the dry-run's estimate is, and what the paper preset costs per epoch.

    python benchmarks/bench_reproduce.py smoke --fixtures ../shared/faces/frl-london [--work DIR]
    python benchmarks/bench_reproduce.py paper [--sequences 1240] [--device cpu|cuda]

``smoke``: writes the three datasets' fixtures in their real layouts (tests/_datasets.py, from FRL-London photos),
takes the dry-run estimate per stage (the same measurement `cmmnet reproduce --dry-run` makes), then runs the whole
reproduction at --preset smoke and prints estimate vs measured seconds per stage and in total.

``paper``: the paper preset (§3.5 schedule, paper-size layers) on a synthetic UvA-NEMO-sized set (``--sequences``
x 32 frames, 64 px; 9 of 10 folds for training): each phase is timed for one epoch on 2 and on 8 synthetic
sequences with the run settings `cmmnet reproduce` passes on this device, the per-sequence cost is extrapolated to
the set's training sequences (per epoch and for the preset's epochs), and the floating-point operations of an
epoch are counted in the same runs (torch's FlopCounterMode, whose small per-operation overhead is inside the
times) for a GPU estimate at an assumed sustained rate (``--gpu-tflops``;
an assumption, not a measurement: measure on the GPU with ``--device cuda``). Prints JSON; paste into
benchmarks/RESULTS.md ``## Reproduction``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from cmmnet.config import apply_overrides
from cmmnet.reproduce import ReproduceConfig, build_plan, check_settings, dataset_specs, run_stages
from cmmnet.reproduce.estimate import count_dataset, estimate_plan, machine, measure_costs
from cmmnet.reproduce.plan import TRAIN_PHASES
from cmmnet.reproduce.stages import device_of, execute, run_overrides
from cmmnet.training.experiment import PRESETS, ExperimentConfig


def smoke(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _datasets import write_disfa, write_disfa_plus, write_uva_nemo

    work = Path(args.work or tempfile.mkdtemp(prefix="bench-reproduce-"))
    frl = Path(args.fixtures)
    roots = {"uva": write_uva_nemo(work / "uva", frl), "disfa": write_disfa(work / "disfa", frl),
             "dplus": write_disfa_plus(work / "dplus", frl)}
    names = sorted(p.name for p in (roots["uva"] / "videos").iterdir())
    for k in range(1, 11):
        (work / "folds" / str(k)).mkdir(parents=True)
        test = {n: "x" for n in names if n.startswith("008_")} if k == 10 else {}
        (work / "folds" / str(k) / "test.json").write_text(json.dumps(test))
        (work / "folds" / str(k) / "train.json").write_text(json.dumps({n: "x" for n in names if n not in test}))
    specs = dataset_specs(roots["uva"], roots["disfa"], roots["dplus"], work / "folds")
    plan = build_plan(specs, work / "out", ReproduceConfig(preset="smoke", device=args.device))
    t0 = time.perf_counter()
    counts = {d.name: count_dataset(d, plan.config.test_fold) for d in plan.datasets}
    costs = measure_costs("smoke", run_overrides(plan), device_of(plan), work / "measure")
    dry_s = time.perf_counter() - t0
    est = {e.stage: e.seconds for e in estimate_plan(plan, counts, costs)}
    check_settings(plan)
    measured = run_stages(plan, lambda s: execute(plan, s, ["bench_reproduce.py"]), say=lambda s: None)
    total_e, total_m = sum(est.values()), sum(measured.values())
    return {"machine": machine(), "dry_run_seconds": round(dry_s, 1),
            "stages": {k: {"estimate": round(est[k], 1), "measured": round(measured[k], 1)} for k in est},
            "total": {"estimate": round(total_e, 1), "measured": round(total_m, 1),
                      "ratio_measured_over_estimate": round(total_m / total_e, 2)}}


def paper(args: argparse.Namespace) -> dict:
    plan = build_plan(dataset_specs(Path("."), None, None, None), Path("unused"),
                      ReproduceConfig(preset="paper", device=args.device))
    overrides = run_overrides(plan)
    exp = apply_overrides(ExperimentConfig(), list(PRESETS["paper"]))
    n_train = round(args.sequences * 9 / 10)
    with tempfile.TemporaryDirectory(prefix="bench-reproduce-") as tmp:
        costs = measure_costs("paper", overrides, device_of(plan), Path(tmp), evaluate=False, count_flops=True)
    flops = costs.flops
    phases = {}
    for p in TRAIN_PHASES:
        lin, epochs = costs.phases[p], getattr(exp, p).epochs
        epoch_s = lin.per_item * n_train
        epoch_flop = flops[p] * n_train
        phases[p] = {"epochs": epochs, "ms_per_sequence": round(lin.per_item * 1e3, 1),
                     "epoch_s": round(epoch_s, 1), "phase_h": round((lin.fixed + epochs * epoch_s) / 3600, 2),
                     "epoch_tflop": round(epoch_flop / 1e12, 2),
                     "gpu_epoch_s_estimate": round(epoch_flop / (args.gpu_tflops * 1e12), 1)}
    return {"machine": machine(), "device": device_of(plan), "run_settings": overrides,
            "sequences": args.sequences, "train_sequences": n_train, "phases": phases,
            "total_h": round(sum(v["phase_h"] for v in phases.values()), 1),
            "gpu_total_h_estimate": round(sum(v["epochs"] * v["gpu_epoch_s_estimate"] for v in phases.values())
                                          / 3600, 2),
            "gpu_assumed_tflops": args.gpu_tflops}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("smoke", "paper"))
    ap.add_argument("--fixtures", help="smoke: the FRL-London folder the fixtures are rendered from")
    ap.add_argument("--work", help="smoke: working folder (default: a new temporary one)")
    ap.add_argument("--sequences", type=int, default=1240, help="paper: sequences of the synthetic set (UvA-NEMO)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--gpu-tflops", type=float, default=100.0,
                    help="paper: assumed sustained bf16 rate of the GPU for the estimate (TFLOP/s)")
    args = ap.parse_args()
    print(json.dumps(smoke(args) if args.mode == "smoke" else paper(args), indent=2))


if __name__ == "__main__":
    main()
