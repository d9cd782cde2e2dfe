"""`cmmnet show DATASET [--out sheet.png]`: counts, AU proxy curves per label (plot) and a contact sheet.

Argument parsing and reporting only: the work is :mod:`cmmnet.data.show`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..data import load_dataset
from ..data.proxies import au_curves
from ..data.show import contact_sheet, counts_text, dynamics_text, plot_curves
from ..errors import CmmnetError
from ..io import check_output
from ..limits import path_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a dataset's counts and write its AU-curve plot and contact sheet")
    p.add_argument("dataset", type=path_arg)
    p.add_argument("--out", type=path_arg, default=None,
                   help="contact sheet PNG (default ./NAME-sheet.png); the curves go beside it as *-curves.png")
    p.add_argument("--frames", type=int, default=8, help="frames per sequence on the sheet (default 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ds = load_dataset(args.dataset)
    out = args.out or Path(f"{ds.path.resolve().name}-sheet.png")
    if out.suffix.lower() != ".png":
        raise CmmnetError(f"--out {out}: give a .png file name")
    curves_path = out.with_name(f"{out.stem}-curves.png")
    check_output(out, "file")
    check_output(curves_path, "file", "--out (its curves plot)")
    curves = au_curves(np.asarray(ds.landmarks))
    print("\n".join(counts_text(ds) + dynamics_text(ds, curves)))
    plot_curves(ds, curves, curves_path)
    contact_sheet(ds, out, args.frames)
    print(f"wrote {out} (contact sheet) and {curves_path} (AU proxy curves)")
    return 0
