#!/usr/bin/env python
"""What dlib sees of the generated smile in the rendered video, against the landmarks' own smile.

    python scripts/seen_report.py [--weights DIR] [--data /work/data/frl-smile]
        [--faces ../shared/faces/frl-london] [--encodings raw,18,12] [--people N] [--out report.json]

For each test person of the dataset (its "test" split) the real neutral photo ``NNN_03.jpg`` goes through
:meth:`cmmnet.CMMNet.generate` (the defaults of ``cmmnet generate``: warp renderer, K, timing) for each label, and the
conditional video is read as ``cmmnet generate`` writes it (:func:`cmmnet.generate.outputs.write_sequence`) once per
encoding: ``raw`` the frames before encoding (:func:`~cmmnet.generate.outputs.sequence_frames`), a number the H.264 CRF
(the default video is :class:`~cmmnet.generate.outputs.OutputConfig`'s). Per generation: ``lm_gain``, the conditional
landmarks' mouth-width gain (its widest frame's lip-corner distance over frame 0's, minus 1, as
:func:`cmmnet.evaluation.smile_measures.generation_measures` takes it), and per encoding ``seen_<enc>``, the gain dlib
reads on the frames (:func:`~cmmnet.evaluation.smile_measures.seen_gain`, the definition of
shared/tools/smile_quality.py), ``held_<enc>``, a reading of it that one frame's noise moves less
(:func:`~cmmnet.evaluation.smile_measures.held_gain`: medians over the frames that hold the smile and the neutral ones;
a diagnostic, not the reference's definition) and ``kib_<enc>`` the file's size. Summary per encoding: the medians of
the seen gain and of the ratio seen / landmarks, which generations fall under 85 % of the landmarks' gain, and the same
for the held reading. How far one generation's reading moves between nearly identical renderings (``spread``: max -
min over the encodings) says how much of a single reading is dlib's noise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from _paths import DATA, FACES

from cmmnet.data import load_dataset
from cmmnet.data.proxies import lip_corner_distance
from cmmnet.evaluation import smile_measures as sm
from cmmnet.generate import CMMNet
from cmmnet.generate.outputs import OutputConfig, sequence_frames, write_sequence
from cmmnet.io import atomic_write_text

SHOWN = 0.85  # the share of the landmarks' gain the video should show


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of a video file, (H, W, 3) uint8 RGB."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def readings(res, encodings: list[str]) -> dict[str, float | int | None]:
    """``seen_<enc>`` and ``held_<enc>`` (and ``kib_<enc>`` for a CRF) of the conditional video of ``res`` for each
    encoding."""
    out: dict[str, float | int | None] = {}
    for enc in encodings:
        if enc == "raw":
            widths = sm.seen_widths(sequence_frames(res, 0, OutputConfig()))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = write_sequence(res, 0, Path(tmp) / "conditional.mp4", OutputConfig(crf=int(enc)))
                out[f"kib_{enc}"] = path.stat().st_size // 1024
                widths = sm.seen_widths(decoded(path))
        out[f"seen_{enc}"] = sm.widest_gain(widths)
        out[f"held_{enc}"] = sm.held_gain(widths, res.points[0])
    return out


def shown(rows: list[dict], key: str) -> dict:
    """The median of the ratio reading ``key`` / the landmarks' gain over the generations that have the reading, and
    those under :data:`SHOWN`."""
    ok = [r for r in rows if r[key] is not None]
    ratio = [r[key] / r["lm_gain"] for r in ok]
    return {"ratio": float(np.median(ratio)) if ok else None,
            "under": [f"{r['person']} {r['label']} {q:.0%}" for r, q in zip(ok, ratio) if q < SHOWN]}


def summary(rows: list[dict], encodings: list[str]) -> dict:
    out = {}
    for enc in encodings:
        ok = [r for r in rows if r[f"seen_{enc}"] is not None]
        out[enc] = {"seen_gain": float(np.median([r[f"seen_{enc}"] for r in ok])) if ok else None,
                    **shown(rows, f"seen_{enc}"), "no_face_in_frame_0": len(rows) - len(ok),
                    "held": shown(rows, f"held_{enc}")}
    spreads = [np.ptp([r[f"seen_{e}"] for e in encodings]) for r in rows
               if all(r[f"seen_{e}"] is not None for e in encodings)]
    out["lm_gain"] = float(np.median([r["lm_gain"] for r in rows]))
    if len(encodings) > 1 and spreads:
        out["spread"] = {"median": float(np.median(spreads)), "max": float(np.max(spreads))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=None, help="weights directory (default: the shipped ones)")
    ap.add_argument("--data", type=Path, default=DATA, help="FRL-Smile (for the split)")
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--labels", default="posed,spontaneous")
    ap.add_argument("--encodings", default=str(OutputConfig().crf),
                    help="comma-separated: raw (frames before encoding) and/or H.264 CRFs (default: the videos')")
    ap.add_argument("--people", type=int, default=0, help="at most this many test people (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the report JSON here")
    args = ap.parse_args(argv)
    encodings = args.encodings.split(",")
    bad = [e for e in encodings if e != "raw" and not (e.isdigit() and 0 <= int(e) <= 51)]
    if bad:
        print(f"--encodings: {','.join(bad)} is neither raw nor a CRF 0-51", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    data = load_dataset(args.data)
    names = data.subject_names
    people = sorted({names[s] for s in np.asarray(data.subset("test").subjects)})[:args.people or None]
    net = CMMNet.from_pretrained(args.weights)
    rows = []
    for pid in people:
        photo = args.faces / f"{pid}_03.jpg"
        if not photo.is_file():
            print(f"skip {pid}: {photo} not found", file=sys.stderr)
            continue
        for label in args.labels.split(","):
            res = net.generate(photo, label, seed=args.seed)
            widths = lip_corner_distance(res.points[0].astype(np.float64))  # (N,)
            rows.append({"person": pid, "label": label, "lm_gain": float(widths.max() / widths[0] - 1),
                         **readings(res, encodings)})
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()}),
                  flush=True)
    if not rows:
        print("no test people found", file=sys.stderr)
        return 2
    report = {"weights": net.weights, "encodings": encodings, "seed": args.seed,
              "summary": summary(rows, encodings), "rows": rows, "seconds": round(time.perf_counter() - t_start, 1)}
    print(json.dumps(report["summary"], indent=1))
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
