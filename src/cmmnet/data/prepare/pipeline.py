"""The shared preparation pipeline of paper §4.1, per video: decode (PyAV / JPEG frames), detect-then-track 68
landmarks, AU12/AU6 intensities (dataset labels or landmark proxies), N2S phases, T frames, face alignment and
binary landmark images; then all videos (in parallel, cached, resumable) into one dataset directory.

Each video's result (its sequences, or the reason it was skipped) is written atomically to
``OUT.cache/<key>.npz`` the moment it is done, so a killed run resumes where it stopped and produces the same
arrays as an uninterrupted one. A cache entry is reused only when the configuration and the source file's size
match (``fingerprint``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from ...errors import CmmnetError, InputFileError
from ...faces import (
    AlignConfig,
    FaceDetector,
    LandmarkDrawConfig,
    align_face,
    draw_landmarks,
    estimate_alignment,
    invert_transform,
    read_image,
    transform_points,
)
from ...video import iter_frames, video_info
from .cache import ItemResult, fingerprint, load_result, save_result
from .items import Item
from .segments import SegmentConfig, find_phases, proxy_intensities, sample_phase, smile_intensity
from .track import TrackConfig, Tracker

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class PrepareConfig:
    seed: int = 0  # splits / folds
    align: AlignConfig = AlignConfig()  # size 64 as in the paper (--size)
    draw: LandmarkDrawConfig = LandmarkDrawConfig()
    segment: SegmentConfig = SegmentConfig()
    track: TrackConfig = TrackConfig()
    # DISFA label files may disagree with the video's frame count by this many frames (cut to the common length);
    # a larger difference skips the video ("label file of the wrong length").
    label_length_tolerance: int = 2
    # A video whose decoded frame count falls short of its container's count by more than this fraction is
    # truncated (skipped).
    truncation_tolerance: float = 0.02
    # A sequence with more than this fraction of its T frames without a tracked face is dropped; fewer missing
    # frames get landmarks interpolated from their neighbours.
    max_missing: float = 0.25
    # DISFA videos hold many expressions: "all" = every smile (every N2S phase) becomes a sequence; "first" = only
    # the first, like the other datasets. The paper segmented DISFA by hand (17 smile videos in total).
    disfa_segments: Literal["all", "first"] = "all"


# ----------------------------------------------------------------------------------------------- per video


def _frames(item: Item) -> Iterator[np.ndarray]:
    if item.frames is not None:
        for p in item.frames:
            yield read_image(p)
    else:
        yield from iter_frames(item.source)


def _interpolate(lms: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill frames without landmarks by linear interpolation in time (nearest valid frame at the ends)."""
    if valid.all():
        return lms
    idx = np.arange(len(lms))
    flat = lms.reshape(len(lms), -1).copy()
    for j in range(flat.shape[1]):
        flat[~valid, j] = np.interp(idx[~valid], idx[valid], flat[valid, j])
    return flat.reshape(lms.shape)


def _align(frame: np.ndarray, lm: np.ndarray, cfg: AlignConfig) -> tuple[np.ndarray, np.ndarray]:
    """Aligned face (S, S, 3) and landmarks (68, 2), warping only the crop that the output square covers (a
    1080p frame is never resized as a whole)."""
    s = cfg.size
    inv = invert_transform(estimate_alignment(lm, cfg))
    corners = transform_points(np.array([[-1.0, -1.0], [s, -1.0], [-1.0, s], [s, s]]), inv)
    h, w = frame.shape[:2]
    x0 = int(np.clip(np.floor(corners[:, 0].min()) - 2, 0, w - 1))
    y0 = int(np.clip(np.floor(corners[:, 1].min()) - 2, 0, h - 1))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()) + 3, x0 + 1, w))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()) + 3, y0 + 1, h))
    aligned = align_face(frame[y0:y1, x0:x1], lm - np.array([x0, y0], np.float32), cfg)
    return aligned.image, aligned.landmarks


def _skip(item: Item, reason: str) -> ItemResult:
    return ItemResult(item.key, "skipped", reason)


