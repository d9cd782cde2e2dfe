#!/usr/bin/env python
"""Make the smile shading map shipped as ``src/cmmnet/assets/smile_shading/`` (:mod:`cmmnet.render.shading`).

    python scripts/make_smile_shading.py [--faces ../shared/faces/frl-london] [--data /work/data/frl-smile]
        [--out src/cmmnet/assets/smile_shading]

For each train person of FRL-Smile's split (the test people stay unseen) with both photos ``NNN_03.jpg`` (neutral)
and ``NNN_08.jpg`` (smiling): the front end's landmarks of both, the smile's placed in the neutral photo by the eye
alignment of each; the warp renderer (no shading) moves the neutral photo onto them; the frame and the smiling
photo are aligned at the map's size by those landmarks, and their log luminance ratio goes into the mean
(:func:`cmmnet.render.shading.log_ratio`), brought onto the people's mean smiling shape by an affine fit of its
landmarks (:func:`~cmmnet.render.shading.fit_affine`), and averaged (:func:`~cmmnet.render.shading.mean_log_ratio`).
Deterministic.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
from _paths import DATA, FACES, ROOT

from cmmnet.data import load_dataset
from cmmnet.data.proxies import lip_corner_distance
from cmmnet.faces import FaceDetector, invert_transform, read_image, transform_points, warp_image
from cmmnet.faces.align import compose_transforms, estimate_alignment
from cmmnet.faces.pipeline import process_image
from cmmnet.render import WarpRenderer
from cmmnet.render.config import WarpRenderConfig
from cmmnet.render.shading import (
    ShadingConfig,
    SmileShading,
    fit_affine,
    log_ratio,
    mean_log_ratio,
    resample,
    save_shading,
)
from cmmnet.training.run import git_revision


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--data", type=Path, default=DATA, help="FRL-Smile (for its train split)")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "cmmnet" / "assets" / "smile_shading")
    args = ap.parse_args(argv)
    data = load_dataset(args.data)
    names = data.subject_names
    people = sorted({names[s] for s in np.asarray(data.subset("train").subjects)})
    cfg = ShadingConfig()
    render = WarpRenderConfig(shading="none", refine="off")
    detector = FaceDetector()
    ratios, skins, gains, neutrals, smiles = [], [], [], [], []
    for pid in people:
        paths = [args.faces / f"{pid}_{k}.jpg" for k in ("03", "08")]
        if not all(p.is_file() for p in paths):
            print(f"skip {pid}: photos not found", file=sys.stderr)
            continue
        neutral, smile = (process_image(p, detector=detector).face.landmarks.astype(np.float64) for p in paths)
        photo, smile_photo = read_image(paths[0]), read_image(paths[1])
        # the smile's landmarks in the neutral photo, placed by the eyes of each
        target = transform_points(smile, compose_transforms(invert_transform(estimate_alignment(neutral, cfg.align)),
                                                            estimate_alignment(smile, cfg.align)))
        frame = WarpRenderer(photo, neutral, render).render(target[None])[0]
        to_map = estimate_alignment(target, cfg.align)
        warped = warp_image(frame, to_map, cfg.align.size)
        smiling = warp_image(smile_photo, estimate_alignment(smile, cfg.align), cfg.align.size)
        points = transform_points(target, to_map)  # (68, 2) the smile in the map's frame
        ratio, skin = log_ratio(smiling, warped, points, cfg)
        ratios.append(ratio)
        skins.append(skin)
        neutrals.append(transform_points(neutral, to_map))
        smiles.append(points)
        gains.append(float(lip_corner_distance(smile) / lip_corner_distance(neutral) - 1))
        print(f"{pid}: gain {gains[-1]:.3f}, ratio {ratio.min():+.3f} .. {ratio.max():+.3f}", flush=True)
    if not ratios:
        print("no train people with both photos found", file=sys.stderr)
        return 2
    cfg = ShadingConfig(gain=float(np.mean(gains)), people=len(ratios),
                        source=f"{args.faces.name}: the {len(ratios)} train people of FRL-Smile's split "
                               f"({args.data.name}), neutral and smiling photos")
    mean_smile, mean_neutral = np.mean(smiles, 0), np.mean(neutrals, 0)  # (68, 2) each
    # each person's ratio and skin brought onto the mean smiling shape (the affine fit of their smile's points)
    fits = [fit_affine(mean_smile, p) for p in smiles]  # mean frame -> the person's
    ratios = [resample(r, m, (cfg.align.size,) * 2) for r, m in zip(ratios, fits)]
    skins = [resample(k, m, (cfg.align.size,) * 2) for k, m in zip(skins, fits)]
    shading = SmileShading(mean_log_ratio(ratios, skins, cfg.min_cover), mean_neutral.astype(np.float32),
                           mean_smile.astype(np.float32), cfg)
    save_shading(shading, args.out, {"command": shlex.join(["python", "scripts/make_smile_shading.py", *sys.argv[1:]]),
                                     "git_revision": git_revision(ROOT)})
    print(f"wrote {args.out}: {cfg.people} people, mean gain {cfg.gain:.3f}, log ratio "
          f"{shading.log_ratio.min():+.3f} .. {shading.log_ratio.max():+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
