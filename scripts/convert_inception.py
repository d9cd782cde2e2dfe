#!/usr/bin/env python3
"""One-off: convert the common FID/IS Inception-v3 weights (.pth) to .safetensors for `cmmnet evaluate --inception`.

Usage::

    python scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception.safetensors

The input is the file distributed with pytorch-fid (a port of TensorFlow's 2015-12-05 Inception graph, 1008
classes) or torchvision's ``inception_v3_google-*.pth`` (1000 classes); get it yourself, nothing is downloaded
here. This script is the only place in cmmnet that opens a ``.pth``, and it does so with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers (no code runs). The
output is checked against cmmnet's Inception-v3 (:func:`cmmnet.models.inception.load_inception`) before it is
kept; ``AuxLogits`` entries are dropped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def convert(src: Path, dst: Path) -> int:
    from cmmnet.errors import CmmnetError
    from cmmnet.models.inception import load_inception
    from cmmnet.models.io import save_state

    if not src.is_file():
        raise CmmnetError(f"{src}: not found")
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds here (pickle, zip, unsupported global)
        raise CmmnetError(f"{src}: not a plain tensor state dict readable with weights_only=True ({e})") from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CmmnetError(f"{src}: expected a dict of tensors (an Inception-v3 state dict)")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    if dst.suffix != ".safetensors":
        raise CmmnetError(f"{dst}: the output name must end in .safetensors")
    save_state(state, dst, metadata={"source": src.name})
    try:
        model = load_inception(dst)
    except CmmnetError:
        dst.unlink()
        raise
    print(f"wrote {dst}: Inception-v3, {model.config.num_classes} classes, variant {model.config.variant}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="the .pth file (e.g. pt_inception-2015-12-05-6726825d.pth)")
    parser.add_argument("dst", type=Path, help="output .safetensors file")
    args = parser.parse_args(argv)
    from cmmnet.errors import CmmnetError

    try:
        return convert(args.src, args.dst)
    except CmmnetError as e:
        print(f"convert_inception: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
