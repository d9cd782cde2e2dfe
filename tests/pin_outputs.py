#!/usr/bin/env python
"""Measure what tests/test_pinned_outputs.py pins, on this machine, after a change that moves the outputs on purpose.

    python tests/pin_outputs.py                      # this CPU kind's hashes, each row marked same / moved
    python tests/pin_outputs.py --write-reference    # also rewrite tests/data/generation_reference.npz

Paste the printed rows into the tables under this CPU kind (``cmmnet.runtime.cpu_kind``). Rows of kinds this machine
is not cannot be measured here: a change that moves the outputs removes them (a stale row fails on its kind).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import test_pinned_outputs as pins  # noqa: E402
from cmmnet.io import atomic_write_bytes  # noqa: E402
from cmmnet.runtime import cpu_kind, native_bf16  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-reference", action="store_true", help=f"rewrite {pins.REFERENCE}")
    args = ap.parse_args()
    import torch

    kind = cpu_kind()
    pinned_arrays = pins.PINNED_ARRAYS.get(kind, {})
    pinned_files = pins.PINNED_FILES.get(kind, {})
    print(f"CPU kind {kind}")
    for renderer, precision, timing in pins.ARRAY_ROWS:
        if precision == "bf16" and not native_bf16(torch.device("cpu")):
            continue
        got = pins.array_hashes(renderer, precision, timing)
        same = "same" if pinned_arrays.get((renderer, precision, timing)) == got else "moved"
        print(f"{(renderer, precision, timing)!r}: {got!r},  # {same}")
    for options in pins.FILE_ROWS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            subprocess.run(pins.generate_command(options, out), check=True, capture_output=True,
                           env={**os.environ, "OMP_NUM_THREADS": "2"})
            names = next(rows[options] for rows in pins.PINNED_FILES.values() if options in rows)
            got = {name: pins._sha((out / name).read_bytes()) for name in names}
        same = "same" if pinned_files.get(options) == got else "moved"
        print(f"{options!r}: {got!r},  # {same}")
    if args.write_reference:
        import io

        buf = io.BytesIO()
        np.savez_compressed(buf, **pins.reference_arrays())
        pins.REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(pins.REFERENCE, buf.getvalue())
        print(f"wrote {pins.REFERENCE}")


if __name__ == "__main__":
    main()
