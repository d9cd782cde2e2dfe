#!/usr/bin/env python
"""Export trained runs as the default weights shipped in ``src/cmmnet/assets/weights/``.

    python scripts/export_default_weights.py LM_RUN TR_RUN [--refiner-run RUN] [--dest DIR] [--dtype auto|fp16|fp32]

Copies ``LM_RUN/landmark_generator/`` and ``TR_RUN/translator/`` (each ``config.json`` + ``model.safetensors``)
into ``DEST/landmark_generator/`` and ``DEST/translator/`` (listed in ``DEST/model_index.json``), and with
``--refiner-run`` the warp renderer's refinement network ``RUN/refiner/`` into ``DEST/refiner/``, converting
floating-point tensors to fp16 where that keeps quality (``--dtype auto``, the default): each model is checked on
the bundled example photo, fp16 against fp32 (translator: mean |frame difference| <= 0.5 grey levels with the paper
renderer; refiner: the same with the warp renderer; landmark generator: mean point difference <= 0.1 px), and kept
in fp32 when the check fails. Writes ``DEST/provenance.json``
(source runs, their git revisions and commands, hashes, dtypes, check results) and fails when the total size
exceeds 40 MB. The destination is replaced atomically.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from cmmnet.generate import LANDMARK_DIR, TRANSLATOR_DIR, CMMNet, GenerateConfig
from cmmnet.io import atomic_dir
from cmmnet.models.io import CONFIG_NAME, WEIGHTS_NAME, load_state, save_state, update_model_index, weights_hash
from cmmnet.training.refinement import PART as REFINER_DIR

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 40 * 1024 * 1024
EXAMPLE = ROOT / "src" / "cmmnet" / "assets" / "example.jpg"


def convert(src: Path, dst: Path, dtype: torch.dtype) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / CONFIG_NAME, dst / CONFIG_NAME)
    state = load_state(src / WEIGHTS_NAME)
    save_state({k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}, dst / WEIGHTS_NAME)


def compare(base32: Path, base16: Path, renderer: str = "paper") -> dict[str, float]:
    """Generate on the example photo with fp32 and fp16-stored weights (both run in fp32) and compare (``paper``:
    the translator's frames; ``warp``: the warp renderer's, with the refiner)."""
    cfg = GenerateConfig(device="cpu", precision="fp32", renderer=renderer)
    a = CMMNet.from_pretrained(base32, cfg).generate(EXAMPLE, 0, seed=0)
    b = CMMNet.from_pretrained(base16, cfg).generate(EXAMPLE, 0, seed=0)
    return {"frame_mean_abs_diff": float(np.abs(a.frames.astype(np.float32) - b.frames.astype(np.float32)).mean()),
            "points_mean_abs_diff_px": float(np.abs(a.points - b.points).mean())}


def git_info(run: Path) -> dict:
    try:
        hist = json.loads((run / "run.json").read_text())
        return {"run": str(run.resolve()), "git_revision": hist[-1].get("git_revision"),
                "command": hist[-1].get("command"), "starts": len(hist)}
    except (OSError, ValueError, IndexError, AttributeError):
        return {"run": str(run.resolve())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lm_run", type=Path, help="run directory holding landmark_generator/")
    ap.add_argument("tr_run", type=Path, help="run directory holding translator/")
    ap.add_argument("--refiner-run", type=Path, default=None,
                    help="run directory holding refiner/ (the warp renderer's refinement network; default: none)")
    ap.add_argument("--dest", type=Path, default=ROOT / "src" / "cmmnet" / "assets" / "weights")
    ap.add_argument("--dtype", choices=("auto", "fp16", "fp32"), default="auto")
    args = ap.parse_args(argv)
    srcs = {LANDMARK_DIR: args.lm_run / LANDMARK_DIR, TRANSLATOR_DIR: args.tr_run / TRANSLATOR_DIR}
    if args.refiner_run is not None:
        srcs[REFINER_DIR] = args.refiner_run / REFINER_DIR
    for d in srcs.values():
        if not (d / WEIGHTS_NAME).is_file() or not (d / CONFIG_NAME).is_file():
            print(f"export: {d} has no {CONFIG_NAME} + {WEIGHTS_NAME}; train that phase first", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        for name, d in srcs.items():
            convert(d, tmp / "fp32" / name, torch.float32)
            convert(d, tmp / "fp16" / name, torch.float16)
            update_model_index(tmp / "fp32", name)
        checks: dict[str, dict[str, float]] = {}
        dtypes = {n: "fp16" if args.dtype == "fp16" else "fp32" for n in srcs}
        if args.dtype == "auto":
            # one model at a time in fp16, the other in fp32: each decision is its own
            for name, limit_key, limit, renderer in ((TRANSLATOR_DIR, "frame_mean_abs_diff", 0.5, "paper"),
                                                     (LANDMARK_DIR, "points_mean_abs_diff_px", 0.1, "paper"),
                                                     (REFINER_DIR, "frame_mean_abs_diff", 0.5, "warp")):
                if name not in srcs:
                    continue
                mixed = tmp / f"mixed-{name}"
                for n in srcs:
                    shutil.copytree(tmp / ("fp16" if n == name else "fp32") / n, mixed / n)
                    update_model_index(mixed, n)  # the refiner is found by its class in the index
                checks[name] = compare(tmp / "fp32", mixed, renderer)
                dtypes[name] = "fp16" if checks[name][limit_key] <= limit else "fp32"
        with atomic_dir(args.dest) as out:
            for name in srcs:
                shutil.copytree(tmp / dtypes[name] / name, out / name)
                update_model_index(out, name)
            total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            if total > MAX_BYTES:
                raise SystemExit(f"export: {total / 1e6:.1f} MB > 40 MB; train a smaller translator (width)")
            prov = {
                "landmark_generator": {**git_info(args.lm_run), "dtype": dtypes[LANDMARK_DIR],
                                       "hash": weights_hash(out / LANDMARK_DIR),
                                       "fp16_check": checks.get(LANDMARK_DIR)},
                "translator": {**git_info(args.tr_run), "dtype": dtypes[TRANSLATOR_DIR],
                               "hash": weights_hash(out / TRANSLATOR_DIR), "fp16_check": checks.get(TRANSLATOR_DIR)},
                **({"refiner": {**git_info(args.refiner_run), "dtype": dtypes[REFINER_DIR],
                                "hash": weights_hash(out / REFINER_DIR), "fp16_check": checks.get(REFINER_DIR)}}
                   if REFINER_DIR in srcs else {}),
                "total_bytes": total,
                "trained_by": "scripts/train_default_weights.sh",
            }
            (out / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(json.dumps(prov, indent=1))
    print(f"exported to {args.dest} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
