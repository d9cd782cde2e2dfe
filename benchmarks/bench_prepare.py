"""Dataset preparation speed on UvA-NEMO-sized video: 1920x1080 H.264 at 50 fps, one core.

Usage: python benchmarks/bench_prepare.py [--faces ../shared/faces/frl-london] [--person 001] [--frames 150]

Writes a 1080p H.264 clip (an FRL-Smile neutral-to-smile rendering of one FRL-London face, scaled to a ~385 px
face box as in UvA-NEMO, drifting a few pixels per frame, neutral before and after) into a temporary folder, then
times, with the process pinned to one CPU and native thread pools at one thread:

- decode: PyAV decoding to RGB (cmmnet.video.iter_frames) alone;
- track: detect-then-track landmarks on frames already decoded (the landmark extraction itself);
- decode + track: pass 1 of the pipeline (what a video costs before the N2S phase is known);
- detect every frame: FaceDetector.detect on each frame (no tracking), for comparison;
- process_item: the whole per-video pipeline (pass 1, N2S phase, pass 2 decoding up to the phase's end,
  alignment of 32 frames, landmark images).

Prints frames/s as wall clock and as CPU time of the process (on a shared, busy machine the CPU time is the fair
number), and the machine.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cmmnet.data.prepare import Item, PrepareConfig, Tracker, process_item  # noqa: E402
from cmmnet.data.synth import render_photo_sequence  # noqa: E402
from cmmnet.faces import FaceDetector  # noqa: E402
from cmmnet.sysinfo import cpu_model  # noqa: E402
from cmmnet.video import iter_frames, write_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def make_video(path: Path, faces: Path, person: str, n: int) -> np.ndarray:
    """Writes the clip; returns the rendered (true) landmarks (n, 68, 2) in video pixels."""
    rise, rise_lm = render_photo_sequence(faces, person, "spontaneous", "mouth_open", seed=0, T=24)
    order = np.r_[[0] * 40, np.arange(24), [23] * 30, np.arange(24)[::-1], [0] * max(0, n - 118)][:n].astype(int)
    side = 1000  # the 512 px photo -> 1000 px: inter-ocular distance ~160 px, face box ~385 px (UvA-NEMO-like)
    scaled = {i: np.asarray(Image.fromarray(rise[i]).resize((side, side), Image.Resampling.BILINEAR))
              for i in set(order.tolist())}
    frames = np.empty((n, 1080, 1920, 3), np.uint8)
    truth = np.empty((n, 68, 2), np.float32)
    k = side / rise.shape[1]
    for t, i in enumerate(order):
        frames[t] = (60, 80, 100)
        dx, dy = int(20 * np.sin(t / 15)), int(8 * np.sin(t / 23)) + 10
        x0, y0 = (1920 - side) // 2 + dx, (1080 - side) // 2 + dy
        frames[t, y0 : y0 + side, x0 : x0 + side] = scaled[i]
        truth[t] = (rise_lm[i] + 0.5) * k - 0.5 + np.array([x0, y0])
    write_video(path, frames, fps=50)
    return truth


def timed(fn) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "frl-london")
    ap.add_argument("--person", default="001")
    ap.add_argument("--frames", type=int, default=150)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / f"{args.person}_spontaneous_smile_1.mp4"
        truth = make_video(video, args.faces, args.person, args.frames)
        det = FaceDetector()
        rows = []

        def decode():
            return [f for f in iter_frames(video)]

        w, c, frames = timed(decode)
        n = len(frames)
        rows.append(("decode (PyAV, RGB)", w, c, n))

        def track_only():
            tr = Tracker(det)
            out = [tr.step(f) for f in frames]
            return out, tr.stats

        w, c, (lms, stats) = timed(track_only)
        lost = int(sum(not np.isfinite(x).all() for x in lms))
        rows.append((f"track ({stats.detections} detections, {lost} frames lost)", w, c, n))

        def decode_track():
            tr = Tracker(det)
            return [tr.step(f) for f in iter_frames(video)]

        w, c, _ = timed(decode_track)
        rows.append(("decode + track (pipeline pass 1)", w, c, n))
        k = min(n, 30)

        def detect_each():
            return [det.detect(f) for f in frames[:k]]

        w, c, faces = timed(detect_each)
        rows.append(("detect every frame (no tracking)", w, c, k))
        iod = np.linalg.norm(truth[:, 36:42].mean(1) - truth[:, 42:48].mean(1), axis=-1)  # (n,)
        err_track = np.linalg.norm(np.stack(lms) - truth, axis=-1).mean(1) / iod  # (n,)
        err_det = np.linalg.norm(np.stack([f.landmarks for f in faces]) - truth[:k], axis=-1).mean(1) / iod[:k]
        frames.clear()  # free the decoded frames before the whole-pipeline run
        item = Item(key="bench", source=video, label="spontaneous", subject="1")
        w, c, res = timed(lambda: process_item(item, PrepareConfig(), det))
        status = res.status + (f": {res.reason}" if res.reason else f", {len(res.arrays['faces'])} sequence")
        rows.append((f"process_item (whole video, {status})", w, c, n))
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores, pinned to 1; Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"Video: 1920x1080 H.264 (libx264 crf 18), 50 fps, {n} frames, FRL-London {args.person} rendered")
    print(f"Landmark error against the rendered landmarks (mean point distance / inter-ocular distance, IOD "
          f"{iod.mean():.0f} px): tracked {err_track.mean():.4f} (first {k} frames {err_track[:k].mean():.4f}, "
          f"worst frame {err_track.max():.4f}); detected every frame (first {k}) {err_det.mean():.4f} "
          f"(worst {err_det.max():.4f})")
    print()
    print("| step | frames | wall | wall frames/s | CPU | CPU frames/s |")
    print("|---|---|---|---|---|---|")
    for name, w, c, k in rows:
        print(f"| {name} | {k} | {w:.2f} s | {k / w:.0f} | {c:.2f} s | {k / c:.0f} |")


if __name__ == "__main__":
    main()