def process_item(item: Item, cfg: PrepareConfig, detector: FaceDetector) -> ItemResult:
    """All sequences of one video (or the reason it is skipped)."""
    if item.problem:
        return _skip(item, item.problem)
    is_video = item.frames is None
    # pass 1: landmarks of every frame
    tracker = Tracker(detector, cfg.track)
    rows: list[np.ndarray] = []
    frames = _frames(item)
    try:
        with contextlib.closing(frames):
            for f in frames:
                rows.append(tracker.step(f))
    except InputFileError as e:
        if is_video and rows:
            return _skip(item, f"truncated or damaged video: decoding stopped after frame {len(rows)}")
        msg = str(e).replace(f"'{item.source}'", "").replace(f"{item.source}: ", "").replace(str(item.source), "")
        if is_video:
            return _skip(item, f"truncated or damaged video, no frame decodes ({msg.rstrip(': ')})")
        return _skip(item, msg)
    n = len(rows)
    if n == 0:
        return _skip(item, "no frames could be decoded")
    if is_video:
        expected = int(video_info(item.source)["frames"])
        if expected and n < expected * (1.0 - cfg.truncation_tolerance):
            return _skip(item, f"truncated video: {n} of the {expected} frames its container lists could be decoded")
    lms = np.stack(rows)  # (n, 68, 2) float32, NaN where no face
    valid = np.isfinite(lms).all(axis=(1, 2))
    if not valid.any():
        return _skip(item, f"no face found in any of the {n} frames")
    notes: list[str] = []
    # AU intensities: the dataset's labels, or landmark proxies
    seg = cfg.segment
    if item.au12 is not None:
        m = len(item.au12)
        if abs(m - n) > cfg.label_length_tolerance:
            return _skip(item, f"label file of the wrong length: {Path(item.au_source).name} has {m} frames, "
                               f"the video {n}")
        if m != n:
            notes.append(f"label file has {m} frames, the video {n}: using the first {min(m, n)}")
        n = min(m, n)
        lms, valid = lms[:n], valid[:n]
        au12 = item.au12[:n].astype(np.float32)
        au6 = item.au6[:n].astype(np.float32) if item.au6 is not None else np.zeros(n, np.float32)
        au_source = "labels"
    else:
        au12, au6 = proxy_intensities(lms, seg)
        au_source = "proxies"
    s = smile_intensity(au12, au6, seg)
    phases = find_phases(s, seg)
    if not phases:
        return _skip(item, f"no neutral-to-smile phase: smile intensity ({au_source}) peaks at {np.nanmax(s):.2f}, "
                           f"a phase needs a frame <= {seg.neutral_level} then >= {seg.min_peak}")
    if item.segments == "first":
        phases = phases[:1]
    chosen = []
    for ph in phases:
        idx = sample_phase(ph, n, seg)
        if idx is None:
            return _skip(item, f"only {n} frames, a sequence needs T = {seg.T}")
        miss = int((~valid[idx]).sum())
        if miss > cfg.max_missing * seg.T:
            notes.append(f"phase at frame {ph.start}: face lost in {miss} of its {seg.T} frames; dropped")
            continue
        chosen.append((ph, idx))
    if not chosen:
        return _skip(item, f"face lost in too many frames of every smile ({notes[0].split(': ', 1)[1]})")
    lms = _interpolate(lms, valid)
    # pass 2: decode again up to the last needed frame, align only the needed frames
    needed = sorted({int(i) for _, idx in chosen for i in idx})
    want, last = set(needed), needed[-1]
    faces: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    frames = _frames(item)
    try:
        with contextlib.closing(frames):
            for i, f in enumerate(frames):
                if i in want:
                    faces[i] = _align(f, lms[i], cfg.align)
                if i >= last:
                    break
    except InputFileError as e:
        return _skip(item, f"damaged on the second read ({e})")
    if len(faces) != len(want):
        return _skip(item, f"second read gave {len(faces)} of {len(want)} needed frames")
    size = cfg.align.size
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("faces", "landmarks", "landmark_images", "frame_index",
                                                        "au12", "au6", "phase_start", "phase_length")}
    for ph, idx in chosen:
        face = np.stack([faces[int(i)][0] for i in idx])  # (T, S, S, 3)
        pts = np.stack([faces[int(i)][1] for i in idx]).astype(np.float32)  # (T, 68, 2)
        out["faces"].append(np.ascontiguousarray(face.transpose(0, 3, 1, 2)))  # (T, 3, S, S)
        out["landmarks"].append(pts)
        out["landmark_images"].append(np.stack([draw_landmarks(p, size, cfg.draw) for p in pts]))  # (T, S, S)
        out["frame_index"].append(idx.astype(np.int32))
        out["au12"].append(au12[idx].astype(np.float32))
        out["au6"].append(au6[idx].astype(np.float32))
        out["phase_start"].append(np.int32(ph.start))
        out["phase_length"].append(np.int32(ph.length))
    return ItemResult(item.key, "ok", "", notes, {k: np.stack(v) for k, v in out.items()})


# ----------------------------------------------------------------------------------------------- workers

_DETECTOR: FaceDetector | None = None


def _worker_init() -> None:
    """Ctrl-C is the parent's to report (one line; the pool is terminated when it stops); load the detector once."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _DETECTOR
    _DETECTOR = FaceDetector()


def _run_one(task: tuple[Item, PrepareConfig, Path, str]) -> tuple[str, str]:
    item, cfg, path, fp = task
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = FaceDetector()
    try:
        res = process_item(item, cfg, _DETECTOR)
    except (CmmnetError, ValueError) as e:  # e.g. an unreadable frame file, degenerate landmarks
        res = _skip(item, str(e))
    save_result(path, res, fp)
    return res.key, res.status


def cache_dir_for(out: Path) -> Path:
    return out.parent / f"{out.name}.cache"


def run_items(items: list[Item], cfg: PrepareConfig, cache: Path, workers: int = 1) -> dict[str, ItemResult]:
    """Process every item (reusing cached results), in ``workers`` processes; results by key."""
    cache.mkdir(parents=True, exist_ok=True)
    fps = {it.key: fingerprint(it, cfg) for it in items}
    paths = {it.key: cache / f"{it.key}.npz" for it in items}
    done = {it.key for it in items if load_result(paths[it.key], fps[it.key]) is not None}
    todo = [(it, cfg, paths[it.key], fps[it.key]) for it in items if it.key not in done]
    if done:
        log.info("%d of %d videos already prepared (cache %s)", len(done), len(items), cache)
    with tqdm(total=len(items), initial=len(done), unit="video", desc="prepare", dynamic_ncols=True,
              disable=None) as bar:  # no bar unless stderr is a terminal
        if workers <= 1 or len(todo) <= 1:
            for task in todo:
                _run_one(task)
                bar.update(1)
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(min(workers, len(todo)), initializer=_worker_init) as pool:
                for _ in pool.imap_unordered(_run_one, todo):
                    bar.update(1)
    results = {}
    for it in items:
        res = load_result(paths[it.key], fps[it.key])
        if res is None:
            raise CmmnetError(f"{paths[it.key]}: cache entry missing after processing; delete {cache} and rerun")
        results[it.key] = res
    return results
