#!/usr/bin/env python
"""Identity, apex SSIM and mode diversity of `cmmnet generate` on FRL-Smile test people.

    python scripts/generation_report.py [--weights DIR] [--data /work/data/frl-smile]
        [--faces ../shared/faces/frl-london] [--labels posed,spontaneous] [--out report.json]

For each test person of the dataset (its "test" split) the real neutral photo ``NNN_03.jpg`` goes through the whole
pipeline (:meth:`cmmnet.CMMNet.generate`, the default K) for each label, and:

- ``identity_distance`` (cmmnet.evaluation): dlib's 128-D face descriptor distance between the input photo
  (aligned at 256x256 from the full-resolution photo) and every generated frame (64x64, upscaled 4x, nearest, by
  the metric), averaged over frames, sequences and people; also against the 64x64 aligned input
  (``identity_distance_64``), which isolates what G loses from what the 64 px resolution loses. dlib's
  same-person threshold is 0.6; the target is <= 0.5.
- ``apex_ssim`` (cmmnet.evaluation ``ssim``): the apex frame of the conditional sequence (largest AU12 proxy,
  lip-corner distance) against the person's real smiling photo ``NNN_08.jpg`` aligned at 64x64 (target >= 0.80);
  ``apex_ssim_best_mode``: the best of the K + 1 sequences' apexes; ``neutral_vs_smile_ssim``: the real neutral
  vs the real smiling photo (what "no motion at all" would score), for context; ``oracle_landmarks_ssim``: G fed
  the real smiling photo's own (aligned) landmarks instead of generated ones — the ceiling that better landmarks
  alone could reach with this translator; ``apex_to_smile_px`` / ``neutral_to_smile_px``: RMS distance (px at
  64x64, all 68 points) of the conditional apex's / the neutral photo's landmarks to the real smile's — how close
  the generated smile comes to the one the photo shows; ``mean_smile_ssim``: G fed the neutral landmarks plus the
  mean neutral-to-smile displacement of the *train* people's photos (the best predictor of the typical smile) —
  what a landmark generator that knew the average smile but not this person's would score.
- ``mode_diversity`` (cmmnet.evaluation): mean pairwise RMS landmark distance (px at 64x64) between the K modes,
  and the mean neutral-to-apex displacement for scale.
- the smile measures (:mod:`cmmnet.evaluation.smile_measures`, the definitions of shared/tools/smile_quality.py, in
  inter-ocular distances against plain dlib on the full-resolution photos): ``no_motion`` / ``typical_smile``
  baselines, ``cond_apex``, ``best_apex``, ``lm_gain`` vs ``real_gain``, ``apex_frame``, ``mode_mouth_pts`` /
  ``mode_eyes_pts`` / ``min_mode_gain``, ``jitter``, ``onset_s`` (10-90 % of the mouth-width gain of the
  conditional row at the weights' frame rate, which the default video keeps); all on the T generated frames as
  they are (``TimingConfig.as_generated``); summarised as medians (``smile_measures``, with
  ``cond_better_than_no_motion`` and per label) beside ``data_jitter`` (the test sequences' own jitter), the
  representation's round trip (``round_trip``: draw, encode, read back; :mod:`cmmnet.evaluation.landmark_stages`)
  and the modes against the dataset's hidden styles (``styles``: purity, NMI; :mod:`cmmnet.evaluation.landmark_report`).
- ``predictability`` (:mod:`cmmnet.evaluation.smile_ceilings`): how close predictors fitted on the train people's
  photos come to the test people's real smiles from the neutral shape alone (the typical smile, a ridge
  regression, the best of K + 1 fixed smiles): the bounds for ``cond_apex`` and ``best_apex``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _paths import DATA, FACES

from cmmnet.data import load_dataset
from cmmnet.data.proxies import au12_proxy
from cmmnet.evaluation import smile_measures as sm
from cmmnet.evaluation.landmark_report import landmark_report
from cmmnet.evaluation.landmark_stages import load_people, read_stages
from cmmnet.evaluation.metrics import FaceDescriptor, identity_distance, mode_diversity, ssim
from cmmnet.evaluation.smile_ceilings import smile_predictability
from cmmnet.faces import align_face, draw_landmarks, read_image
from cmmnet.faces.pipeline import process_image
from cmmnet.generate import CMMNet, GenerateConfig, TimingConfig
from cmmnet.io import atomic_write_text


def chw(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(a, -1, -3))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=None, help="run dir with landmark_generator/ + translator/")
    ap.add_argument("--data", type=Path, default=DATA, help="FRL-Smile (for the split)")
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--labels", default="posed,spontaneous")
    ap.add_argument("--people", type=int, default=0, help="at most this many test people (0 = all)")
    ap.add_argument("--renderer", choices=("paper", "warp"), default="paper",
                    help="what makes the frames measured (warp: the warp renderer's frames aligned at 64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the report JSON here")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    data = load_dataset(args.data)
    test = data.subset("test")
    names = data.subject_names
    people = sorted({names[s] for s in np.asarray(test.subjects)})
    if args.people:
        people = people[:args.people]
    net = CMMNet.from_pretrained(args.weights, GenerateConfig(renderer=args.renderer))
    train_people = sorted({names[s] for s in np.asarray(data.subset("train").subjects)})
    mean_disp = _mean_smile_displacement(args.faces, train_people)  # (68, 2)
    if mean_disp is None:
        print("no train people's photos found (for the mean smile)", file=sys.stderr)
        return 2
    desc = FaceDescriptor()
    labels = args.labels.split(",")
    real = {p.name: p for p in load_people(args.faces, people)}  # plain dlib on the full-resolution photos
    train_real = load_people(args.faces, train_people)
    typical_disp = sm.typical_displacement(np.stack([p.real_neutral for p in train_real]),
                                           np.stack([p.real_smile for p in train_real]))  # (68, 2) canonical
    rows = []
    for pid, neutral_path, smile_path in photo_pairs(args.faces, people):
        if pid not in real:
            print(f"skip {pid}: no face in its photos", file=sys.stderr)
            continue
        smile_aligned = process_image(smile_path, net.front_end).aligned  # aligned as G's faces
        smile = smile_aligned.image  # (64, 64, 3) the real smiling photo, aligned
        photo = read_image(neutral_path)
        for label in labels:
            # the T generated frames as they are: the measures compare them with the data at its own rate
            res = net.generate(neutral_path, label, seed=args.seed, timing=TimingConfig.as_generated(net.T))
            big = align_face(photo, _file_landmarks(res), replace(net.front_end.align, size=256))  # the photo at 256
            frames = chw(res.frames)  # (K+1, T, 3, 64, 64)
            id_photo = identity_distance(np.repeat(chw(big.image)[None], len(frames), 0),
                                         np.repeat(big.landmarks[None], len(frames), 0), frames, res.points,
                                         descriptor=desc)
            id_64 = identity_distance(np.repeat(chw(res.neutral_face)[None], len(frames), 0),
                                      np.repeat(res.neutral_landmarks[None], len(frames), 0), frames, res.points,
                                      descriptor=desc)
            apex = au12_proxy(res.points).argmax(axis=1)  # (K+1,) apex frame per sequence
            apex_frames = frames[np.arange(len(frames)), apex]  # (K+1, 3, 64, 64)
            per_seq = [ssim(apex_frames[i][None, None], chw(smile)[None, None])["ssim"] for i in range(len(frames))]
            oracle_y = draw_landmarks(smile_aligned.landmarks, smile.shape[0], net.front_end.draw)[None]  # (1, S, S)
            oracle = net.translate(oracle_y.astype(np.float32), res.neutral_face, smile_aligned.landmarks[None],
                                   res.neutral_landmarks)[0]  # (S, S, 3)
            typical = (res.neutral_landmarks + mean_disp).astype(np.float32)  # (68, 2) the average smile
            typical_y = draw_landmarks(typical, smile.shape[0], net.front_end.draw)[None].astype(np.float32)
            mean_smile = net.translate(typical_y, res.neutral_face, typical[None], res.neutral_landmarks)[0]
            disp = np.sqrt(((res.points[0, apex[0]] - res.points[0, 0]) ** 2).sum(-1)).mean()
            rows.append({
                "person": pid, "label": label,
                "identity_distance": id_photo["identity_distance"], "identity_same": id_photo["identity_same"],
                "identity_distance_64": id_64["identity_distance"],
                "apex_ssim": per_seq[0], "apex_ssim_best_mode": max(per_seq),
                "neutral_vs_smile_ssim": ssim(chw(res.neutral_face)[None, None], chw(smile)[None, None])["ssim"],
                "oracle_landmarks_ssim": ssim(chw(oracle)[None, None], chw(smile)[None, None])["ssim"],
                "mean_smile_ssim": ssim(chw(mean_smile)[None, None], chw(smile)[None, None])["ssim"],
                "mode_diversity_px": mode_diversity(res.points[None, 1:])["mode_diversity"],
                "neutral_to_apex_px": float(disp),
                "apex_to_smile_px": _rms(res.points[0, apex[0]], smile_aligned.landmarks),
                "neutral_to_smile_px": _rms(res.neutral_landmarks, smile_aligned.landmarks),
                **sm.generation_measures(res.points, real[pid].real_neutral, real[pid].real_smile, typical_disp),
                "onset_s": sm.onset_seconds(res.points[0], net.fps),  # the default video keeps this speed
            })
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}),
                  flush=True)
    if not rows:
        print("no test people found", file=sys.stderr)
        return 2
    keys = [k for k in rows[0] if k not in ("person", "label")]
    summary = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    by_label = {lab: {k: float(np.mean([r[k] for r in rows if r["label"] == lab])) for k in keys} for lab in labels}
    lg = net.landmark_generator.float()
    tested = [real[r["person"]] for r in rows if r["label"] == labels[0]]
    landmarks = {"smile_measures": sm.summarize(rows),
                 "data_jitter": sm.sequence_jitter(np.asarray(test.landmarks)),
                 "predictability": smile_predictability(
                     np.stack([p.real_neutral for p in train_real]), np.stack([p.real_smile for p in train_real]),
                     np.stack([p.real_neutral for p in tested]), np.stack([p.real_smile for p in tested]),
                     modes=net.landmark_generator.cfg.modes, seed=args.seed),
                 "round_trip": read_stages(lg, np.stack([p.neutral for p in tested]),
                                           np.stack([p.smile for p in tested])),
                 "styles": landmark_report(lg, data, "test", max_vae_frames=64, seed=args.seed).get("styles")}
    report = {"weights": net.weights, "data": str(args.data), "people": len(people), "labels": labels,
              "seed": args.seed, "mean": summary, "by_label": by_label, **landmarks, "rows": rows,
              "seconds": round(time.perf_counter() - t_start, 1)}
    print(json.dumps({"mean": summary, "by_label": by_label, **landmarks}, indent=1))
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    return 0


def photo_pairs(faces: Path, people: list[str]):
    """``(person, neutral photo, smiling photo)`` of each person in ``faces`` (``NNN_03.jpg``, ``NNN_08.jpg``); a
    person without both is skipped with a message."""
    for pid in people:
        neutral_path, smile_path = faces / f"{pid}_03.jpg", faces / f"{pid}_08.jpg"
        if not neutral_path.is_file() or not smile_path.is_file():
            print(f"skip {pid}: photos not found", file=sys.stderr)
            continue
        yield pid, neutral_path, smile_path


def _mean_smile_displacement(faces: Path, people: list[str]) -> np.ndarray | None:
    """Mean (68, 2) aligned landmark displacement from ``NNN_03.jpg`` (neutral) to ``NNN_08.jpg`` (smile)."""
    from cmmnet.faces import FaceDetector

    det = FaceDetector()
    disp = [process_image(faces / f"{p}_08.jpg", detector=det).aligned.landmarks
            - process_image(faces / f"{p}_03.jpg", detector=det).aligned.landmarks
            for p in people if (faces / f"{p}_03.jpg").is_file() and (faces / f"{p}_08.jpg").is_file()]
    return np.mean(disp, axis=0) if disp else None


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance (px) between two (68, 2) landmark sets."""
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


def _file_landmarks(res) -> np.ndarray:
    """The input face's landmarks in photo pixels (inverse of the alignment)."""
    from cmmnet.faces import invert_transform, transform_points

    return transform_points(res.neutral_landmarks, invert_transform(res.transform))


if __name__ == "__main__":
    sys.exit(main())
