#!/usr/bin/env python
"""Fit the face-shape plausibility model shipped as ``src/cmmnet/assets/face_shape_model.json``.

    python scripts/fit_face_shape_model.py [FACES_DIR] [--k 6]

Detects the 68 landmarks of every ``*.jpg`` in FACES_DIR (default: ../shared/faces/frl-london, the 160 neutral
and smiling photos of the Face Research Lab London set) and fits :func:`cmmnet.faces.plausibility.fit_shape_model`
(mean shape, k modes, the set's largest residual and Mahalanobis length). Prints every photo's shape ratio.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _paths import FACES, ROOT

from cmmnet.faces import FaceDetector, read_image
from cmmnet.faces.plausibility import MODEL_NAME, _score, fit_shape_model
from cmmnet.io import atomic_write_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("faces", nargs="?", type=Path, default=FACES)
    ap.add_argument("--k", type=int, default=6, help="model modes (default 6)")
    args = ap.parse_args()
    det = FaceDetector()
    photos = sorted(args.faces.glob("*.jpg"))
    found = [det.detect(read_image(p), str(p)) for p in photos]
    model = fit_shape_model(np.stack([f.landmarks for f in found]), args.k)
    model["source"] = f"{len(photos)} photos of {args.faces.name}"
    scores = [f.score for f in found]
    model["detector_scores"] = [round(min(scores), 3), round(max(scores), 3)]
    for p, f in zip(photos, found):
        print(f"{p.name}: ratio {_score(model, f.landmarks).ratio:.2f}, detector {f.score:.2f}")
    atomic_write_text(ROOT / "src" / "cmmnet" / "assets" / MODEL_NAME, json.dumps(model) + "\n")


if __name__ == "__main__":
    main()
